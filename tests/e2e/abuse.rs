//! Login abuse against the real server: per-address connection limits,
//! the per-account penalty, PROXY v2 and ID `x-originating-ip` only from
//! trusted networks, and the log lines an operator's tools read.
//!
//! The harness exempts 127.0.0.1 from the per-address limits (other tests
//! open many connections from it); these tests connect from other loopback
//! addresses (127.0.0.2, 127.0.1.2, ...), which Linux routes to the same
//! listener.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};

use mailkeep_testkit::{BlockingClient, ClientError, Status};
use ppp::v2::{Addresses, Builder, Command, Protocol, Version};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::server::Server;
use crate::harness::{DEADLINE, TestDir};

const USER: &str = "alice";
const PASS: &str = "alice-pw";

/// A TCP connection to `to` from the local address `from`.
async fn socket_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let from: IpAddr = from.parse().map_err(std::io::Error::other)?;
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// An IMAP client connected from `from` (greeting read and checked).
fn client_from(server: &Server<'_>, from: &str) -> Result<BlockingClient<TcpStream>, ClientError> {
    let to = server.addr;
    let from = from.to_owned();
    let mut client = BlockingClient::over(async move || socket_from(&from, to).await)?;
    client.set_timeout(DEADLINE);
    Ok(client)
}

/// A plain socket from `from` to `to`.
fn raw_from(from: &str, to: SocketAddr) -> std::net::TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(socket_from(from, to)).unwrap();
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (a reset,
/// which closing with unread input makes, counts as closed).
fn read_to_close(mut stream: std::net::TcpStream) -> String {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading until the server closes: {e}"),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Connections not logged in yet are capped per address
/// (`max_unauthenticated_per_address`); the next one is answered BYE and
/// closed, while other addresses, exempt ones and the same address after
/// one of its connections logged in are served.
#[test]
fn unauthenticated_connections_are_capped_per_address() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "max_unauthenticated_per_address = 3");
    server.add_user(USER, PASS);

    let mut waiting: Vec<_> = (0..3)
        .map(|_| client_from(&server, "127.0.0.2").expect("below the limit"))
        .collect();
    let refused = read_to_close(raw_from("127.0.0.2", server.addr));
    assert!(
        refused.starts_with("* BYE Too many connections"),
        "the fourth connection from 127.0.0.2 got {refused:?}"
    );
    client_from(&server, "127.0.0.3").expect("another address is served");
    let _exempt: Vec<_> = (0..5).map(|_| server.connect()).collect();

    // Logging in frees a place among those waiting.
    let r = waiting[0].login(USER, PASS).expect("LOGIN");
    assert!(r.is_ok(), "{r:?}");
    client_from(&server, "127.0.0.2").expect("a place was freed by the login");
}

/// One user may have `max_connections_per_user_address` (10 by default)
/// logged-in connections from one address: the 11th login is refused
/// with `NO [LIMIT]`, another address is not affected, and a LOGOUT frees
/// a place. Each connection's end is logged with user, address, duration,
/// bytes and commands.
#[test]
fn the_eleventh_login_of_a_user_from_one_address_is_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);

    let mut sessions = Vec::new();
    for _ in 0..10 {
        let mut c = client_from(&server, "127.0.0.2").expect("connecting");
        let r = c.login(USER, PASS).expect("LOGIN");
        assert!(r.is_ok(), "{r:?}\n{}", server.logs());
        sessions.push(c);
    }
    let mut eleventh = client_from(&server, "127.0.0.2").expect("connecting");
    let r = eleventh.login(USER, PASS).expect("LOGIN");
    assert!(
        r.status() == Status::No && r.has_code("LIMIT"),
        "the 11th login got {r:?}, not NO [LIMIT]"
    );
    let mut elsewhere = client_from(&server, "127.0.0.3").expect("connecting");
    assert!(elsewhere.login(USER, PASS).expect("LOGIN").is_ok());

    let first = sessions.remove(0);
    first.logout();
    let line = server.wait_for_output("the session's end line", DEADLINE, |out| {
        out.lines()
            .find(|l| l.contains("session ended user=\"alice\" rip=127.0.0.2 duration_ms="))
            .map(str::to_owned)
    });
    let field = |name: &str| -> u64 {
        let start = line.find(&format!(" {name}=")).expect(name) + name.len() + 2;
        line[start..]
            .split(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line:?}"))
    };
    // LOGIN and LOGOUT, their bytes both ways.
    assert!(field("commands") >= 2, "{line}");
    assert!(
        field("bytes_in") >= "a LOGIN alice alice-pw\r\n".len() as u64,
        "{line}"
    );
    assert!(field("bytes_out") > 0, "{line}");
    let r = eleventh.login(USER, PASS).expect("LOGIN");
    assert!(r.is_ok(), "after a LOGOUT the login is allowed: {r:?}");
}

/// Wrong passwords for bob from three networks, then alice's success from
/// one of them: each failure is one log line with the address, the user
/// and the reason, bob's right password still works afterwards (the
/// penalty delays, it never locks out), and an unknown user is logged as
/// one. Whether the account's penalty survived alice's success is a matter
/// of time (it expires after its delay), so it is shown with an explicit
/// clock in crates/auth/src/tests/penalty.rs
/// (`a_success_on_one_account_does_not_reset_another_accounts_penalty`),
/// not here against the wall clock.
#[test]
fn failed_logins_are_logged_per_account_and_never_lock_the_account_out() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    server.add_user("bob", "bob-pw");

    for from in ["127.0.0.2", "127.0.1.2", "127.0.2.2"] {
        let mut c = client_from(&server, from).expect("connecting");
        let r = c.login("bob", "guess").expect("LOGIN");
        assert!(r.has_code("AUTHENTICATIONFAILED"), "{r:?}");
    }
    server.wait_for_output("the failed-login line", DEADLINE, |out| {
        out.contains(
            "login failed rip=127.0.2.2 user=\"bob\" reason=\"wrong password\" \
             protocol=\"imap\" mechanism=\"PLAIN\"",
        )
        .then_some(())
    });
    let mut c = client_from(&server, "127.0.0.2").expect("connecting");
    assert!(c.login(USER, PASS).expect("LOGIN").is_ok());

    let mut c = client_from(&server, "127.0.3.2").expect("connecting");
    let r = c.login("bob", "bob-pw").expect("LOGIN");
    assert!(r.is_ok(), "the right password still works: {r:?}");

    // An unknown user fails the same way and is logged as one.
    let mut c = client_from(&server, "127.0.4.2").expect("connecting");
    let r = c.login("nosuchuser", "x").expect("LOGIN");
    assert!(r.has_code("AUTHENTICATIONFAILED"), "{r:?}");
    server.wait_for_output("the unknown user's line", DEADLINE, |out| {
        out.contains("login failed rip=127.0.4.2 user=\"nosuchuser\" reason=\"unknown user\"")
            .then_some(())
    });
}

/// A PROXY v2 header on a `proxy_protocol` listener names the client, and
/// so does ID `x-originating-ip`, when the peer is in `trusted_networks`
/// (here 127.0.0.1): auth then penalises and logs the named address. From
/// an untrusted peer the proxied listener closes the connection at once
/// and ID's address is ignored.
#[test]
fn a_proxy_names_the_client_only_from_a_trusted_network() {
    let dir = TestDir::new();
    let extra = "trusted_networks = [\"127.0.0.1\"]\n\
                 plaintext_logins = \"always\"\n\
                 [[imap.listener]]\nname = \"proxied\"\naddress = \"127.0.0.1:1\"\n\
                 kind = \"plain\"\nproxy_protocol = true\n";
    let (server, ports) =
        Server::start_prebound(&dir, &[("imap", "plain"), ("proxied", "plain")], extra);
    let proxied = SocketAddr::from(([127, 0, 0, 1], ports["proxied"]));

    // Trusted: the header's source is the client.
    let mut stream = raw_from("127.0.0.1", proxied);
    let addresses: Addresses = ("203.0.113.9:40000".parse::<SocketAddr>().unwrap(), proxied).into();
    let header =
        Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses)
            .build()
            .unwrap();
    stream.write_all(&header).unwrap();
    stream.write_all(b"a1 LOGIN mallory guess\r\n").unwrap();
    server.wait_for_output("the proxied client's failed login", DEADLINE, |out| {
        out.contains("login failed rip=203.0.113.9 user=\"mallory\"")
            .then_some(())
    });
    drop(stream);

    // Untrusted: closed before any greeting, header or not.
    let mut stream = raw_from("127.0.0.2", proxied);
    let _ = stream.write_all(&header);
    assert_eq!(
        read_to_close(stream),
        "",
        "an untrusted peer got a greeting"
    );

    // ID x-originating-ip from the trusted 127.0.0.1 ...
    let mut c = server.connect();
    c.ok("ID (\"x-originating-ip\" \"198.51.100.77\")");
    assert_eq!(
        c.login("mallory", "guess").expect("LOGIN").status(),
        Status::No
    );
    server.wait_for_output("the address ID named", DEADLINE, |out| {
        out.contains("login failed rip=198.51.100.77 user=\"mallory\"")
            .then_some(())
    });
    // ... but not from 127.0.0.2.
    let mut c = client_from(&server, "127.0.0.2").expect("connecting");
    c.ok("ID (\"x-originating-ip\" \"198.51.100.78\")");
    assert_eq!(
        c.login("mallory", "guess").expect("LOGIN").status(),
        Status::No
    );
    server.wait_for_output("the untrusted peer's own address", DEADLINE, |out| {
        out.contains("login failed rip=127.0.0.2 user=\"mallory\"")
            .then_some(())
    });
    assert!(!server.output().contains("rip=198.51.100.78"));
}

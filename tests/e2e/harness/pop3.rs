//! POP3 for the tests: a server with `pop3` (plain, STLS) and `pop3s`
//! (implicit TLS) listeners bound beforehand, and the test kit's POP3
//! client over plain TCP or TLS.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};

use mailkeep_testkit::{Pop3Client, Pop3Status};
use rustls::pki_types::ServerName;

use super::{DEADLINE, Server, TestDir};

/// A POP3 client over plain TCP.
pub type Plain = Pop3Client<TcpStream>;

/// The TLS stream a POP3 client runs over (implicit TLS or after STLS).
pub type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A server with `imap`, `pop3` and `pop3s` listeners; `extra` is TOML
/// added to the config (a test that opens `[pop3]` in it sets
/// `exempt_networks` there itself).
pub fn start<'a>(dir: &'a TestDir, extra: &str) -> (Server<'a>, HashMap<String, u16>) {
    Server::start_prebound(
        dir,
        &[("imap", "plain"), ("pop3", "plain"), ("pop3s", "tls")],
        extra,
    )
}

/// A TCP connection to `addr`, bounded by the harness's deadline.
fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(DEADLINE))
        .expect("write timeout");
    stream
}

/// Connects to the server's `pop3` listener; asserts the greeting.
pub fn connect(server: &Server<'_>) -> Plain {
    let (client, greeting) = Pop3Client::new(tcp(server.listener("pop3"))).expect("greeting");
    assert!(greeting.is_ok(), "greeting: {greeting:?}");
    client
}

/// Connects and logs in with USER/PASS; asserts `+OK`.
pub fn login(server: &Server<'_>, user: &str, password: &str) -> Plain {
    let mut client = connect(server);
    let status = client.login(user, password).expect("USER/PASS");
    assert!(
        status.is_ok(),
        "login of {user}: {status:?}\n{}",
        server.logs()
    );
    client
}

/// A TLS client session over `stream` (the self-signed certificate is
/// accepted: the TLS tests pin it by fingerprint elsewhere).
fn tls_over(stream: TcpStream) -> Tls {
    let (config, _) = super::tls::client_config();
    let name = ServerName::try_from("localhost").expect("server name");
    let connection = rustls::ClientConnection::new(config, name).expect("TLS client");
    rustls::StreamOwned::new(connection, stream)
}

/// Connects to the `pop3s` listener (TLS from the first byte).
pub fn connect_tls(server: &Server<'_>) -> (Pop3Client<Tls>, Pop3Status) {
    Pop3Client::new(tls_over(tcp(server.listener("pop3s")))).expect("greeting over TLS")
}

/// STLS on a plain connection; asserts `+OK` and returns the client
/// over TLS.
pub fn start_tls(mut client: Plain) -> Pop3Client<Tls> {
    let status = client.command("STLS").expect("STLS");
    assert!(status.is_ok(), "STLS: {status:?}");
    let stream = client.into_inner();
    let mut tls = tls_over(stream);
    // Drive the handshake before the first command.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .expect("TLS handshake after STLS");
    }
    Pop3Client::from_stream(tls)
}

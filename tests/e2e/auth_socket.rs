//! The auth socket (issue 9): Dovecot's auth-client protocol on a UNIX
//! socket for an MTA's SMTP AUTH. A raw client speaks it as Postfix does
//! (handshake, AUTH PLAIN with an initial response, LOGIN over CONT, a
//! wrong password, a bad line); real Postfix submission authenticates
//! swaks through it. The process runs confined like imap, and auth counts
//! failures against the address the MTA names.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::harness::postfix::{DOMAIN, Postfix, available};
use crate::harness::{DEADLINE, NOBODY_UID, Server, TestDir, make_message, require_root};

const PASS: &str = "smtp-auth-secret";

fn socket_path(dir: &TestDir) -> PathBuf {
    dir.path().join("auth-client.sock")
}

/// A server with imap and lmtp listeners and the auth socket at
/// [`socket_path`] (mode 0666: Postfix's smtpd runs as `postfix`), users
/// alice and bob.
fn start(dir: &TestDir) -> Server<'_> {
    let extra = format!(
        "[[auth_socket.listener]]\nname = \"auth-client\"\naddress = \"{}\"\nkind = \"unix\"\nmode = 0o666\n",
        socket_path(dir).display()
    );
    let (server, _) = Server::start_prebound(dir, &[("imap", "plain"), ("lmtp", "plain")], &extra);
    server.add_user("alice", PASS);
    server.add_user("bob", PASS);
    server
}

/// A client of the auth socket, as Postfix's xsasl_dovecot speaks it.
struct AuthClient {
    reader: BufReader<UnixStream>,
}

impl AuthClient {
    /// Connects, reads the server's handshake up to DONE (returned), and
    /// sends the client's VERSION and CPID.
    fn connect(dir: &TestDir) -> (AuthClient, Vec<String>) {
        let stream = UnixStream::connect(socket_path(dir)).expect("connecting to the auth socket");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut client = AuthClient {
            reader: BufReader::new(stream),
        };
        let mut handshake = Vec::new();
        loop {
            let line = client.line().expect("a handshake line");
            let done = line == "DONE";
            handshake.push(line);
            if done {
                break;
            }
        }
        client.send("VERSION\t1\t0\nCPID\t4242\n");
        (client, handshake)
    }

    fn send(&mut self, text: &str) {
        self.reader
            .get_mut()
            .write_all(text.as_bytes())
            .expect("writing");
    }

    /// The next line without its LF; `None` when the server hung up.
    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end_matches('\n').to_owned()),
            Err(e) => panic!("reading from the auth socket: {e}"),
        }
    }

    /// Sends `text` and returns the reply's fields.
    fn request(&mut self, text: &str) -> Vec<String> {
        self.send(text);
        let line = self.line().expect("a reply");
        line.split('\t').map(str::to_owned).collect()
    }
}

fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// The handshake; PLAIN with an initial response (bare name and address
/// in a local domain) and LOGIN over CONT succeed as alice; a wrong
/// password fails, and the next attempt from the same client address
/// waits out auth's penalty; an unsupported mechanism, bad base64 and a
/// password in the clear from a client on the network get FAIL and the
/// connection goes on; an unknown command ends it.
#[test]
fn auth_socket_speaks_dovecots_protocol_through_auth() {
    let dir = TestDir::new();
    let server = start(&dir);
    let (mut c, handshake) = AuthClient::connect(&dir);
    assert_eq!(handshake[0], "VERSION\t1\t2");
    assert!(
        handshake.contains(&"MECH\tPLAIN\tplaintext".to_owned()),
        "{handshake:?}"
    );
    assert!(
        handshake.contains(&"MECH\tLOGIN\tplaintext".to_owned()),
        "{handshake:?}"
    );
    assert!(
        handshake.iter().any(|l| l.starts_with("SPID\t")),
        "{handshake:?}"
    );
    assert!(
        handshake.iter().any(|l| l.starts_with("CUID\t")),
        "{handshake:?}"
    );

    let ok = c.request(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp={}\n",
        plain("alice", PASS)
    ));
    assert_eq!(ok, ["OK", "1", "user=alice"]);
    let ok = c.request(&format!(
        "AUTH\t2\tPLAIN\tservice=smtp\trip=192.0.2.10\tsecured\tresp={}\n",
        plain(&format!("alice@{}", DOMAIN.to_uppercase()), PASS)
    ));
    assert_eq!(ok, ["OK", "2", "user=alice"], "a login by address");

    // LOGIN: two challenges, answered with CONT.
    let cont = c.request("AUTH\t3\tLOGIN\tservice=smtp\trip=192.0.2.10\tsecured\n");
    assert_eq!(cont[..2], ["CONT", "3"], "{cont:?}");
    let cont = c.request(&format!("CONT\t3\t{}\n", STANDARD.encode("alice")));
    assert_eq!(cont[..2], ["CONT", "3"], "{cont:?}");
    let ok = c.request(&format!("CONT\t3\t{}\n", STANDARD.encode(PASS)));
    assert_eq!(ok, ["OK", "3", "user=alice"]);

    // A wrong password fails; auth counts it against the address named.
    let fail = c.request(&format!(
        "AUTH\t4\tPLAIN\tservice=smtp\trip=192.0.2.77\tsecured\tresp={}\n",
        plain("alice", "wrong")
    ));
    assert_eq!(fail[..2], ["FAIL", "4"], "{fail:?}");
    assert!(!fail.contains(&"temp".to_owned()), "{fail:?}");
    server.wait_for_output("auth logging the failure", DEADLINE, |out| {
        out.lines()
            .any(|l| l.contains("login failed") && l.contains("192.0.2.77") && l.contains("smtp"))
            .then_some(())
    });
    let ok = c.request(&format!(
        "AUTH\t5\tPLAIN\tservice=smtp\trip=192.0.2.77\tsecured\tresp={}\n",
        plain("alice", PASS)
    ));
    assert_eq!(ok, ["OK", "5", "user=alice"]);
    server.wait_for_output("auth delaying the next login from there", DEADLINE, |out| {
        out.lines()
            .any(|l| l.contains("login delayed") && l.contains("192.0.2.77"))
            .then_some(())
    });

    // Refused requests leave the connection usable.
    let fail = c.request("AUTH\t6\tSCRAM-SHA-256\tservice=smtp\n");
    assert_eq!(fail[..2], ["FAIL", "6"], "{fail:?}");
    let fail = c.request("AUTH\t7\tPLAIN\tservice=smtp\tresp=!!notbase64\n");
    assert_eq!(fail[..2], ["FAIL", "7"], "{fail:?}");
    let fail = c.request("CONT\t99\tYQ==\n");
    assert_eq!(fail[..2], ["FAIL", "99"], "{fail:?}");
    let ok = c.request(&format!(
        "AUTH\t8\tPLAIN\tservice=smtp\trip=::1\tresp={}\n",
        plain("bob", PASS)
    ));
    assert_eq!(ok, ["OK", "8", "user=bob"]);

    // A password in the clear from a client on the network (no `secured`)
    // is refused before auth sees it (`auth_socket.plaintext_logins`).
    let fail = c.request(&format!(
        "AUTH\t9\tPLAIN\tservice=smtp\trip=192.0.2.10\tresp={}\n",
        plain("alice", PASS)
    ));
    assert_eq!(fail[..2], ["FAIL", "9"], "{fail:?}");
    assert!(
        fail.iter()
            .any(|f| f.contains("Plaintext authentication disallowed")),
        "{fail:?}"
    );

    // Outside the protocol: the connection ends (Dovecot does the same).
    c.send("EHLO x\n");
    assert_eq!(c.line(), None, "the server hung up");

    // A request before the client's VERSION ends the connection too.
    let stream = UnixStream::connect(socket_path(&dir)).expect("connecting");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut raw = AuthClient {
        reader: BufReader::new(stream),
    };
    while raw.line().is_some_and(|l| l != "DONE") {}
    raw.send(&format!("AUTH\t1\tPLAIN\tresp={}\n", plain("alice", PASS)));
    assert_eq!(raw.line(), None, "a request before VERSION");
}

/// As root, the auth-socket process runs like imap: as nobody, with
/// no_new_privs and seccomp, chrooted into the empty directory.
#[test]
fn auth_socket_process_runs_as_nobody_in_the_empty_chroot() {
    if !require_root("auth_socket_process_runs_as_nobody_in_the_empty_chroot") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    server.wait_confined("auth-socket");
    let process = server.wait_role("auth-socket", None, None);
    assert_eq!(process.status_numbers("Uid:"), vec![NOBODY_UID; 4]);
    let status = process.status();
    for (field, want) in [("NoNewPrivs:", "1"), ("Seccomp:", "2")] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim);
        assert_eq!(value, Some(want), "{field} of {process:?}");
    }
    let root = std::fs::read_link(format!("/proc/{}/root", process.pid)).expect("root link");
    assert_eq!(
        root,
        std::fs::canonicalize(dir.chroot_dir()).expect("chroot")
    );
    let (mut c, _) = AuthClient::connect(&dir);
    let ok = c.request(&format!(
        "AUTH\t1\tPLAIN\tsecured\tresp={}\n",
        plain("bob", PASS)
    ));
    assert_eq!(ok, ["OK", "1", "user=bob"]);
}

/// Postfix submission with `smtpd_sasl_type = dovecot` on the socket:
/// swaks `--auth PLAIN` with alice's password is accepted and its message
/// delivered to bob over LMTP; with a wrong password Postfix answers 535
/// and takes no mail; `--auth LOGIN` works too.
#[test]
fn postfix_smtp_auth_checks_passwords_through_the_auth_socket() {
    if !available("postfix_smtp_auth_checks_passwords_through_the_auth_socket") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    let postfix = Postfix::start(&dir, server.listener("lmtp"), Some(&socket_path(&dir)));
    let submission = postfix.submission.expect("a submission listener");
    let from = format!("alice@{DOMAIN}");
    let to = format!("bob@{DOMAIN}");
    let message = make_message("smtp-auth", 1500);
    let send = |mechanism: &str, password: &str| {
        let out = postfix.swaks(
            submission,
            &from,
            &to,
            &message,
            &[
                "--auth",
                mechanism,
                "--auth-user",
                "alice",
                "--auth-password",
                password,
            ],
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (sent, transcript) = send("PLAIN", PASS);
    assert!(sent, "{transcript}");
    assert!(transcript.contains("235 2.7.0"), "{transcript}");
    assert!(transcript.contains("250 2.0.0 Ok: queued"), "{transcript}");

    let (sent, transcript) = send("PLAIN", "not-the-password");
    assert!(!sent, "{transcript}");
    assert!(transcript.contains("535 5.7.8"), "{transcript}");
    assert!(!transcript.contains("Ok: queued"), "{transcript}");

    let (sent, transcript) = send("LOGIN", PASS);
    assert!(sent && transcript.contains("235 2.7.0"), "{transcript}");

    // Both accepted messages arrive; the refused one never was taken.
    postfix.wait_log("Postfix logging the refused login", |l| {
        l.contains("SASL PLAIN authentication failed")
    });
    let mut imap = server.login("bob", PASS);
    crate::harness::wait_until(DEADLINE, "two messages in bob's INBOX", || {
        let reply = imap.run("EXAMINE INBOX").expect("EXAMINE");
        (reply.exists() == Some(2)).then_some(())
    });
    imap.logout();
}

//! POP3 over TLS: implicit TLS on the `pop3s` listener with the
//! certificate IMAP uses, STLS (RFC 2595) on the plain one, and the
//! plaintext-login rule IMAP has (here `never`, which refuses on loopback
//! what the default refuses off it): USER, PASS and AUTH PLAIN are
//! refused before STLS and work after it. Bytes pipelined after STLS are
//! not taken into the TLS session.

use crate::harness::pop3;
use crate::harness::tls::wait_printed_fingerprint;
use crate::harness::{TestDir, tls::fingerprint};

const PASS: &str = "pop3-tls-secret-2";

/// The `pop3s` listener speaks TLS from the first byte with the server's
/// (self-signed) certificate, and serves a whole session.
#[test]
fn pop3s_serves_a_session_over_implicit_tls_with_the_imap_certificate() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    let (mut c, greeting) = pop3::connect_tls(&server);
    assert!(greeting.is_ok(), "{greeting:?}");
    let der = c
        .stream_ref()
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first().cloned())
        .expect("a server certificate");
    assert_eq!(
        fingerprint(&der),
        wait_printed_fingerprint(&server),
        "the certificate the server printed"
    );
    let (_, caps) = c.multiline("CAPA").expect("CAPA");
    let caps = mailkeep_testkit::Pop3Client::<pop3::Tls>::lines(&caps);
    assert!(!caps.contains(&"STLS".to_owned()), "{caps:?}");
    assert!(caps.contains(&"USER".to_owned()), "{caps:?}");
    assert!(c.login("alice", PASS).expect("login").is_ok());
    assert_eq!(c.command("STAT").expect("STAT").0, "+OK 0 0");
    assert!(c.command("QUIT").expect("QUIT").is_ok());
}

/// With `plaintext_logins = "never"`, a plain connection is offered no
/// USER and no PLAIN/LOGIN, and refuses them with `-ERR [AUTH]`; after
/// STLS the same login works.
#[test]
fn pop3_refuses_plaintext_logins_before_stls_and_allows_them_after() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(
        &dir,
        "[pop3]\nplaintext_logins = \"never\"\nexempt_networks = [\"127.0.0.1\"]\n",
    );
    server.add_user("alice", PASS);
    let mut c = pop3::connect(&server);
    let (_, caps) = c.multiline("CAPA").expect("CAPA");
    let caps = pop3::Plain::lines(&caps);
    assert!(caps.contains(&"STLS".to_owned()), "{caps:?}");
    assert!(!caps.contains(&"USER".to_owned()), "{caps:?}");
    assert!(
        caps.contains(&"SASL SCRAM-SHA-256 SCRAM-SHA-1".to_owned()),
        "{caps:?}"
    );
    let user = c.command("USER alice").expect("USER");
    assert_eq!(user.code(), Some("AUTH"), "{user:?}");
    let plain = c.command("AUTH PLAIN AGFsaWNlAHg=").expect("AUTH PLAIN");
    assert_eq!(plain.code(), Some("AUTH"), "{plain:?}");
    let mut tls = pop3::start_tls(c);
    let (_, caps) = tls.multiline("CAPA").expect("CAPA over TLS");
    let caps = mailkeep_testkit::Pop3Client::<pop3::Tls>::lines(&caps);
    assert!(!caps.contains(&"STLS".to_owned()), "{caps:?}");
    assert!(caps.contains(&"USER".to_owned()), "{caps:?}");
    assert!(tls.login("alice", PASS).expect("login").is_ok());
    assert_eq!(
        tls.command("STLS").expect("STLS again").0,
        "-ERR Already logged in"
    );
    assert!(tls.command("QUIT").expect("QUIT").is_ok());
}

/// A command pipelined after STLS came in the clear: it is dropped, TLS
/// does not start, and the session goes on in the clear.
#[test]
fn pop3_stls_with_pipelined_bytes_is_refused() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    let mut c = pop3::connect(&server);
    c.send_raw(b"STLS\r\nUSER mallory\r\n").expect("pipelined");
    assert_eq!(
        c.status().expect("STLS reply").0,
        "-ERR Data after STLS; TLS not started"
    );
    assert_eq!(
        c.command("NOOP").expect("NOOP").0,
        "-ERR Not logged in; log in first"
    );
    assert!(c.command("QUIT").expect("QUIT").is_ok());
}

//! STARTTLS on the plain listener (RFC 9051 §6.2.1) with the real server:
//! what changes in the capabilities, the refusals (a second STARTTLS, a
//! command pipelined after it in the clear), and plaintext logins refused
//! until TLS where the configuration says so; and a standard client
//! library (Python's imaplib) over implicit TLS and STARTTLS.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use mailkeep_testkit::{Listeners, Status};

use crate::harness::tls::{connect_tls, protocol_version, start_tls, wait_printed_fingerprint};
use crate::harness::*;

/// What a client sees before login on a plain connection from loopback
/// (plaintext logins allowed there by default).
const BEFORE_TLS: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "STARTTLS",
    "AUTH=SCRAM-SHA-256",
    "AUTH=SCRAM-SHA-1",
    "AUTH=PLAIN",
    "AUTH=LOGIN",
];

/// What it sees once TLS 1.3 is active: no STARTTLS, and the
/// channel-bound SCRAM.
const AFTER_TLS: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "AUTH=SCRAM-SHA-256-PLUS",
    "AUTH=SCRAM-SHA-256",
    "AUTH=SCRAM-SHA-1",
    "AUTH=PLAIN",
    "AUTH=LOGIN",
];

/// A server with the `imap` (plain) and `imaps` (implicit TLS) listeners.
fn tls_server(dir: &TestDir) -> Server<'_> {
    let (server, _ports) = Server::start_prebound(dir, &[("imap", "plain"), ("imaps", "tls")], "");
    server.add_user("alice", "alice-secret");
    server
}

#[test]
fn starttls_drops_starttls_from_the_capabilities_and_offers_scram_plus_on_tls_1_3() {
    let dir = TestDir::new();
    let server = tls_server(&dir);
    let printed = wait_printed_fingerprint(&server);

    let mut plain = server.connect();
    assert_eq!(plain.ok("CAPABILITY").capabilities(), BEFORE_TLS);
    let (mut tls, presented) = start_tls(plain);
    assert_eq!(
        presented, printed,
        "the certificate whose fingerprint was printed"
    );
    assert_eq!(
        protocol_version(&mut tls),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(tls.ok("CAPABILITY").capabilities(), AFTER_TLS);

    let r = tls.login("alice", "alice-secret").expect("LOGIN");
    assert!(r.is_ok(), "{r:?}");
    tls.ok("SELECT INBOX");
    tls.logout();
}

#[test]
fn a_second_starttls_is_refused_and_the_session_goes_on_over_tls() {
    let dir = TestDir::new();
    let server = tls_server(&dir);
    let (mut tls, _) = start_tls(server.connect());
    let r = tls.run("STARTTLS").expect("STARTTLS again");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    assert_eq!(r.text(), "TLS is active already");
    assert!(r.responses.is_empty(), "{r:?}");
    // Still TLS, still usable.
    assert_eq!(tls.ok("CAPABILITY").capabilities(), AFTER_TLS);
    let r = tls.login("alice", "alice-secret").expect("LOGIN");
    assert!(r.is_ok(), "{r:?}");
    tls.logout();

    // On the implicit-TLS listener too.
    let (mut tls, _) = connect_tls(server.listener("imaps"));
    let r = tls.run("STARTTLS").expect("STARTTLS on imaps");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    assert_eq!(r.text(), "TLS is active already");
    tls.logout();
}

/// The STARTTLS command-injection attack: a man in the middle appends a
/// command in the clear to the client's STARTTLS, in the same packet,
/// hoping the server runs it as if it came over TLS. The server refuses
/// the STARTTLS (BAD) and runs nothing of what came after it: the injected
/// LOGIN gets no answer, and the next command the client sends finds the
/// session still not logged in.
#[test]
fn starttls_with_a_command_pipelined_in_the_same_packet_is_refused_and_runs_nothing_after_it() {
    let dir = TestDir::new();
    let server = tls_server(&dir);
    let mut c = server.connect();
    c.send_raw(b"a STARTTLS\r\nb LOGIN alice alice-secret\r\n")
        .expect("sending STARTTLS and the injected LOGIN in one write");
    let r = c.read_reply("a").expect("STARTTLS's answer");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    assert_eq!(r.text(), "Data after STARTTLS; TLS not started");
    assert!(r.responses.is_empty(), "{r:?}");

    // Whatever comes next on the connection comes before this reply: an
    // answer to `b` would show here, and a LOGIN that ran would show in the
    // capabilities.
    let r = c.run("CAPABILITY").expect("CAPABILITY");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        r.responses.len(),
        1,
        "only the CAPABILITY data, no answer to the injected LOGIN: {r:?}"
    );
    assert_eq!(r.capabilities(), BEFORE_TLS, "still not logged in");
    let r = c.run("SELECT INBOX").expect("SELECT");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    assert_eq!(r.text(), "Log in first");
}

/// With `plaintext_logins = "never"`, even on a loopback address
/// (127.0.0.2 here), a plain connection announces LOGINDISABLED and no
/// AUTH=PLAIN or AUTH=LOGIN, and LOGIN is refused with PRIVACYREQUIRED;
/// after STARTTLS the same LOGIN works.
#[test]
fn plaintext_logins_set_to_never_refuse_login_until_starttls() {
    let dir = TestDir::new();
    let mut listeners = Listeners::new();
    let addr = listeners
        .bind("imap", IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .expect("binding 127.0.0.2");
    let options = Options {
        extra_imap: "plaintext_logins = \"never\"\n".to_owned(),
        ..Options::default()
    };
    let server = Server::start_opts(&dir, options, listeners);
    assert_eq!(server.addr, addr);
    server.add_user("alice", "alice-secret");

    let mut c = server.connect();
    assert_eq!(
        c.ok("CAPABILITY").capabilities(),
        [
            "IMAP4rev1",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
            "STARTTLS",
            "AUTH=SCRAM-SHA-256",
            "AUTH=SCRAM-SHA-1",
            "LOGINDISABLED",
        ]
    );
    let r = c.login("alice", "alice-secret").expect("LOGIN");
    assert_eq!(r.status(), Status::No, "{r:?}");
    assert!(r.has_code("PRIVACYREQUIRED"), "{r:?}");
    let plain = mailkeep_testkit::base64(&mailkeep_testkit::plain("alice", "alice-secret"));
    let r = c
        .run(&format!("AUTHENTICATE PLAIN {plain}"))
        .expect("AUTHENTICATE PLAIN");
    assert_eq!(r.status(), Status::No, "{r:?}");

    let (mut tls, _) = start_tls(c);
    assert_eq!(tls.ok("CAPABILITY").capabilities(), AFTER_TLS);
    let r = tls.login("alice", "alice-secret").expect("LOGIN over TLS");
    assert!(r.is_ok(), "{r:?}");
    tls.ok("SELECT INBOX");
    tls.logout();
}

/// A standard client library over TLS: Python's imaplib with
/// `IMAP4_SSL` on the implicit-TLS listener and with `starttls()` on the
/// plain one, each checking that the certificate it got is the one whose
/// fingerprint the server printed (no CA to verify a self-signed one
/// against), then LOGIN, APPEND, SELECT and FETCH; after STARTTLS the
/// capabilities lose STARTTLS and gain AUTH=SCRAM-SHA-256-PLUS. The
/// checks are in `tests/python/imap_tls.py`.
#[test]
fn python_imaplib_over_implicit_tls_and_starttls() {
    let dir = TestDir::new();
    let server = tls_server(&dir);
    let printed = wait_printed_fingerprint(&server);
    run_python(
        "imap_tls.py",
        &[
            ("MK_HOST", "127.0.0.1".to_owned()),
            ("MK_PORT", server.listener("imap").port().to_string()),
            ("MK_TLS_PORT", server.listener("imaps").port().to_string()),
            ("MK_USER", "alice".to_owned()),
            ("MK_PASS", "alice-secret".to_owned()),
            ("MK_FINGERPRINT", printed),
        ],
        "imap_tls: all checks passed",
        Duration::from_secs(60),
    );
}

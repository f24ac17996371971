//! SCRAM-SHA-256-PLUS (RFC 5802 §6, RFC 7677) with the RFC 9266
//! `tls-exporter` channel binding, end to end: a Rust client over TLS 1.3
//! (tokio-rustls) on the implicit-TLS listener, the test kit's SCRAM
//! client, and an account stored by `mailkeep user add --scheme
//! SCRAM-SHA-256`.

use mailkeep_testkit::Status;
use mailkeep_testkit::scram::{Hash, ScramClient};

use crate::harness::tls::{TlsClient, channel_binding, connect_tls, protocol_version};
use crate::harness::*;

/// The gs2 header of a client that binds to `tls-exporter`.
const BIND_TLS_EXPORTER: &str = "p=tls-exporter,,";

fn scram_server(dir: &TestDir) -> Server<'_> {
    let (server, _ports) = Server::start_prebound(dir, &[("imap", "plain"), ("imaps", "tls")], "");
    server.add_user_with_scheme("sam", "pencil-1", "SCRAM-SHA-256");
    server
}

/// Runs AUTHENTICATE `mechanism` with `scram` (client-first as initial
/// response); returns the reply and what the server sent as server-final
/// (`None` if it refused before).
fn scram_exchange(
    c: &mut TlsClient,
    mechanism: &str,
    scram: &mut ScramClient,
) -> (mailkeep_testkit::Reply, Option<Vec<u8>>) {
    let first = scram.first_message();
    let mut step = 0;
    let mut server_final = None;
    let reply = c
        .authenticate(mechanism, Some(&first), |challenge| {
            step += 1;
            match step {
                1 => Some(scram.final_message(challenge)),
                2 => {
                    server_final = Some(challenge.to_vec());
                    Some(Vec::new())
                }
                _ => None,
            }
        })
        .expect("AUTHENTICATE");
    (reply, server_final)
}

#[test]
fn scram_sha_256_plus_with_the_tls_exporter_binding_logs_in_over_implicit_tls() {
    let dir = TestDir::new();
    let server = scram_server(&dir);
    let (mut c, _) = connect_tls(server.listener("imaps"));
    assert_eq!(
        protocol_version(&mut c),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let caps = c.ok("CAPABILITY").capabilities();
    assert!(
        caps.iter().any(|c| c == "AUTH=SCRAM-SHA-256-PLUS"),
        "{caps:?}"
    );

    let binding = channel_binding(&mut c);
    let mut scram = ScramClient::new(Hash::Sha256, "sam", "pencil-1", BIND_TLS_EXPORTER, &binding);
    let (reply, server_final) = scram_exchange(&mut c, "SCRAM-SHA-256-PLUS", &mut scram);
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(
        server_final,
        Some(scram.expected_server_final()),
        "the server proves it knows the keys"
    );
    let r = c.ok("SELECT INBOX");
    assert_eq!(r.exists(), Some(0), "{r:?}");
    c.logout();
}

/// A binding that is not this connection's (as a man in the middle, who
/// holds two TLS connections, would present) fails the login; so does the
/// right binding under SCRAM-SHA-256 with `y` (client could bind but
/// believes the server cannot), which on a connection offering -PLUS means
/// the offer was stripped (RFC 5802 §6).
#[test]
fn scram_sha_256_plus_with_another_connections_binding_is_refused() {
    let dir = TestDir::new();
    let server = scram_server(&dir);
    let (mut c, _) = connect_tls(server.listener("imaps"));

    let mut wrong = channel_binding(&mut c);
    wrong[0] ^= 0xff;
    let mut scram = ScramClient::new(Hash::Sha256, "sam", "pencil-1", BIND_TLS_EXPORTER, &wrong);
    let (reply, server_final) = scram_exchange(&mut c, "SCRAM-SHA-256-PLUS", &mut scram);
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("AUTHENTICATIONFAILED"), "{reply:?}");
    assert_eq!(server_final, None, "no server-final for a failed proof");

    let mut scram = ScramClient::new(Hash::Sha256, "sam", "pencil-1", "y,,", b"");
    let (reply, _) = scram_exchange(&mut c, "SCRAM-SHA-256", &mut scram);
    assert_eq!(reply.status(), Status::No, "{reply:?}");

    // Still not logged in; the right binding then works on this connection.
    let r = c.run("SELECT INBOX").expect("SELECT");
    assert_eq!(r.status(), Status::Bad, "{r:?}");
    let binding = channel_binding(&mut c);
    let mut scram = ScramClient::new(Hash::Sha256, "sam", "pencil-1", BIND_TLS_EXPORTER, &binding);
    let (reply, _) = scram_exchange(&mut c, "SCRAM-SHA-256-PLUS", &mut scram);
    assert!(reply.is_ok(), "{reply:?}");
    c.logout();
}

//! SCRAM logins through the real Auth gRPC service: Dovecot's stored
//! records, channel binding, downgrade protection, accounts whose scheme
//! cannot serve SCRAM, unknown names, and the failed-login penalty.

mod harness;

use std::time::Instant;

use harness::{BASE, Harness, Outcome, challenge, failure, first, next, start_with, step, success};
use mailkeep_storage_rpc::auth::{Failure, StepRequest};
use mailkeep_testkit::scram::{Hash, ScramClient};
use mailkeep_ticket::Scope;

/// `doveadm pw -s SCRAM-SHA-256 -p pencil` (Dovecot 2.3.19).
const SAM: &str = "sam:{SCRAM-SHA-256}4096,YLsIdtr6heZ489wv6yybFQ==,\
    2JNoVKQ+OQRgVEcQwbbseDiP8oPdvb7/2Xii9c78+jQ=,hRHj4GzBj3/vqH/4gHNZiBl3yLfFGGmUFbfPhY2dvvs=\
    :1002:1002::/home/sam\n";

/// `doveadm pw -s SCRAM-SHA-1 -p pencil`.
const SID: &str = "sid:{SCRAM-SHA-1}4096,tXKUBrODeIcQwbztzM7+AQ==,\
    NG930YZxARY0ACPqrgErPPR6SR4=,K28v8JM1sjt8L6+/kgLoLmuu6lA=:1003:1003::/home/sid\n";

const EXPORTER: [u8; 32] = [9; 32];

/// Besides the harness's alice ({PLAIN}), bob (argon2) and carol: sam and sid.
async fn start() -> Harness {
    start_with(BASE, &format!("{SAM}{SID}")).await
}

/// The first step with the connection's tls-exporter data.
fn on_tls(mut req: StepRequest, exporter: &[u8]) -> StepRequest {
    req.channel_binding_type = "tls-exporter".to_owned();
    req.channel_binding = exporter.to_vec();
    req
}

/// Runs a whole exchange (client-first as initial response); the client and
/// the final outcome.
async fn scram(
    client: &mut harness::AuthClientChannel,
    opening: impl FnOnce(Vec<u8>) -> StepRequest,
    mut scram: ScramClient,
    id: u64,
    ip: &str,
) -> (ScramClient, Outcome) {
    let server_first = challenge(step(client, opening(scram.first_message())).await);
    let last = scram.final_message(&server_first);
    let outcome = step(client, next(id, &last, ip)).await;
    (scram, outcome)
}

#[tokio::test]
async fn scram_sha256_serves_a_doveadm_record_and_proves_the_server_knows_it() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.20";
    let (sam, outcome) = scram(
        &mut client,
        |data| first(1, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "sam", "pencil", "n,,", b""),
        1,
        ip,
    )
    .await;
    let ok = success(outcome);
    assert_eq!(ok.user, "sam");
    assert_eq!(sam.salt_b64, "YLsIdtr6heZ489wv6yybFQ==");
    assert_eq!(ok.final_data, sam.expected_server_final());
    let claims = h.verify(&ok.ticket).unwrap();
    assert_eq!(
        (claims.user.as_str(), claims.scope),
        ("sam", Scope::Session)
    );

    // The same record serves PLAIN.
    let ok = success(step(&mut client, first(2, "PLAIN", Some(b"\0sam\0pencil"), ip)).await);
    assert_eq!(ok.user, "sam");
    assert!(ok.final_data.is_empty());
}

#[tokio::test]
async fn scram_sha1_records_and_plain_passwords_serve_scram() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.21";
    let (sid, outcome) = scram(
        &mut client,
        |data| first(1, "SCRAM-SHA-1", Some(&data), ip),
        ScramClient::new(Hash::Sha1, "sid", "pencil", "n,,", b""),
        1,
        ip,
    )
    .await;
    assert_eq!(success(outcome).final_data, sid.expected_server_final());

    // alice's {PLAIN} password serves both hashes; here without an initial
    // response, so the server first asks with an empty challenge.
    for (id, mechanism, hash) in [
        (2, "SCRAM-SHA-1", Hash::Sha1),
        (3, "SCRAM-SHA-256", Hash::Sha256),
    ] {
        assert_eq!(
            challenge(step(&mut client, first(id, mechanism, None, ip)).await),
            b""
        );
        let (alice, outcome) = scram(
            &mut client,
            |data| next(id, &data, ip),
            ScramClient::new(hash, "alice", "secret", "n,,", b""),
            id,
            ip,
        )
        .await;
        let ok = success(outcome);
        assert_eq!(ok.user, "alice");
        assert_eq!(ok.final_data, alice.expected_server_final());
    }
}

#[tokio::test]
async fn scram_sha256_plus_binds_to_the_tls_exporter_data() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.22";
    let (sam, outcome) = scram(
        &mut client,
        |data| on_tls(first(1, "SCRAM-SHA-256-PLUS", Some(&data), ip), &EXPORTER),
        ScramClient::new(Hash::Sha256, "sam", "pencil", "p=tls-exporter,,", &EXPORTER),
        1,
        ip,
    )
    .await;
    assert_eq!(success(outcome).final_data, sam.expected_server_final());

    // A client whose TLS connection ends elsewhere (a man in the middle)
    // has other exporter data: refused, though the password is right.
    let (_, outcome) = scram(
        &mut client,
        |data| on_tls(first(2, "SCRAM-SHA-256-PLUS", Some(&data), ip), &EXPORTER),
        ScramClient::new(Hash::Sha256, "sam", "pencil", "p=tls-exporter,,", &[1; 32]),
        2,
        ip,
    )
    .await;
    assert_eq!(failure(outcome).reason, "Authentication failed.");

    // Without TLS there is nothing to bind to: the mechanism is not offered.
    let f = failure(
        step(
            &mut client,
            first(
                3,
                "SCRAM-SHA-256-PLUS",
                Some(b"p=tls-exporter,,n=sam,r=x"),
                ip,
            ),
        )
        .await,
    );
    assert_eq!(f.reason, "Unsupported mechanism");
}

#[tokio::test]
async fn flag_y_where_plus_was_offered_is_refused_as_a_downgrade() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.23";
    // On TLS the server offered SCRAM-SHA-256-PLUS; a client saying "I can
    // bind but you cannot" saw a list someone had cut.
    let client_first = ScramClient::new(Hash::Sha256, "sam", "pencil", "y,,", b"").first_message();
    let f = failure(
        step(
            &mut client,
            on_tls(
                first(1, "SCRAM-SHA-256", Some(&client_first), ip),
                &EXPORTER,
            ),
        )
        .await,
    );
    assert_eq!(f.reason, "Authentication failed.");

    // Without TLS no -PLUS was offered, and `y` is the truth.
    let (_, outcome) = scram(
        &mut client,
        |data| first(2, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "sam", "pencil", "y,,", b""),
        2,
        ip,
    )
    .await;
    assert_eq!(success(outcome).user, "sam");
}

/// The failure a SCRAM attempt for `user` gets right after client-first.
async fn first_step_failure(
    client: &mut harness::AuthClientChannel,
    id: u64,
    mechanism: &str,
    user: &str,
    ip: &str,
) -> Failure {
    let message = format!("n,,n={user},r=abcdef");
    failure(step(client, first(id, mechanism, Some(message.as_bytes()), ip)).await)
}

#[tokio::test]
async fn accounts_that_cannot_serve_scram_get_mechanism_unavailable_like_unknown_names() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.24";
    // bob's argon2 hash cannot serve SCRAM; sam's SHA-256 keys not SHA-1.
    let bob = first_step_failure(&mut client, 1, "SCRAM-SHA-256", "bob", ip).await;
    assert!(bob.mechanism_unavailable, "{bob:?}");
    assert!(!bob.temporary && !bob.contact_admin, "{bob:?}");
    assert_eq!(
        bob.reason,
        "SCRAM-SHA-256 is not available for this account; another mechanism may work."
    );
    let sam = first_step_failure(&mut client, 2, "SCRAM-SHA-1", "sam", ip).await;
    assert!(sam.mechanism_unavailable, "{sam:?}");

    // Here as many accounts can do SCRAM-SHA-256 as cannot, so an unknown
    // name gets exactly bob's answer.
    let nobody = first_step_failure(&mut client, 3, "SCRAM-SHA-256", "nobody", ip).await;
    assert_eq!(nobody, bob);

    // PLAIN still works for bob.
    success(step(&mut client, first(4, "PLAIN", Some(b"\0bob\0bob-pw"), ip)).await);
}

#[tokio::test]
async fn where_most_accounts_can_do_scram_unknown_names_fail_like_wrong_passwords() {
    let more = "tom:{PLAIN}t\numa:{PLAIN}u\n";
    let h = start_with(BASE, &format!("{SAM}{SID}{more}")).await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.25";
    let (ghost, outcome) = scram(
        &mut client,
        |data| first(1, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "ghost", "guess", "n,,", b""),
        1,
        ip,
    )
    .await;
    let unknown = failure(outcome);
    // The made-up salt is the same on every attempt, like a real one.
    let (again, _) = scram(
        &mut client,
        |data| first(2, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "ghost", "guess", "n,,", b""),
        2,
        ip,
    )
    .await;
    assert_eq!(ghost.salt_b64, again.salt_b64);
    assert_eq!(ghost.salt_b64.len(), "YLsIdtr6heZ489wv6yybFQ==".len());

    let (_, outcome) = scram(
        &mut client,
        |data| first(3, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "sam", "guess", "n,,", b""),
        3,
        ip,
    )
    .await;
    let wrong_password = failure(outcome);
    assert_eq!(unknown, wrong_password);
    assert!(!unknown.mechanism_unavailable);
}

#[tokio::test]
async fn failed_scram_logins_count_toward_the_penalty_like_plain_ones() {
    let h = start().await;
    let mut client = h.connect(1).await;
    let ip = "198.51.100.30";
    let (_, outcome) = scram(
        &mut client,
        |data| first(1, "SCRAM-SHA-256", Some(&data), ip),
        ScramClient::new(Hash::Sha256, "sam", "wrong", "n,,", b""),
        1,
        ip,
    )
    .await;
    failure(outcome);

    // The SCRAM failure counted: the next login waits before it is checked.
    let t = Instant::now();
    failure(step(&mut client, first(2, "PLAIN", Some(b"\0sam\0wrong"), ip)).await);
    assert!(t.elapsed() >= BASE, "{:?}", t.elapsed());

    // A malformed SCRAM message counts too: after three failures the next
    // login waits four times the base (the cap here).
    failure(step(&mut client, first(3, "SCRAM-SHA-256", Some(b"n,,"), ip)).await);
    let t = Instant::now();
    failure(step(&mut client, first(4, "PLAIN", Some(b"\0sam\0wrong"), ip)).await);
    assert!(t.elapsed() >= BASE * 3, "{:?}", t.elapsed());
}

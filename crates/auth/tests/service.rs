//! The auth service end to end, in process: a control socket as the master
//! would hold it, connections handed over with their fd, and the generated
//! gRPC client over each.

mod harness;

use std::time::{Duration, Instant};

use harness::{BASE, challenge, failure, first, next, settle, start, step, success};
use mailkeep_auth::{add_user, delete_user};
use mailkeep_storage_rpc::auth::step_response;
use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};
use mailkeep_ticket_seal::{Purpose, ReplyKey};
use prost::Message;

#[tokio::test]
async fn plain_login_issues_a_ticket_that_verifies() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ok = success(
        step(
            &mut client,
            first(1, "PLAIN", Some(b"\0alice\0secret"), "192.0.2.1"),
        )
        .await,
    );
    assert_eq!(ok.user, "alice");
    let claims = h.verify(&ok.ticket).unwrap();
    assert_eq!(claims.user, "alice");
    assert_eq!(claims.scope, Scope::Session);
    assert_eq!(claims.issuer, "test-host");
    assert_eq!(claims.expires_unix, ok.expires_unix);
    assert!(ok.expires_unix > now_unix() + 3500);

    // An argon2id user added with add_user, and authzid equal to authcid.
    let ok = success(
        step(
            &mut client,
            first(2, "plain", Some(b"bob\0bob\0bob-pw"), "192.0.2.1"),
        )
        .await,
    );
    assert_eq!(ok.user, "bob");
}

#[tokio::test]
async fn logins_after_failures_wait_a_growing_delay() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ip = "198.51.100.7";

    let f = failure(step(&mut client, first(1, "PLAIN", Some(b"\0alice\0wrong"), ip)).await);
    assert_eq!(f.reason, "Authentication failed.");
    assert!(!f.temporary);

    // The next login from that address waits before it is checked.
    let t = Instant::now();
    let f = failure(step(&mut client, first(2, "PLAIN", Some(b"\0nobody\0x"), ip)).await);
    assert!(t.elapsed() >= BASE, "{:?}", t.elapsed());
    assert_eq!(
        f.reason, "Authentication failed.",
        "unknown user looks the same"
    );

    // Proxy authorization and an unusable stored hash fail the same way.
    let f = failure(
        step(
            &mut client,
            first(3, "PLAIN", Some(b"bob\0alice\0secret"), ip),
        )
        .await,
    );
    assert_eq!(f.reason, "Authentication failed.");
    let f = failure(step(&mut client, first(4, "PLAIN", Some(b"\0carol\0x"), ip)).await);
    assert_eq!(f.reason, "Authentication failed.");
    // Malformed PLAIN too.
    let f = failure(step(&mut client, first(5, "PLAIN", Some(b"garbage"), ip)).await);
    assert_eq!(f.reason, "Authentication failed.");
}

#[tokio::test]
async fn a_success_on_another_account_does_not_reset_the_penalty() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ip = "198.51.100.8";
    for id in 1..=3 {
        failure(step(&mut client, first(id, "PLAIN", Some(b"\0bob\0guess"), ip)).await);
    }
    // The guesser logs in to an account of its own from the same address.
    success(step(&mut client, first(4, "PLAIN", Some(b"\0alice\0secret"), ip)).await);
    // The address still owes its delay (4 x base, the cap): the success
    // did not wipe out the failures on bob.
    let t = Instant::now();
    failure(step(&mut client, first(5, "PLAIN", Some(b"\0bob\0guess"), ip)).await);
    assert!(t.elapsed() >= BASE * 3, "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_penalised_client_does_not_block_others() {
    let h = start(Duration::from_secs(2)).await;
    let mut slow = h.connect(1).await;
    let mut fast = h.connect(2).await;
    failure(
        step(
            &mut slow,
            first(1, "PLAIN", Some(b"\0bob\0wrong"), "203.0.113.1"),
        )
        .await,
    );
    let failing = tokio::spawn(async move {
        step(
            &mut slow,
            first(2, "PLAIN", Some(b"\0bob\0wrong"), "203.0.113.1"),
        )
        .await
    });
    // Another account from another network is not held up.
    success(
        step(
            &mut fast,
            first(1, "PLAIN", Some(b"\0alice\0secret"), "198.51.100.2"),
        )
        .await,
    );
    assert!(!failing.is_finished());
    failure(failing.await.unwrap());
}

#[tokio::test]
async fn login_two_steps_and_plain_without_initial_response() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.9";
    assert_eq!(
        challenge(step(&mut client, first(10, "LOGIN", None, ip)).await),
        b"Username:"
    );
    assert_eq!(
        challenge(step(&mut client, next(10, b"alice", ip)).await),
        b"Password:"
    );
    let ok = success(step(&mut client, next(10, b"secret", ip)).await);
    assert_eq!(ok.user, "alice");
    h.verify(&ok.ticket).unwrap();
    // The exchange is gone once finished.
    let f = failure(step(&mut client, next(10, b"secret", ip)).await);
    assert_eq!(f.reason, "No authentication exchange in progress.");

    assert_eq!(
        challenge(step(&mut client, first(11, "PLAIN", None, ip)).await),
        b""
    );
    let ok = success(step(&mut client, next(11, b"\0bob\0bob-pw", ip)).await);
    assert_eq!(ok.user, "bob");
}

#[tokio::test]
async fn unsupported_mechanism_abort_and_per_connection_ids() {
    // A penalty of an hour: had the unsupported mechanism counted as a
    // failure, the login after it would wait that long, far past the
    // bound below (no timing margin to lose on a slow machine).
    let h = start(Duration::from_secs(3600)).await;
    let mut a = h.connect(1).await;
    let mut b = h.connect(2).await;
    let ip = "192.0.2.10";

    let f = failure(step(&mut a, first(1, "CRAM-MD5", Some(b"x"), ip)).await);
    assert_eq!(f.reason, "Unsupported mechanism");
    let login = step(&mut a, first(2, "PLAIN", Some(b"\0alice\0secret"), ip));
    let ok = tokio::time::timeout(Duration::from_secs(600), login)
        .await
        .expect("no penalty for an unsupported mechanism");
    assert_eq!(success(ok).user, "alice");

    // Exchange 7 on connection a is unknown on connection b.
    challenge(step(&mut a, first(7, "LOGIN", None, ip)).await);
    let f = failure(step(&mut b, next(7, b"alice", ip)).await);
    assert_eq!(f.reason, "No authentication exchange in progress.");
    assert_eq!(
        challenge(step(&mut a, next(7, b"alice", ip)).await),
        b"Password:"
    );

    // Abort forgets the exchange.
    let mut abort = next(7, b"", ip);
    abort.abort = true;
    failure(step(&mut a, abort).await);
    let f = failure(step(&mut a, next(7, b"secret", ip)).await);
    assert_eq!(f.reason, "No authentication exchange in progress.");
}

#[tokio::test]
async fn users_added_while_running_can_log_in() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    add_user(&h.passwd, "dave", "dave-pw", 1, 1, "/home/dave".as_ref()).unwrap();
    let ok = success(
        step(
            &mut client,
            first(1, "PLAIN", Some(b"\0dave\0dave-pw"), "192.0.2.3"),
        )
        .await,
    );
    assert_eq!(ok.user, "dave");
}

/// A users file left alone is parsed once and then checked where the login
/// arrives (no hand-over to the blocking pool): right and wrong passwords
/// are told apart there as anywhere, and a change of the file (a new
/// password, a removed user) is seen by the next login, settled or not.
#[tokio::test]
async fn logins_on_a_settled_users_file_follow_its_changes() {
    let h = start(BASE).await;
    settle(&h.passwd);
    let mut client = h.connect(1).await;
    let login = |id: u64, data: &'static [u8], ip: &'static str| first(id, "PLAIN", Some(data), ip);
    for id in 1..=3 {
        let ok = success(step(&mut client, login(id, b"\0alice\0secret", "192.0.2.10")).await);
        assert_eq!(ok.user, "alice");
    }
    let refused = failure(step(&mut client, login(4, b"\0alice\0wrong", "192.0.2.11")).await);
    assert!(!refused.temporary, "{refused:?}");

    // Rewritten by rename, as the editor does, with another password.
    let text = std::fs::read_to_string(&h.passwd).unwrap();
    let changed = text.replace("alice:{PLAIN}secret", "alice:{PLAIN}changed");
    assert_ne!(text, changed);
    let tmp = h.passwd.with_extension("new");
    std::fs::write(&tmp, changed).unwrap();
    std::fs::rename(&tmp, &h.passwd).unwrap();
    settle(&h.passwd);
    let refused = failure(step(&mut client, login(5, b"\0alice\0secret", "192.0.2.12")).await);
    assert!(
        !refused.temporary,
        "the old password still works: {refused:?}"
    );
    let ok = success(step(&mut client, login(6, b"\0alice\0changed", "192.0.2.13")).await);
    assert_eq!(ok.user, "alice");
    let ok = success(step(&mut client, login(7, b"\0alice\0changed", "192.0.2.13")).await);
    assert_eq!(ok.user, "alice");

    delete_user(&h.passwd, "alice").unwrap();
    settle(&h.passwd);
    let refused = failure(step(&mut client, login(8, b"\0alice\0changed", "192.0.2.14")).await);
    assert!(!refused.temporary, "a removed user logs in: {refused:?}");
}

#[tokio::test]
async fn renew_issues_a_fresh_ticket_for_existing_users_only() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ok = success(
        step(
            &mut client,
            first(1, "PLAIN", Some(b"\0bob\0bob-pw"), "192.0.2.4"),
        )
        .await,
    );

    let (renewed, renewed_expiry) = harness::renew(&mut client, &ok.request_key, "bob", &ok.ticket)
        .await
        .unwrap();
    // Same session (a renewal in the same second may even be the same
    // ticket: the signature is deterministic).
    let claims = h.verify(&renewed).unwrap();
    assert_eq!(claims.session, h.verify(&ok.ticket).unwrap().session);
    assert_eq!(
        (claims.user.as_str(), claims.scope),
        ("bob", Scope::Session)
    );
    assert_eq!(claims.expires_unix, renewed_expiry);

    let status = harness::renew(&mut client, &ok.request_key, "bob", "mk2.garbage.x")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    // A ticket from another key.
    let foreign = sign(
        &HostKey::generate(),
        &Claims::new("bob", Scope::Session, now_unix(), 60, "h"),
    );
    let status = harness::renew(&mut client, &ok.request_key, "bob", &foreign)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    // A deliver ticket never becomes a session ticket.
    let deliver = sign(
        &h.key,
        &Claims::new("bob", Scope::Deliver, now_unix(), 60, harness::ISSUER),
    );
    let status = harness::renew(&mut client, &ok.request_key, "bob", &deliver)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    // Deleted users cannot renew.
    delete_user(&h.passwd, "bob").unwrap();
    let status = harness::renew(&mut client, &ok.request_key, "bob", &renewed)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn serve_returns_ok_when_the_control_socket_closes() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    success(
        step(
            &mut client,
            first(1, "PLAIN", Some(b"\0alice\0secret"), "192.0.2.5"),
        )
        .await,
    );
    drop(h.control);
    let result = tokio::time::timeout(Duration::from_secs(5), h.server)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

/// Tickets never cross the auth connection in clear (DESIGN §2): the
/// Step and Renew replies, as encoded for the wire, hold the ticket sealed
/// to the request's reply key, which opens it; nothing of it is readable
/// in the bytes a transport buffer would keep.
#[tokio::test]
async fn replies_carry_tickets_sealed_to_the_reply_key_never_in_clear() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let key = ReplyKey::generate();
    let mut req = first(1, "PLAIN", Some(b"\0alice\0secret"), "192.0.2.30");
    req.reply_key = key.public_bytes();
    let response = client.step(req).await.unwrap().into_inner();
    let wire = response.encode_to_vec();
    let Some(step_response::Outcome::Success(success)) = response.outcome else {
        panic!("expected a success, got {response:?}");
    };
    let ticket = key
        .open(&success.sealed_ticket, Purpose::Login, "alice")
        .unwrap();
    h.verify(&ticket).unwrap();
    assert_no_ticket_in(&wire, &ticket);

    assert_eq!(success.request_key.len(), 32, "auth's request key");
    let key = ReplyKey::generate();
    let request = harness::renew_request(&success.request_key, "alice", &ticket, &key);
    // The request as written to the wire holds the old ticket sealed too.
    assert_no_ticket_in(&request.encode_to_vec(), &ticket);
    let response = client.renew(request).await.unwrap().into_inner();
    let wire = response.encode_to_vec();
    let renewed = key
        .open(&response.sealed_ticket, Purpose::Renew, "alice")
        .unwrap();
    assert_eq!(
        h.verify(&renewed).unwrap().session,
        h.verify(&ticket).unwrap().session
    );
    assert_no_ticket_in(&wire, &renewed);
}

#[track_caller]
fn assert_no_ticket_in(wire: &[u8], ticket: &str) {
    assert!(
        !wire.windows(4).any(|w| w == b"mk2."),
        "a ticket prefix in the reply"
    );
    for piece in ticket.as_bytes().windows(16) {
        assert!(
            !wire.windows(16).any(|w| w == piece),
            "a piece of the ticket in clear in the reply"
        );
    }
}

/// A request that could be answered with a ticket but brings no usable
/// key to seal it to is refused before anything is checked; an abort
/// needs none, nor does the auth-socket role, which gets no ticket.
#[tokio::test]
async fn steps_and_renewals_without_a_usable_reply_key_are_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ip = "192.0.2.31";
    for reply_key in [Vec::new(), vec![0; 32], vec![5; 33]] {
        let mut req = first(1, "PLAIN", Some(b"\0alice\0secret"), ip);
        req.reply_key = reply_key;
        let status = client.step(req).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
    let mut abort = first(2, "", None, ip);
    abort.abort = true;
    let aborted = client.step(abort).await.unwrap().into_inner();
    assert!(matches!(
        aborted.outcome,
        Some(step_response::Outcome::Failure(_))
    ));
    let ok = success(step(&mut client, first(3, "PLAIN", Some(b"\0alice\0secret"), ip)).await);

    let mut request =
        harness::renew_request(&ok.request_key, "alice", &ok.ticket, &ReplyKey::generate());
    request.reply_key = Vec::new();
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let mut socket = h.connect_as(2, "auth-socket").await;
    let response = socket
        .step(first(1, "PLAIN", Some(b"\0alice\0secret"), ip))
        .await
        .unwrap()
        .into_inner();
    let Some(step_response::Outcome::Success(success)) = response.outcome else {
        panic!("expected a success, got {response:?}");
    };
    assert!(success.sealed_ticket.is_empty(), "a ticket for the MTA");
}

//! Renewal keeps a ticket inside its session (DESIGN §2): the same session
//! id and cap, and no renewal once the password changed, the session
//! reached its cap, or the master reported the session ended. The old
//! ticket comes sealed to auth's request key, never in clear.

mod harness;

use harness::{BASE, ISSUER, first, renew_request, start, start_keyed, step, success};
use mailkeep_auth::set_password;
use mailkeep_storage_rpc::auth::RenewRequest;
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, Revoke, RevokedSession};
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};
use mailkeep_ticket_seal::{ReplyKey, RequestKey, SealTo};
use prost::Message;
use tonic::Code;

/// Logs bob in; his session ticket and auth's request key.
async fn bob_logs_in(client: &mut harness::AuthClientChannel) -> (String, Vec<u8>) {
    let login = success(
        step(
            client,
            first(1, "PLAIN", Some(b"\0bob\0bob-pw"), "192.0.2.9"),
        )
        .await,
    );
    (login.ticket, login.request_key)
}

/// Renews bob's `ticket`, sealed to auth's `request_key`.
async fn renew(
    client: &mut harness::AuthClientChannel,
    request_key: &[u8],
    ticket: &str,
) -> Result<String, tonic::Status> {
    harness::renew(client, request_key, "bob", ticket)
        .await
        .map(|(ticket, _)| ticket)
}

#[tokio::test]
async fn renewal_stays_in_the_session_and_stops_when_the_password_changes() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (ticket, auth) = bob_logs_in(&mut client).await;
    let login = h.verify(&ticket).unwrap();
    assert!(login.session_ends_unix <= now_unix() + 7200);

    let renewed = renew(&mut client, &auth, &ticket).await.unwrap();
    let claims = h.verify(&renewed).unwrap();
    assert_eq!(
        claims.session, login.session,
        "one session, however renewed"
    );
    assert_eq!(claims.session_ends_unix, login.session_ends_unix);
    assert!(claims.expires_unix <= claims.session_ends_unix);

    set_password(&h.passwd, "bob", "a-new-password").unwrap();
    for old in [&ticket, &renewed] {
        let status = renew(&mut client, &auth, old).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(status.message().contains("password changed"), "{status:?}");
    }
}

#[tokio::test]
async fn renewal_of_an_old_ticket_past_the_session_cap_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (ticket, auth) = bob_logs_in(&mut client).await;
    // The same session as it would be at its cap: the ticket itself still
    // valid, the session's time used up.
    let mut old = h.verify(&ticket).unwrap();
    old.session_ends_unix = now_unix();
    let status = renew(&mut client, &auth, &sign(&h.key, &old))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("maximum length"), "{status:?}");
    // Within the cap the same session renews.
    renew(&mut client, &auth, &ticket).await.unwrap();
}

#[tokio::test]
async fn renewal_of_a_ticket_another_host_signed_under_this_hosts_name_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (_, auth) = bob_logs_in(&mut client).await;
    let impostor = mailkeep_ticket::HostKey::generate();
    let forged = sign(
        &impostor,
        &Claims::new("bob", Scope::Session, now_unix(), 3600, ISSUER),
    );
    let status = renew(&mut client, &auth, &forged).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("signature"), "{status:?}");
}

#[tokio::test]
async fn renewal_of_a_revoked_session_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (ticket, auth) = bob_logs_in(&mut client).await;
    let claims = h.verify(&ticket).unwrap();
    let revoke = ControlMessage {
        kind: Some(Kind::Revoke(Revoke {
            sessions: vec![RevokedSession {
                session: claims.session.0.to_vec(),
                until_unix: claims.revocation_horizon(),
                user: "bob".into(),
            }],
            request_id: 0,
        })),
    };
    send_frame(&h.control, &revoke, None).await.unwrap();
    // The control socket is read apart from the RPCs: renewals succeed
    // until the revocation lands, then never again.
    let status = loop {
        match renew(&mut client, &auth, &ticket).await {
            Ok(_) => tokio::task::yield_now().await,
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{status:?}");
    // Another session of the same user is untouched.
    let (other, _) = bob_logs_in(&mut client).await;
    renew(&mut client, &auth, &other).await.unwrap();
}

/// A renewal request of an old client, whose old ticket came in clear in
/// field 1 (now reserved): the field is not read, the request has no
/// sealed ticket, and it is refused.
#[tokio::test]
async fn a_renewal_with_the_old_ticket_in_clear_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (ticket, _) = bob_logs_in(&mut client).await;
    let reply = ReplyKey::generate().public_bytes();
    // Field 1 (ticket, string) and field 2 (reply_key, bytes), by hand.
    let mut wire = Vec::new();
    for (tag, value) in [(0x0a, ticket.as_bytes()), (0x12, reply.as_slice())] {
        wire.push(tag);
        let mut len = value.len();
        while len >= 0x80 {
            wire.push((len as u8) | 0x80);
            len >>= 7;
        }
        wire.push(len as u8);
        wire.extend_from_slice(value);
    }
    let request = RenewRequest::decode(wire.as_slice()).unwrap();
    assert!(request.sealed_ticket.is_empty());
    assert_eq!(request.reply_key, reply);
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("sealed"), "{status:?}");
}

/// An old ticket that does not open as this renewal's (sealed to another
/// key, for another user or another reply key, or not a seal at all) is
/// refused; one that opens but is another user's is refused too.
#[tokio::test]
async fn a_renewal_whose_sealed_ticket_does_not_open_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let (ticket, auth) = bob_logs_in(&mut client).await;
    let key = ReplyKey::generate();

    // Sealed to some other request key (another auth's).
    let other = RequestKey::derive(b"another host's key material");
    let request = renew_request(&other.public_bytes(), "bob", &ticket, &key);
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Sealed for another user than the request names.
    let mut request = renew_request(&auth, "alice", &ticket, &key);
    request.user = "bob".into();
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Sealed for another reply key: replayed sealed bytes renew nothing
    // for whoever replays them.
    let mut request = renew_request(&auth, "bob", &ticket, &key);
    request.reply_key = ReplyKey::generate().public_bytes();
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Not a seal.
    let mut request = renew_request(&auth, "bob", &ticket, &key);
    request.sealed_ticket = vec![1; 20];
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // A sound seal of bob's ticket, named as alice's.
    let request = renew_request(&auth, "alice", &ticket, &key);
    let status = client.renew(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("user"), "{status:?}");

    // The same ticket, sealed as it should be, renews.
    renew(&mut client, &auth, &ticket).await.unwrap();
}

/// Logs alice in (her passwd entry is the same in every harness, so her
/// tickets renew on any auth with the same key); her session ticket and
/// auth's request key.
async fn alice_logs_in(client: &mut harness::AuthClientChannel) -> (String, Vec<u8>) {
    let login = success(
        step(
            client,
            first(1, "PLAIN", Some(b"\0alice\0secret"), "192.0.2.10"),
        )
        .await,
    );
    (login.ticket, login.request_key)
}

/// Auth's request key is derived from its signing key: every login names
/// the same one, an auth restarted with the same key file has it too (and
/// renews a ticket whose old copy was sealed before the restart), and an
/// auth with another key has another.
#[tokio::test]
async fn the_request_key_is_the_same_across_an_auth_restart() {
    let key = HostKey::generate();
    let copy = || HostKey::parse(&key.to_file_contents()).unwrap();
    let h = start_keyed(BASE, "", copy()).await;
    let mut client = h.connect(1).await;
    let (ticket, auth) = alice_logs_in(&mut client).await;
    let (_, again) = alice_logs_in(&mut client).await;
    assert_eq!(auth, again, "one request key for every login");
    assert!(SealTo::from_bytes(&auth).is_ok(), "a usable X25519 key");
    // Sealed before the restart.
    let reply = ReplyKey::generate();
    let request = renew_request(&auth, "alice", &ticket, &reply);
    drop(client);
    drop(h);

    let restarted = start_keyed(BASE, "", copy()).await;
    let mut client = restarted.connect(1).await;
    let (_, after) = alice_logs_in(&mut client).await;
    assert_eq!(after, auth, "the same request key after a restart");
    let renewed = client.renew(request).await.unwrap().into_inner();
    let renewed = reply
        .open(
            &renewed.sealed_ticket,
            mailkeep_ticket_seal::Purpose::Renew,
            "alice",
        )
        .unwrap();
    assert_eq!(
        restarted.verify(&renewed).unwrap().session,
        restarted.verify(&ticket).unwrap().session
    );

    let other = start(BASE).await;
    let mut client = other.connect(1).await;
    let (_, elsewhere) = alice_logs_in(&mut client).await;
    assert_ne!(elsewhere, auth, "another signing key, another request key");
}

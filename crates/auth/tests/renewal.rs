//! Renewal keeps a ticket inside its session (DESIGN §2): the same session
//! id and cap, and no renewal once the password changed, the session
//! reached its cap, or the master reported the session ended.

mod harness;

use harness::{BASE, ISSUER, first, start, step, success};
use mailkeep_auth::set_password;
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, Revoke, RevokedSession};
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_ticket::{Claims, Scope, now_unix, sign};
use tonic::Code;

/// Logs bob in; his session ticket.
async fn bob_logs_in(client: &mut harness::AuthClientChannel) -> String {
    success(
        step(
            client,
            first(1, "PLAIN", Some(b"\0bob\0bob-pw"), "192.0.2.9"),
        )
        .await,
    )
    .ticket
}

async fn renew(
    client: &mut harness::AuthClientChannel,
    ticket: &str,
) -> Result<String, tonic::Status> {
    harness::renew(client, ticket)
        .await
        .map(|(ticket, _)| ticket)
}

#[tokio::test]
async fn renewal_stays_in_the_session_and_stops_when_the_password_changes() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ticket = bob_logs_in(&mut client).await;
    let login = h.verify(&ticket).unwrap();
    assert!(login.session_ends_unix <= now_unix() + 7200);

    let renewed = renew(&mut client, &ticket).await.unwrap();
    let claims = h.verify(&renewed).unwrap();
    assert_eq!(
        claims.session, login.session,
        "one session, however renewed"
    );
    assert_eq!(claims.session_ends_unix, login.session_ends_unix);
    assert!(claims.expires_unix <= claims.session_ends_unix);

    set_password(&h.passwd, "bob", "a-new-password").unwrap();
    for old in [&ticket, &renewed] {
        let status = renew(&mut client, old).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(status.message().contains("password changed"), "{status:?}");
    }
}

#[tokio::test]
async fn renewal_of_an_old_ticket_past_the_session_cap_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ticket = bob_logs_in(&mut client).await;
    // The same session as it would be at its cap: the ticket itself still
    // valid, the session's time used up.
    let mut old = h.verify(&ticket).unwrap();
    old.session_ends_unix = now_unix();
    let status = renew(&mut client, &sign(&h.key, &old)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("maximum length"), "{status:?}");
    // Within the cap the same session renews.
    renew(&mut client, &ticket).await.unwrap();
}

#[tokio::test]
async fn renewal_of_a_ticket_another_host_signed_under_this_hosts_name_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let impostor = mailkeep_ticket::HostKey::generate();
    let forged = sign(
        &impostor,
        &Claims::new("bob", Scope::Session, now_unix(), 3600, ISSUER),
    );
    let status = renew(&mut client, &forged).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("signature"), "{status:?}");
}

#[tokio::test]
async fn renewal_of_a_revoked_session_is_refused() {
    let h = start(BASE).await;
    let mut client = h.connect(1).await;
    let ticket = bob_logs_in(&mut client).await;
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
        match renew(&mut client, &ticket).await {
            Ok(_) => tokio::task::yield_now().await,
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{status:?}");
    // Another session of the same user is untouched.
    let other = bob_logs_in(&mut client).await;
    renew(&mut client, &other).await.unwrap();
}

//! Deliver tickets: auth issues them after a userdb lookup, without a
//! password, and only on connections the master made for the lmtp role.

mod harness;

use harness::{BASE, deliver, settle, start_with};
use mailkeep_storage_rpc::auth::DeliverRequest;
use mailkeep_ticket::Scope;
use tonic::Code;

#[tokio::test]
async fn the_lmtp_role_gets_a_short_lived_deliver_ticket_for_one_recipient() {
    let h = start_with(BASE, "dora@example.net:{PLAIN}x:1002:1002::/home/dora\n").await;
    let mut lmtp = h.connect_as(1, "lmtp").await;
    let (user, ticket) = deliver(&mut lmtp, "alice").await.unwrap();
    assert_eq!(user, "alice");
    let claims = h.verify(&ticket).unwrap();
    assert_eq!(claims.scope, Scope::Deliver);
    assert_eq!(claims.user, "alice");
    assert!(claims.expires_unix - claims.issued_unix <= 600);
    assert!(claims.authorize("alice", Scope::Deliver).is_ok());
    assert!(claims.authorize("alice", Scope::Session).is_err());
    assert!(claims.authorize("bob", Scope::Deliver).is_err());

    // A local domain (any case) reaches the bare account; a full address
    // matches with its domain in any case; other domains do not.
    let (user, _) = deliver(&mut lmtp, "alice@EXAMPLE.org").await.unwrap();
    assert_eq!(user, "alice");
    let (user, _) = deliver(&mut lmtp, "dora@Example.NET").await.unwrap();
    assert_eq!(user, "dora@example.net");
    let err = deliver(&mut lmtp, "alice@elsewhere.test")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = deliver(&mut lmtp, "nobody").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn other_roles_asking_for_a_deliver_ticket_are_refused() {
    let h = start_with(BASE, "").await;
    for role in ["imap", "pop3", ""] {
        let mut other = h.connect_as(7, role).await;
        let err = deliver(&mut other, "alice").await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "role {role:?}");
    }
}

/// The ticket is sealed to the request's reply key: a request without one
/// (or with a key of small order, which would make the seal public) is
/// refused before any lookup.
#[tokio::test]
async fn a_deliver_request_without_a_usable_reply_key_is_refused() {
    let h = start_with(BASE, "").await;
    let mut lmtp = h.connect_as(1, "lmtp").await;
    for reply_key in [Vec::new(), vec![0; 32], vec![9; 31]] {
        let err = lmtp
            .deliver(DeliverRequest {
                recipient: "alice".to_owned(),
                reply_key,
                reply_index: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    // With a key, the same request is answered.
    assert_eq!(deliver(&mut lmtp, "alice").await.unwrap().0, "alice");
}

/// A users file left alone is looked up where the request arrives (its
/// parse kept): recipients resolve there as anywhere, and one removed from
/// the file is unknown at the next request.
#[tokio::test]
async fn recipients_on_a_settled_users_file_follow_its_changes() {
    let h = start_with(BASE, "dora@example.net:{PLAIN}x:1002:1002::/home/dora\n").await;
    settle(&h.passwd);
    let mut lmtp = h.connect_as(1, "lmtp").await;
    for _ in 0..2 {
        let (user, _) = deliver(&mut lmtp, "dora@Example.NET").await.unwrap();
        assert_eq!(user, "dora@example.net");
        let err = deliver(&mut lmtp, "nobody").await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }
    mailkeep_auth::delete_user(&h.passwd, "dora@example.net").unwrap();
    settle(&h.passwd);
    let err = deliver(&mut lmtp, "dora@example.net").await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "a removed recipient still resolves"
    );
    let (user, _) = deliver(&mut lmtp, "alice").await.unwrap();
    assert_eq!(user, "alice");
}

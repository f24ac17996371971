//! Deliver tickets: auth issues them after a userdb lookup, without a
//! password, and only on connections the master made for the lmtp role.

mod harness;

use harness::{BASE, start_with};
use mailkeep_storage_rpc::auth::DeliverRequest;
use mailkeep_ticket::Scope;
use tonic::Code;

fn to(recipient: &str) -> DeliverRequest {
    DeliverRequest {
        recipient: recipient.to_owned(),
    }
}

#[tokio::test]
async fn the_lmtp_role_gets_a_short_lived_deliver_ticket_for_one_recipient() {
    let h = start_with(BASE, "dora@example.net:{PLAIN}x:1002:1002::/home/dora\n").await;
    let mut lmtp = h.connect_as(1, "lmtp").await;
    let got = lmtp.deliver(to("alice")).await.unwrap().into_inner();
    assert_eq!(got.user, "alice");
    let claims = h.verify(&got.ticket).unwrap();
    assert_eq!(claims.scope, Scope::Deliver);
    assert_eq!(claims.user, "alice");
    assert!(claims.expires_unix - claims.issued_unix <= 600);
    assert!(claims.authorize("alice", Scope::Deliver).is_ok());
    assert!(claims.authorize("alice", Scope::Session).is_err());
    assert!(claims.authorize("bob", Scope::Deliver).is_err());

    // A local domain (any case) reaches the bare account; a full address
    // matches with its domain in any case; other domains do not.
    let got = lmtp.deliver(to("alice@EXAMPLE.org")).await.unwrap();
    assert_eq!(got.into_inner().user, "alice");
    let got = lmtp.deliver(to("dora@Example.NET")).await.unwrap();
    assert_eq!(got.into_inner().user, "dora@example.net");
    let err = lmtp.deliver(to("alice@elsewhere.test")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = lmtp.deliver(to("nobody")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn other_roles_asking_for_a_deliver_ticket_are_refused() {
    let h = start_with(BASE, "").await;
    for role in ["imap", "pop3", ""] {
        let mut other = h.connect_as(7, role).await;
        let err = other.deliver(to("alice")).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "role {role:?}");
    }
}

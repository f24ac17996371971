//! Tickets die with their session (DESIGN §2): once the master sends a
//! `Revoke` for a session, the storage process refuses every ticket of it,
//! renewed ones included, while other sessions go on; and it trusts only
//! the hosts on its list, by the key listed for each.

#[allow(dead_code)]
mod common;

use common::{Harness, ISSUER, OWNER, TestKey};
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_ticket::{Claims, Scope, SessionId, now_unix, sign};
use tonic::Code;
use tonic::transport::Channel;

/// A session ticket for `OWNER` in `session`, issued `age` seconds ago.
fn in_session(key: &TestKey, session: SessionId, age: i64) -> String {
    let now = now_unix();
    let claims =
        Claims::new(OWNER, Scope::Session, now - age, 3600, ISSUER).in_session(session, now + 7200);
    sign(key, &claims).to_string()
}

async fn list(c: &mut StorageClient<Channel>, ticket: &str) -> Result<(), tonic::Status> {
    common::list_with(c, ticket).await
}

#[tokio::test]
async fn a_revoked_sessions_tickets_are_refused_and_other_sessions_go_on() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let (ended, other) = (SessionId::random(), SessionId::random());
    let first = in_session(&h.key, ended, 10);
    let renewed = in_session(&h.key, ended, 0);
    let alive = in_session(&h.key, other, 0);
    list(&mut c, &first)
        .await
        .expect("valid before the revocation");

    h.process.control(&common::revoke_session(ended)).await;
    // The control socket is read apart from the calls: wait for it to land.
    let refused = loop {
        match list(&mut c, &first).await {
            Ok(()) => tokio::task::yield_now().await,
            Err(status) => break status,
        }
    };
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("revoked"),
        "{}",
        refused.message()
    );
    let err = list(&mut c, &renewed)
        .await
        .expect_err("renewed ticket of the session");
    assert!(err.message().contains("revoked"), "{}", err.message());
    list(&mut c, &alive)
        .await
        .expect("another session is untouched");
}

#[tokio::test]
async fn only_trusted_issuers_with_their_own_key_are_accepted() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let stranger = TestKey::generate();
    let unknown = sign(
        &stranger,
        &Claims::new(OWNER, Scope::Session, now_unix(), 3600, "elsewhere"),
    );
    let err = list(&mut c, &unknown).await.expect_err("unknown issuer");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("not a trusted host"),
        "{}",
        err.message()
    );
    // The right name with another key: the list's key decides.
    let impostor = sign(
        &stranger,
        &Claims::new(OWNER, Scope::Admin, now_unix(), 3600, ISSUER),
    );
    let err = list(&mut c, &impostor).await.expect_err("impostor");
    assert!(err.message().contains("signature"), "{}", err.message());
}

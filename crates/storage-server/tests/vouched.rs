//! A ticket its issuer vouched for (`TicketIssued` from the master on the
//! control socket) is kept as verified without its signature checked, so
//! a session's first call waits for no Ed25519 check; nothing else about
//! the ticket is taken on trust: a revoked session's vouched ticket is
//! refused, and a ticket nobody vouched for is checked in full.

#[allow(dead_code)]
mod common;

use common::{Harness, ISSUER, OWNER, TestKey};
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, TicketIssued};
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_ticket::{Claims, Scope, SessionId, now_unix, sign};
use tonic::Code;
use tonic::transport::Channel;

/// A ticket of `OWNER` in `session` whose signature does not verify (its
/// first character changed): what only a vouch makes acceptable.
fn badly_signed(key: &TestKey, session: SessionId) -> String {
    let now = now_unix();
    let claims =
        Claims::new(OWNER, Scope::Session, now, 3600, ISSUER).in_session(session, now + 7200);
    let ticket = sign(key, &claims).to_string();
    let (signed, signature) = ticket.rsplit_once('.').expect("a signature");
    let swapped = if signature.starts_with('A') { "B" } else { "A" };
    format!("{signed}.{swapped}{}", &signature[1..])
}

/// How long a wait for the control socket may take before the test fails
/// (a guard against a hang, not a measure: it lands in microseconds).
const HANG: std::time::Duration = std::time::Duration::from_secs(30);

async fn list(c: &mut StorageClient<Channel>, ticket: &str) -> Result<(), tonic::Status> {
    common::list_with(c, ticket).await
}

/// Calls with `ticket` until one is answered (`Ok`) or refused (`Err`),
/// as `wanted` says, and returns that answer: the control socket is read
/// apart from the calls, so a message sent on it lands a moment later.
/// Bounded by [`HANG`], so that one that never lands fails the test.
async fn until(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    wanted: bool,
) -> Result<(), tonic::Status> {
    tokio::time::timeout(HANG, async {
        loop {
            let answer = list(c, ticket).await;
            if answer.is_ok() == wanted {
                return answer;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the control message lands")
}

#[tokio::test]
async fn a_vouched_ticket_is_taken_without_its_signature_and_still_revocable() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let session = SessionId::random();
    let vouched = badly_signed(&h.key, session);
    let other = badly_signed(&h.key, SessionId::random());
    let refused = list(&mut c, &vouched).await.expect_err("not vouched yet");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("signature"),
        "{}",
        refused.message()
    );

    h.process
        .control(&ControlMessage {
            kind: Some(Kind::TicketIssued(TicketIssued {
                ticket: vouched.clone(),
            })),
        })
        .await;
    until(&mut c, &vouched, true)
        .await
        .expect("the vouched ticket is accepted");
    // A ticket nobody vouched for is still checked in full.
    let refused = list(&mut c, &other).await.expect_err("not vouched");
    assert!(
        refused.message().contains("signature"),
        "{}",
        refused.message()
    );

    // Revoking its session ends the vouched ticket too.
    h.process.control(&common::revoke_session(session)).await;
    let refused = until(&mut c, &vouched, false)
        .await
        .expect_err("the revocation lands");
    assert!(
        refused.message().contains("revoked"),
        "{}",
        refused.message()
    );
}

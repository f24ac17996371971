//! Reply chains: a connection begins one with OpenChain, and its requests
//! then name an index in it instead of carrying a reply key; each index's
//! ticket opens with that index's message key alone, and is answered once.

mod harness;

use harness::{BASE, first, next, start};
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::{DeliverRequest, OpenChainRequest, StepRequest, step_response};
use mailkeep_ticket::Scope;
use mailkeep_ticket_seal::{ChainedKey, Purpose, ReplyKey, RequesterChain};
use tonic::Code;
use tonic::transport::Channel;

/// Begins a chain on `client`'s connection, as the frontend's link does
/// when it connects.
async fn begin(client: &mut AuthClient<Channel>) -> RequesterChain {
    let key = ReplyKey::generate();
    let answer = client
        .open_chain(OpenChainRequest {
            requester_key: key.public_bytes(),
        })
        .await
        .expect("OpenChain")
        .into_inner();
    RequesterChain::begin(key, &answer.sealer_key).expect("auth's chain key")
}

/// alice's PLAIN login, naming `index` in the connection's chain.
fn login(index: u64) -> StepRequest {
    StepRequest {
        reply_index: index,
        ..first(index, "PLAIN", Some(b"\0alice\0secret"), "192.0.2.7")
    }
}

/// The sealed ticket of a successful step.
async fn sealed_login(
    client: &mut AuthClient<Channel>,
    index: u64,
) -> Result<(String, Vec<u8>), tonic::Status> {
    let response = client.step(login(index)).await?.into_inner();
    match response.outcome {
        Some(step_response::Outcome::Success(s)) => Ok((s.user, s.sealed_ticket)),
        other => panic!("expected a success, got {other:?}"),
    }
}

fn open(key: ChainedKey, user: &str, sealed: &[u8]) -> String {
    key.open(sealed, Purpose::Login, user)
        .expect("the ticket opens with its index's key")
        .to_string()
}

#[tokio::test]
async fn logins_on_a_chain_get_tickets_that_open_with_their_index_keys() {
    let h = start(BASE).await;
    let mut imap = h.connect(1).await;
    let mut chain = begin(&mut imap).await;
    let (one, two, three) = (chain.next_key(), chain.next_key(), chain.next_key());
    // Answered out of order: 2 before 1, as two sessions' logins may be.
    let (user, sealed_two) = sealed_login(&mut imap, 2).await.unwrap();
    assert_eq!(user, "alice");
    let (_, sealed_one) = sealed_login(&mut imap, 1).await.unwrap();
    let ticket_two = open(two, "alice", &sealed_two);
    let ticket_one = open(one, "alice", &sealed_one);
    assert_ne!(ticket_one, ticket_two);
    for ticket in [&ticket_one, &ticket_two] {
        let claims = h.verify(ticket).expect("a valid ticket");
        assert_eq!(claims.user, "alice");
        assert_eq!(claims.scope, Scope::Session);
    }
    // The third index's key does not open the first's reply.
    assert!(three.open(&sealed_one, Purpose::Login, "alice").is_err());
}

#[tokio::test]
async fn an_index_is_answered_once_and_only_on_a_connection_with_a_chain() {
    let h = start(BASE).await;
    let mut imap = h.connect(1).await;
    // No chain on this connection yet: refused.
    let error = imap.step(login(1)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let mut chain = begin(&mut imap).await;
    let key = chain.next_key();
    let (_, sealed) = sealed_login(&mut imap, 1).await.unwrap();
    open(key, "alice", &sealed);
    // The same index again is refused, as is one far beyond the chain.
    let error = imap.step(login(1)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let error = imap.step(login(1 << 40)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    // Another connection's chain is its own: index 2 of this chain is not
    // answered on a connection that began none.
    let mut other = h.connect(2).await;
    let error = other.step(login(2)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    // And a new chain on the first connection starts again at 1.
    let mut again = begin(&mut imap).await;
    let key = again.next_key();
    let (_, sealed) = sealed_login(&mut imap, 1).await.unwrap();
    open(key, "alice", &sealed);
}

/// A step refused for its index leaves the SASL exchange as it was: the
/// same step with a good index carries it on.
#[tokio::test]
async fn a_step_refused_for_its_index_leaves_the_exchange_alone() {
    let h = start(BASE).await;
    let mut imap = h.connect(1).await;
    let mut chain = begin(&mut imap).await;
    let challenge = |outcome: Option<step_response::Outcome>| match outcome {
        Some(step_response::Outcome::Challenge(c)) => c,
        other => panic!("expected a challenge, got {other:?}"),
    };
    let step = |request: StepRequest, index: u64| StepRequest {
        reply_index: index,
        ..request
    };
    let ip = "192.0.2.9";
    let _ = chain.next_key();
    let asked = imap
        .step(step(first(5, "LOGIN", None, ip), 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(challenge(asked.outcome), b"Username:");
    // Index 1 again: refused, and the exchange still waits for the user.
    let error = imap.step(step(next(5, b"alice", ip), 1)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let _ = chain.next_key();
    let asked = imap
        .step(step(next(5, b"alice", ip), 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(challenge(asked.outcome), b"Password:");
    let key = chain.next_key();
    let done = imap
        .step(step(next(5, b"secret", ip), 3))
        .await
        .unwrap()
        .into_inner();
    match done.outcome {
        Some(step_response::Outcome::Success(s)) => {
            let ticket = open(key, &s.user, &s.sealed_ticket);
            assert_eq!(h.verify(&ticket).unwrap().user, "alice");
        }
        other => panic!("expected a success, got {other:?}"),
    }
}

#[tokio::test]
async fn a_chain_begins_only_with_a_usable_key() {
    let h = start(BASE).await;
    let mut imap = h.connect(1).await;
    for requester_key in [Vec::new(), vec![0; 32], vec![9; 31]] {
        let error = imap
            .open_chain(OpenChainRequest { requester_key })
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn a_deliver_ticket_comes_sealed_under_the_chain_too() {
    let h = start(BASE).await;
    let mut lmtp = h.connect_as(1, "lmtp").await;
    let mut chain = begin(&mut lmtp).await;
    let key = chain.next_key();
    let got = lmtp
        .deliver(DeliverRequest {
            recipient: "alice".to_owned(),
            reply_key: Vec::new(),
            reply_index: key.index(),
        })
        .await
        .unwrap()
        .into_inner();
    let ticket = key
        .open(&got.sealed_ticket, Purpose::Deliver, &got.user)
        .expect("opens with the index's key");
    let claims = h.verify(&ticket).unwrap();
    assert_eq!(claims.scope, Scope::Deliver);
    // The role still decides: an imap connection with a chain gets none.
    let mut imap = h.connect(2).await;
    let mut chain = begin(&mut imap).await;
    let error = imap
        .deliver(DeliverRequest {
            recipient: "alice".to_owned(),
            reply_key: Vec::new(),
            reply_index: chain.next_key().index(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}

/// Auth vouches for each login ticket it signs on its control socket
/// (`TicketIssued`, read by the master); a failed login vouches for
/// nothing.
#[tokio::test]
async fn each_login_ticket_is_vouched_for_to_the_master_before_the_answer() {
    use mailkeep_storage_rpc::broker::{AuthEvent, auth_event};
    use mailkeep_storage_rpc::framing::recv_frame;
    let h = start(BASE).await;
    let mut imap = h.connect(1).await;
    let mut chain = begin(&mut imap).await;
    let key = chain.next_key();
    let (user, sealed) = sealed_login(&mut imap, 1).await.unwrap();
    let ticket = open(key, &user, &sealed);
    let (event, fd) = recv_frame::<AuthEvent>(&h.control).await.unwrap();
    assert!(fd.is_none());
    match event.kind {
        Some(auth_event::Kind::TicketIssued(issued)) => assert_eq!(issued.ticket, ticket),
        other => panic!("expected a vouch, got {other:?}"),
    }
    // A wrong password: no ticket, no vouch (the next event is the next
    // good login's).
    let wrong = StepRequest {
        reply_index: 2,
        ..first(2, "PLAIN", Some(b"\0alice\0wrong"), "192.0.2.8")
    };
    let _ = chain.next_key();
    let answer = imap.step(wrong).await.unwrap().into_inner();
    assert!(matches!(
        answer.outcome,
        Some(step_response::Outcome::Failure(_))
    ));
    let key = chain.next_key();
    let (user, sealed) = sealed_login(&mut imap, 3).await.unwrap();
    let ticket = open(key, &user, &sealed);
    let (event, _) = recv_frame::<AuthEvent>(&h.control).await.unwrap();
    match event.kind {
        Some(auth_event::Kind::TicketIssued(issued)) => assert_eq!(issued.ticket, ticket),
        other => panic!("expected a vouch, got {other:?}"),
    }
}

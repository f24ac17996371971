//! A step's reply as the relay reads it: a success's ticket opens only with
//! the step's own reply key, for the user the reply names.

use mailkeep_storage_rpc::auth::{StepResponse, Success, step_response};
use mailkeep_ticket_seal::{Purpose, ReplyKey, SealTo};

use super::*;

const TICKET: &str = "mk2.Y2xhaW1z.c2lnbmF0dXJl";

fn sealed_to(key: &ReplyKey, purpose: Purpose, user: &str) -> Vec<u8> {
    SealTo::from_bytes(&key.public_bytes())
        .unwrap()
        .seal(TICKET, purpose, user)
        .unwrap()
}

fn success(user: &str, sealed_ticket: Vec<u8>) -> StepResponse {
    StepResponse {
        outcome: Some(step_response::Outcome::Success(Success {
            user: user.to_owned(),
            sealed_ticket,
            expires_unix: 1_700_000_000,
            final_data: Vec::new(),
            request_key: vec![7; 32],
        })),
    }
}

#[test]
fn a_success_opens_with_the_steps_reply_key() {
    let key = ReplyKey::generate();
    let sealed = sealed_to(&key, Purpose::Login, "alice");
    match outcome(success("alice", sealed), Some(key.into())) {
        SaslStep::Success(logged_in) => {
            assert_eq!(logged_in.user, "alice");
            assert_eq!(logged_in.ticket.as_str(), TICKET);
            assert_eq!(logged_in.expires_unix, 1_700_000_000);
            // Auth's request key stays with the login, for its renewals.
            assert_eq!(logged_in.request_key, vec![7; 32]);
        }
        other => panic!("expected a success, got {other:?}"),
    }
}

#[test]
fn a_success_opens_with_the_steps_chain_key_alone() {
    use mailkeep_ticket_seal::{RequesterChain, SealerChain};
    let start = ReplyKey::generate();
    let (mut sealer, sealer_key) = SealerChain::begin(&start.public_bytes()).unwrap();
    let mut chain = RequesterChain::begin(start, &sealer_key).unwrap();
    let (one, two) = (chain.next_key(), chain.next_key());
    let sealed = sealer
        .key_for(2)
        .unwrap()
        .seal(TICKET, Purpose::Login, "alice")
        .unwrap();
    // Index 1's key does not open index 2's reply.
    no_login(outcome(success("alice", sealed.clone()), Some(one.into())));
    match outcome(success("alice", sealed), Some(two.into())) {
        SaslStep::Success(logged_in) => assert_eq!(logged_in.ticket.as_str(), TICKET),
        other => panic!("expected a success, got {other:?}"),
    }
}

#[track_caller]
fn no_login(step: SaslStep) {
    assert!(
        matches!(step, SaslStep::Failure(AuthFailure::Temporary)),
        "{step:?}"
    );
}

#[test]
fn a_ticket_sealed_for_another_key_user_or_purpose_is_no_login() {
    // To a key the step does not hold.
    let other = sealed_to(&ReplyKey::generate(), Purpose::Login, "alice");
    no_login(outcome(
        success("alice", other),
        Some(ReplyKey::generate().into()),
    ));
    // To the step's key, for a user other than the one the reply names.
    let key = ReplyKey::generate();
    let sealed = sealed_to(&key, Purpose::Login, "alice");
    no_login(outcome(success("bob", sealed), Some(key.into())));
    // To the step's key, as a renewal's answer.
    let key = ReplyKey::generate();
    let sealed = sealed_to(&key, Purpose::Renew, "alice");
    no_login(outcome(success("alice", sealed), Some(key.into())));
}

#[test]
fn a_success_without_a_sealed_ticket_is_a_login_only_where_none_is_wanted() {
    // What auth answers on an auth-socket connection.
    match outcome(success("alice", Vec::new()), None) {
        SaslStep::Success(logged_in) => assert!(logged_in.ticket.is_empty()),
        other => panic!("expected a success, got {other:?}"),
    }
    // A protocol process that needs one gets no login.
    no_login(outcome(
        success("alice", Vec::new()),
        Some(ReplyKey::generate().into()),
    ));
}

use super::*;

const TICKET: &str =
    "mk2.Y2xhaW1z.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ";

/// Both sides of a new chain, as OpenChain makes them.
fn chain() -> (RequesterChain, SealerChain) {
    let key = ReplyKey::generate();
    let (sealer, sealer_public) = SealerChain::begin(&key.public_bytes()).expect("auth's side");
    let requester = RequesterChain::begin(key, &sealer_public).expect("requester's side");
    (requester, sealer)
}

fn sealed(sealer: &mut SealerChain, index: u64, purpose: Purpose, user: &str) -> Vec<u8> {
    sealer
        .key_for(index)
        .expect("a key for the index")
        .seal(TICKET, purpose, user)
        .expect("sealing")
}

#[test]
fn each_request_of_a_chain_opens_its_own_reply() {
    let (mut requester, mut sealer) = chain();
    for expected in 1..=5 {
        let key = requester.next_key();
        assert_eq!(key.index(), expected);
        let reply = sealed(&mut sealer, key.index(), Purpose::Login, "alice");
        assert_eq!(reply.len(), CHAIN_HEADER_LEN + TICKET.len() + TAG_LEN);
        assert_eq!(
            key.open(&reply, Purpose::Login, "alice")
                .expect("opens")
                .as_str(),
            TICKET
        );
    }
}

#[test]
fn a_reply_holds_no_part_of_the_ticket_and_two_replies_differ() {
    let (mut requester, mut sealer) = chain();
    let (one, two) = (requester.next_key(), requester.next_key());
    let first = sealed(&mut sealer, one.index(), Purpose::Login, "alice");
    let second = sealed(&mut sealer, two.index(), Purpose::Login, "alice");
    assert_ne!(first[CHAIN_HEADER_LEN..], second[CHAIN_HEADER_LEN..]);
    for piece in TICKET.as_bytes().windows(8) {
        assert!(!first.windows(8).any(|w| w == piece), "ticket in clear");
    }
}

#[test]
fn requests_answered_out_of_order_open() {
    let (mut requester, mut sealer) = chain();
    let keys: Vec<ChainedKey> = (0..4).map(|_| requester.next_key()).collect();
    // Auth sees 3 first, then 1, 4 and 2.
    let mut replies: Vec<(u64, Vec<u8>)> = [3, 1, 4, 2]
        .into_iter()
        .map(|i| (i, sealed(&mut sealer, i, Purpose::Deliver, "bob")))
        .collect();
    assert_eq!(sealer.skipped(), 0, "every skipped key was used");
    replies.sort();
    for (key, (index, reply)) in keys.into_iter().zip(replies) {
        assert_eq!(key.index(), index);
        assert_eq!(
            key.open(&reply, Purpose::Deliver, "bob")
                .expect("opens")
                .as_str(),
            TICKET
        );
    }
}

#[test]
fn an_index_is_answered_once() {
    let (_, mut sealer) = chain();
    sealer.key_for(2).expect("2");
    sealer.key_for(1).expect("1, skipped before");
    assert_eq!(sealer.key_for(1).map(|_| ()), Err(ChainError::Used(1)));
    assert_eq!(sealer.key_for(2).map(|_| ()), Err(ChainError::Used(2)));
    assert_eq!(sealer.key_for(0).map(|_| ()), Err(ChainError::Zero));
}

#[test]
fn an_index_too_far_ahead_is_refused_and_moves_nothing() {
    let (mut requester, mut sealer) = chain();
    assert_eq!(
        sealer.key_for(MAX_AHEAD + 2).map(|_| ()),
        Err(ChainError::TooFarAhead(MAX_AHEAD + 2))
    );
    let key = requester.next_key();
    let reply = sealed(&mut sealer, 1, Purpose::Login, "alice");
    assert!(key.open(&reply, Purpose::Login, "alice").is_ok());
    // The farthest allowed still works, keeping every key it skipped.
    sealer.key_for(2 + MAX_AHEAD).expect("at the limit");
    assert_eq!(sealer.skipped(), MAX_SKIPPED);
    sealer.key_for(2).expect("the first skipped key is kept");
    sealer
        .key_for(2 + MAX_AHEAD - 1)
        .expect("the last skipped key is kept");
    // Past MAX_SKIPPED kept keys, the oldest goes.
    let next = 3 + MAX_AHEAD;
    sealer.key_for(next + MAX_AHEAD).expect("another jump");
    assert_eq!(sealer.skipped(), MAX_SKIPPED);
    assert_eq!(sealer.key_for(3).map(|_| ()), Err(ChainError::Used(3)));
}

#[test]
fn a_reply_opens_only_with_its_index_purpose_and_user() {
    let (mut requester, mut sealer) = chain();
    let (one, two) = (requester.next_key(), requester.next_key());
    let reply = sealed(&mut sealer, 1, Purpose::Login, "alice");
    // The second request's key does not open the first's reply.
    assert_eq!(
        two.open(&reply, Purpose::Login, "alice").map(|_| ()),
        Err(SealError::WontOpen)
    );
    // Nor does the first's, once the header names another index.
    let mut relabelled = reply.clone();
    relabelled[8] = 2;
    assert_eq!(
        one.open(&relabelled, Purpose::Login, "alice").map(|_| ()),
        Err(SealError::WontOpen)
    );
    // Nor does it open a reply sealed under another index's key whose
    // header was made to name its own index: the key differs.
    let (mut requester, mut sealer) = chain();
    let (first_key, _) = (requester.next_key(), requester.next_key());
    let mut misnamed = sealed(&mut sealer, 2, Purpose::Login, "alice");
    misnamed[8] = 1;
    assert_eq!(
        first_key
            .open(&misnamed, Purpose::Login, "alice")
            .map(|_| ()),
        Err(SealError::WontOpen)
    );
    // A changed ciphertext, another purpose or another user: none opens.
    let forged = |purpose, user, flip: bool| {
        let (mut requester, mut sealer) = chain();
        let key = requester.next_key();
        let mut reply = sealed(&mut sealer, 1, Purpose::Login, "alice");
        if flip {
            reply[CHAIN_HEADER_LEN] ^= 1;
        }
        key.open(&reply, purpose, user).map(|_| ())
    };
    assert_eq!(
        forged(Purpose::Login, "alice", true),
        Err(SealError::WontOpen)
    );
    assert_eq!(
        forged(Purpose::Renew, "alice", false),
        Err(SealError::WontOpen)
    );
    assert_eq!(
        forged(Purpose::Login, "bob", false),
        Err(SealError::WontOpen)
    );
    assert_eq!(forged(Purpose::Login, "alice", false), Ok(()));
}

#[test]
fn chain_seals_and_reply_key_seals_are_not_taken_for_each_other() {
    let (mut requester, mut sealer) = chain();
    let key = requester.next_key();
    let chained = sealed(&mut sealer, 1, Purpose::Login, "alice");
    let reply_key = ReplyKey::generate();
    assert_eq!(
        reply_key
            .open(&chained, Purpose::Login, "alice")
            .map(|_| ()),
        Err(SealError::Malformed)
    );
    let other = ReplyKey::generate();
    let keyed = SealTo::from_bytes(&other.public_bytes())
        .expect("key")
        .seal(TICKET, Purpose::Login, "alice")
        .expect("seal");
    assert_eq!(
        key.open(&keyed, Purpose::Login, "alice").map(|_| ()),
        Err(SealError::Malformed)
    );
}

#[test]
fn a_chain_begins_only_with_a_usable_key() {
    for bad in [Vec::new(), vec![0; 32], vec![1; 31]] {
        assert_eq!(
            SealerChain::begin(&bad).map(|_| ()),
            Err(SealError::BadReplyKey)
        );
        assert_eq!(
            RequesterChain::begin(ReplyKey::generate(), &bad).map(|_| ()),
            Err(SealError::BadReplyKey)
        );
    }
}

#[test]
fn the_two_sides_of_different_chains_do_not_agree() {
    let (mut requester, _) = chain();
    let (_, mut other) = chain();
    let key = requester.next_key();
    let reply = sealed(&mut other, 1, Purpose::Login, "alice");
    assert_eq!(
        key.open(&reply, Purpose::Login, "alice").map(|_| ()),
        Err(SealError::WontOpen)
    );
}

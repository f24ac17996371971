use super::*;

const TICKET: &str =
    "mk2.Y2xhaW1z.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ";

fn sealed_for(key: &ReplyKey, purpose: Purpose, user: &str) -> Vec<u8> {
    SealTo::from_bytes(&key.public_bytes())
        .expect("a fresh reply key")
        .seal(TICKET, purpose, user)
        .expect("sealing")
}

#[test]
fn a_sealed_ticket_opens_with_its_reply_key_and_context() {
    for purpose in [Purpose::Login, Purpose::Renew, Purpose::Deliver] {
        let key = ReplyKey::generate();
        let sealed = sealed_for(&key, purpose, "alice");
        assert_eq!(sealed.len(), HEADER_LEN + TICKET.len() + TAG_LEN);
        let opened = key.open(&sealed, purpose, "alice").expect("opening");
        assert_eq!(opened.as_str(), TICKET);
    }
}

#[test]
fn the_sealed_bytes_hold_no_part_of_the_ticket() {
    let key = ReplyKey::generate();
    let sealed = sealed_for(&key, Purpose::Login, "alice");
    for piece in TICKET.as_bytes().windows(8) {
        assert!(
            !sealed.windows(8).any(|w| w == piece),
            "{:?} in clear",
            String::from_utf8_lossy(piece)
        );
    }
}

#[test]
fn two_seals_of_one_ticket_differ() {
    let key = ReplyKey::generate();
    let to = SealTo::from_bytes(&key.public_bytes()).expect("key");
    let one = to.seal(TICKET, Purpose::Login, "alice").expect("seal");
    let two = to.seal(TICKET, Purpose::Login, "alice").expect("seal");
    assert_ne!(one, two, "each seal has a key pair of its own");
}

#[test]
fn another_reply_key_does_not_open_it() {
    let key = ReplyKey::generate();
    let sealed = sealed_for(&key, Purpose::Login, "alice");
    let other = ReplyKey::generate();
    assert_eq!(
        other.open(&sealed, Purpose::Login, "alice"),
        Err(SealError::WontOpen)
    );
}

#[test]
fn any_changed_byte_keeps_it_shut() {
    // Every byte after the version: auth's public key, the ciphertext and
    // the tag. Opening uses a key up, so each try seals with a fresh one.
    let len = HEADER_LEN + TICKET.len() + TAG_LEN;
    for at in 1..len {
        let key = ReplyKey::generate();
        let mut tampered = sealed_for(&key, Purpose::Login, "alice");
        tampered[at] ^= 0x01;
        assert_eq!(
            key.open(&tampered, Purpose::Login, "alice"),
            Err(SealError::WontOpen),
            "byte {at} changed"
        );
    }
}

#[test]
fn the_seal_binds_its_purpose_and_user() {
    let key = ReplyKey::generate();
    let sealed = sealed_for(&key, Purpose::Login, "alice");
    assert_eq!(
        key.open(&sealed, Purpose::Renew, "alice"),
        Err(SealError::WontOpen)
    );
    let key = ReplyKey::generate();
    let sealed = sealed_for(&key, Purpose::Login, "alice");
    assert_eq!(
        key.open(&sealed, Purpose::Login, "mallory"),
        Err(SealError::WontOpen)
    );
    let key = ReplyKey::generate();
    let sealed = sealed_for(&key, Purpose::Deliver, "alice");
    assert_eq!(
        key.open(&sealed, Purpose::Login, "alice"),
        Err(SealError::WontOpen)
    );
}

#[test]
fn the_seal_binds_the_requester_key_in_its_key_derivation() {
    // A seal whose header names auth's key but whose ciphertext was made
    // under another requester key does not open: the cipher key depends
    // on both public keys, not only on the shared secret.
    let key = ReplyKey::generate();
    let to = SealTo::from_bytes(&key.public_bytes()).expect("key");
    let requester = key.public;
    let secret = EphemeralSecret::random_from_rng(OsRng);
    let sealer = X25519Public::from(&secret);
    let shared = secret.diffie_hellman(&to.0);
    let other = X25519Public::from([9u8; 32]);
    let wrong = cipher(&shared, &other, &sealer).expect("cipher");
    let mut body = TICKET.as_bytes().to_vec();
    let tag = wrong
        .encrypt_in_place_detached(
            &Nonce::default(),
            &associated_data(Purpose::Login, "alice"),
            &mut body,
        )
        .expect("encrypt");
    let mut sealed = vec![VERSION];
    sealed.extend_from_slice(sealer.as_bytes());
    sealed.extend_from_slice(&body);
    sealed.extend_from_slice(&tag);
    assert_ne!(requester, other);
    assert_eq!(
        key.open(&sealed, Purpose::Login, "alice"),
        Err(SealError::WontOpen)
    );
}

#[test]
fn malformed_seals_are_refused_before_any_work() {
    let short = vec![VERSION; HEADER_LEN + TAG_LEN - 1];
    assert_eq!(
        ReplyKey::generate().open(&short, Purpose::Login, "alice"),
        Err(SealError::Malformed)
    );
    let long = vec![VERSION; MAX_SEALED_LEN + 1];
    assert_eq!(
        ReplyKey::generate().open(&long, Purpose::Login, "alice"),
        Err(SealError::Malformed)
    );
    let key = ReplyKey::generate();
    let mut sealed = sealed_for(&key, Purpose::Login, "alice");
    sealed[0] = 2;
    assert_eq!(
        key.open(&sealed, Purpose::Login, "alice"),
        Err(SealError::Malformed)
    );
}

#[test]
fn reply_keys_of_the_wrong_length_or_small_order_are_refused() {
    assert_eq!(SealTo::from_bytes(&[]), Err(SealError::BadReplyKey));
    assert_eq!(SealTo::from_bytes(&[7; 31]), Err(SealError::BadReplyKey));
    assert_eq!(SealTo::from_bytes(&[7; 33]), Err(SealError::BadReplyKey));
    // The identity and a point of order 8: the shared secret would be
    // all zeros, known to anyone.
    assert_eq!(SealTo::from_bytes(&[0; 32]), Err(SealError::BadReplyKey));
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(SealTo::from_bytes(&one), Err(SealError::BadReplyKey));
    let order_8: [u8; 32] = [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ];
    assert_eq!(SealTo::from_bytes(&order_8), Err(SealError::BadReplyKey));
}

#[test]
fn an_over_long_ticket_is_not_sealed() {
    let key = ReplyKey::generate();
    let to = SealTo::from_bytes(&key.public_bytes()).expect("key");
    let long = "x".repeat(MAX_TICKET_LEN + 1);
    assert_eq!(
        to.seal(&long, Purpose::Login, "alice"),
        Err(SealError::TooLong)
    );
}

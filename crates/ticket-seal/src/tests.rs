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
    let wrong_key = seal_key(REPLY_INFO_LABEL, &shared, &other, &sealer).expect("key");
    let wrong = ChaCha20Poly1305::new(Key::from_slice(wrong_key.as_slice()));
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
fn every_refused_encoding_is_a_key_whose_exchange_is_not_contributory() {
    // Each listed encoding, with bit 255 clear or set: the library agrees
    // that an exchange with it gives a secret known to anyone.
    for listed in super::SMALL_ORDER {
        for high in [0u8, 0x80] {
            let mut key = listed;
            key[31] |= high;
            assert_eq!(
                SealTo::from_bytes(&key),
                Err(SealError::BadReplyKey),
                "{key:?}"
            );
            let shared = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng)
                .diffie_hellman(&x25519_dalek::PublicKey::from(key));
            assert!(!shared.was_contributory(), "{key:?}");
        }
    }
    // A real key is taken and sealed to.
    let key = ReplyKey::generate();
    let to = SealTo::from_bytes(&key.public_bytes()).expect("a real key");
    assert!(to.seal("t", Purpose::Login, "alice").is_ok());
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

// The other direction: a renewal's old ticket sealed to auth's request key.

const MATERIAL: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn auth_key() -> RequestKey {
    RequestKey::derive(MATERIAL)
}

fn renewal_sealed(to: &RequestKey, user: &str, reply_key: &[u8]) -> Vec<u8> {
    SealTo::from_bytes(&to.public_bytes())
        .expect("auth's request key")
        .seal_renewal(TICKET, user, reply_key)
        .expect("sealing")
}

#[test]
fn a_renewals_old_ticket_opens_with_auths_request_key() {
    let auth = auth_key();
    let reply = ReplyKey::generate().public_bytes();
    let sealed = renewal_sealed(&auth, "alice", &reply);
    assert_eq!(sealed.len(), HEADER_LEN + TICKET.len() + TAG_LEN);
    for piece in TICKET.as_bytes().windows(8) {
        assert!(!sealed.windows(8).any(|w| w == piece), "ticket in clear");
    }
    // The key is static: it opens any number of seals.
    for _ in 0..2 {
        let opened = auth
            .open_renewal(&sealed, "alice", &reply)
            .expect("opening");
        assert_eq!(opened.as_str(), TICKET);
    }
}

#[test]
fn the_request_key_is_the_same_for_the_same_material_only() {
    assert_eq!(auth_key().public_bytes(), auth_key().public_bytes());
    let other = RequestKey::derive(b"another signing key's material");
    assert_ne!(other.public_bytes(), auth_key().public_bytes());
    // A restarted auth (a key derived anew) opens what was sealed before.
    let reply = ReplyKey::generate().public_bytes();
    let sealed = renewal_sealed(&auth_key(), "alice", &reply);
    let restarted = RequestKey::derive(MATERIAL);
    assert_eq!(
        restarted
            .open_renewal(&sealed, "alice", &reply)
            .expect("opening")
            .as_str(),
        TICKET
    );
    assert_eq!(
        other.open_renewal(&sealed, "alice", &reply),
        Err(SealError::WontOpen)
    );
}

#[test]
fn any_changed_byte_of_a_renewal_seal_keeps_it_shut() {
    let auth = auth_key();
    let reply = ReplyKey::generate().public_bytes();
    let sealed = renewal_sealed(&auth, "alice", &reply);
    for at in 1..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x01;
        assert_eq!(
            auth.open_renewal(&tampered, "alice", &reply),
            Err(SealError::WontOpen),
            "byte {at} changed"
        );
    }
    let mut tampered = sealed;
    tampered[0] = 2;
    assert_eq!(
        auth.open_renewal(&tampered, "alice", &reply),
        Err(SealError::Malformed)
    );
}

#[test]
fn a_renewal_seal_binds_its_user_and_reply_key() {
    let auth = auth_key();
    let reply = ReplyKey::generate().public_bytes();
    let sealed = renewal_sealed(&auth, "alice", &reply);
    assert_eq!(
        auth.open_renewal(&sealed, "mallory", &reply),
        Err(SealError::WontOpen)
    );
    // Replayed in a request whose answer would go to another key.
    let other_reply = ReplyKey::generate().public_bytes();
    assert_eq!(
        auth.open_renewal(&sealed, "alice", &other_reply),
        Err(SealError::WontOpen)
    );
    assert_eq!(
        auth.open_renewal(&sealed, "alice", &reply[..31]),
        Err(SealError::BadReplyKey)
    );
}

#[test]
fn the_two_directions_do_not_open_each_others_seals() {
    // A reply sealed to a key pair open as a renewal's old ticket: the
    // request key cannot be handed a reply (different label and data),
    // and a renewal seal is not a reply under any purpose.
    let auth = auth_key();
    let reply = ReplyKey::generate().public_bytes();
    let to_auth = SealTo::from_bytes(&auth.public_bytes()).expect("key");
    for purpose in [Purpose::Login, Purpose::Renew, Purpose::Deliver] {
        let as_reply = to_auth.seal(TICKET, purpose, "alice").expect("seal");
        assert_eq!(
            auth.open_renewal(&as_reply, "alice", &reply),
            Err(SealError::WontOpen),
            "{purpose:?}"
        );
    }
    let key = ReplyKey::generate();
    let to_requester = SealTo::from_bytes(&key.public_bytes()).expect("key");
    let renewal = to_requester.seal_renewal(TICKET, "", &reply).expect("seal");
    assert_eq!(
        key.open(&renewal, Purpose::Renew, ""),
        Err(SealError::WontOpen)
    );
}

#[test]
fn the_request_key_debug_shows_no_secret() {
    let auth = auth_key();
    let shown = format!("{auth:?}");
    assert!(shown.starts_with("RequestKey"), "{shown}");
    assert!(!shown.contains("secret"), "{shown}");
}

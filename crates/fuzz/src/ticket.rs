//! Ticket decoding and verification (`crates/ticket`), as the broker,
//! gateways and storage processes run it on what a protocol process sends.
//!
//! Properties checked:
//! * the input as a ticket: whatever verifies is byte for byte the ticket
//!   the host key signs for those claims (no second spelling of a signed
//!   ticket, no forgery), and the caching verifier agrees with the plain
//!   one;
//! * claims built from the input: signed, they verify to the same claims
//!   (or `Expired` past their expiry); with any one byte changed or cut
//!   short they never verify; under another key they are a bad signature,
//!   from a host not trusted an unknown issuer;
//! * public keys, private keys and trusted-host lists parsed from the
//!   input write back to text that parses to the same value.

use std::sync::OnceLock;

use mailkeep_ticket::{
    Claims, HostKey, PublicKey, Scope, SessionId, TicketError, TrustedHosts, Verifier, sign,
};

/// The fuzz host's name and key seed: fixed, so that corpus tickets
/// signed with it stay valid.
const HOST: &str = "fuzz.example";
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// "Now" for verification: corpus tickets expire later than this.
const NOW: i64 = 1_800_000_000;

/// The fuzz host's key, and the list that trusts it.
fn host() -> &'static (HostKey, TrustedHosts) {
    static HOST_KEY: OnceLock<(HostKey, TrustedHosts)> = OnceLock::new();
    HOST_KEY.get_or_init(|| {
        let key = HostKey::parse(SEED).expect("the fixed seed is a key");
        let mut trusted = TrustedHosts::new();
        trusted
            .insert(HOST, key.public())
            .expect("one host in an empty list");
        (key, trusted)
    })
}

/// Runs one input through every ticket check.
pub fn ticket(data: &[u8]) {
    as_ticket(data);
    signed_claims(data);
    key_texts(data);
}

/// The input as a ticket string.
fn as_ticket(data: &[u8]) {
    let (key, trusted) = host();
    let text = String::from_utf8_lossy(data);
    let result = trusted.verify(&text, NOW);
    if let Ok(claims) = &result {
        assert_eq!(
            *sign(key, claims),
            text,
            "a second spelling of a ticket verifies"
        );
    }
    let verifier = Verifier::new(trusted.clone());
    assert_eq!(verifier.verify(&text, NOW), result);
    assert_eq!(
        verifier.verify(&text, NOW),
        result,
        "the cache changed the answer"
    );
}

/// Claims made from the input, signed, then tampered with.
fn signed_claims(data: &[u8]) {
    let (key, trusted) = host();
    let claims = claims_from(data);
    let ticket = sign(key, &claims);
    let expected = if claims.expires_unix > NOW {
        Ok(claims.clone())
    } else {
        Err(TicketError::Expired)
    };
    assert_eq!(trusted.verify(&ticket, NOW), expected);
    if expected.is_err() {
        return;
    }
    let bytes = ticket.as_bytes();
    let pick = |i: usize| usize::from(data.get(i).copied().unwrap_or(7));
    for round in 0..4 {
        let at = (pick(round) * 31 + round) % bytes.len();
        let mut flipped = bytes.to_vec();
        flipped[at] ^= u8::try_from(pick(round + 4) % 255 + 1).unwrap_or(1);
        if let Ok(flipped) = std::str::from_utf8(&flipped) {
            assert!(
                trusted.verify(flipped, NOW).is_err(),
                "a ticket with byte {at} changed still verifies"
            );
        }
        let cut = &ticket[..at];
        assert!(
            trusted.verify(cut, NOW).is_err(),
            "a ticket cut at {at} verifies"
        );
    }
    let other = HostKey::parse(&SEED.replace('9', "8")).expect("a key");
    let mut wrong_key = TrustedHosts::new();
    wrong_key.insert(HOST, other.public()).expect("one host");
    assert_eq!(
        wrong_key.verify(&ticket, NOW),
        Err(TicketError::BadSignature)
    );
    let mut elsewhere = TrustedHosts::new();
    elsewhere
        .insert("other.example", key.public())
        .expect("one host");
    assert_eq!(
        elsewhere.verify(&ticket, NOW),
        Err(TicketError::UnknownIssuer(HOST.into()))
    );
}

/// Claims whose fields come from the input's bytes.
fn claims_from(data: &[u8]) -> Claims {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let number = |i: usize| {
        let mut b = [0u8; 8];
        for (j, slot) in b.iter_mut().enumerate() {
            *slot = byte(i + j);
        }
        i64::from_le_bytes(b)
    };
    let text = data.get(24..).unwrap_or_default();
    let split = usize::from(byte(0)).min(text.len());
    let (user, stamp) = text.split_at(split);
    let mut session = [0u8; 16];
    for (j, slot) in session.iter_mut().enumerate() {
        *slot = byte(8 + j);
    }
    Claims {
        user: String::from_utf8_lossy(user).into_owned(),
        scope: match byte(1) % 3 {
            0 => Scope::Session,
            1 => Scope::Deliver,
            _ => Scope::Admin,
        },
        session: SessionId(session),
        issued_unix: number(2) % (NOW * 2),
        expires_unix: NOW + number(3) % 100_000,
        session_ends_unix: number(4),
        issuer: HOST.into(),
        password_stamp: stamp.to_vec(),
    }
}

/// The input as key and trusted-list texts.
fn key_texts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = PublicKey::parse(&text) {
        assert_eq!(PublicKey::parse(&key.to_string()), Ok(key));
    }
    if let Ok(key) = HostKey::parse(&text) {
        let again = HostKey::parse(&key.to_file_contents()).expect("a written key parses");
        assert_eq!(again.public(), key.public());
    }
    if let Ok(list) = TrustedHosts::parse(&text) {
        assert_eq!(TrustedHosts::parse(&list.to_file_contents()), Ok(list));
    }
}

/// Pieces of tickets and key files.
pub static DICTIONARY: &[&[u8]] = &[
    b"mk2.",
    b".",
    b"mk1.",
    b"=",
    b"-",
    b"_",
    b"+",
    b"/",
    b"\n",
    b"#",
    b" ",
    b"fuzz.example ",
    b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    b"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
];

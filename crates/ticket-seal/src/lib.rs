//! Sealed tickets: how a ticket travels from auth to the process that
//! asked for it without ever being in clear on the connection (DESIGN §2).
//! A protocol process keeps its auth connection open for its whole life,
//! and the transport's read buffer keeps the last reply's bytes until the
//! next reply overwrites them; a ticket in clear there would outlive the
//! session whose end wiped every other copy. So each request carries the
//! public half of a key pair made for it alone ([`ReplyKey`]); auth seals
//! the ticket to it ([`SealTo::seal`]) and the requester opens it
//! ([`ReplyKey::open`]) into a string that is wiped when dropped. What is
//! left on the connection opens with nothing that still exists: the
//! requester's secret is wiped once used.
//!
//! The seal: X25519 between the requester's key and a key auth makes for
//! this one seal, HKDF-SHA256 of the shared secret (with both public keys
//! in its info) to a ChaCha20-Poly1305 key, and the purpose and user as
//! associated data, so a sealed ticket opens only for the request it
//! answers and only as what it claims to be. The sealing side makes a key
//! pair for each seal alone, so no cipher key ever serves two messages
//! (even toward auth's static request key) and the nonce can be fixed
//! (zero). The version byte is in the key derivation too, so a later form
//! cannot be taken for this one.
//!
//! Wire form: `0x01 || auth's public key (32) || ciphertext || tag (16)`.
//!
//! That costs two X25519 scalar multiplications per request on the
//! login's path (auth's key pair and exchange, the requester's exchange).
//! A requester that keeps one connection to auth begins a reply chain on
//! it instead ([`RequesterChain`], [`SealerChain`]: one exchange per
//! connection, then a one-way key chain with one key per request; see the
//! `chain` module), whose seals say so in their version byte (2).
//!
//! The other direction: a renewal must show auth the old ticket, and the
//! request's bytes stay in the connection's write buffer just as a reply's
//! stay in its read buffer. So auth has a static key of its own
//! ([`RequestKey`], derived from its signing key material, its public half
//! sent with every login), and the requester seals the old ticket to it
//! ([`SealTo::seal_renewal`]) with a key pair made for that seal alone;
//! auth opens it ([`RequestKey::open_renewal`]). Same wire form and
//! construction (the header's key is then the requester's key for that
//! seal), another HKDF label, and as associated data the purpose
//! `renew-request`, the renewal's reply key and the user: what the
//! requester's buffer keeps opens only with auth's secret, only as that
//! renewal, whose answer only the (wiped) reply key opens.
//!
//! The X25519 secrets, the shared secret, the derived key (and the cipher
//! holding it) and the opened plaintext are wiped when dropped; HKDF's
//! working state is not (the hkdf crate cannot wipe it) and, like every
//! value moved on a stack, may leave a copy there until overwritten. A
//! reply chain's steps, made for every request, use no HKDF (see the
//! `chain` module); its first chain key, derived once per connection, does.
//!
//! A crate of its own, apart from `mailkeep-ticket`, so that the protocol
//! processes, which open sealed tickets, still link no ticket signing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey as X25519Public, SharedSecret, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The longest ticket sealed or opened: `mailkeep-ticket`'s
/// `MAX_TICKET_LEN` (auth's tests check they agree).
pub const MAX_TICKET_LEN: usize = 4096;

/// The length of a reply key (an X25519 public key) in a request.
pub const REPLY_KEY_LEN: usize = 32;

/// The format version, the first byte of a sealed ticket.
const VERSION: u8 = 1;

/// The length of the Poly1305 tag at the end of a sealed ticket.
const TAG_LEN: usize = 16;

/// What comes before the ciphertext: the version and the sealer's public
/// key (auth's key for this seal, or for a renewal's old ticket the
/// requester's).
const HEADER_LEN: usize = 1 + REPLY_KEY_LEN;

/// The longest sealed ticket accepted, so opening never works on huge
/// input.
pub const MAX_SEALED_LEN: usize = HEADER_LEN + MAX_TICKET_LEN + TAG_LEN;

/// The start of the HKDF info of a seal from auth to a requester's reply
/// key, which ends with both public keys.
const REPLY_INFO_LABEL: &[u8] = b"mailkeep ticket seal v1";

/// The start of the HKDF info of a seal from a requester to auth's
/// request key: the other direction has a key derivation of its own.
const REQUEST_INFO_LABEL: &[u8] = b"mailkeep request seal v1";

/// The purpose label of a renewal's old ticket sealed to auth.
const RENEW_REQUEST: &[u8] = b"renew-request";

/// HKDF's salt and info when auth's request key is derived from its
/// signing key material: used for nothing else.
const REQUEST_KEY_SALT: &[u8] = b"mailkeep auth request key";
const REQUEST_KEY_INFO: &[u8] = b"x25519 v1";

/// Why a ticket could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The request's reply key (or auth's request key, when sealing to
    /// it) is missing, not 32 bytes, or a point of small order (which
    /// would make the shared secret public).
    #[error("reply key must be a 32-byte X25519 public key of full order")]
    BadReplyKey,
    /// Too short or long, or of an unknown version.
    #[error("sealed ticket is malformed")]
    Malformed,
    /// The seal does not open with this key, purpose and user: tampered
    /// with, or sealed for another request.
    #[error("sealed ticket does not open with this key and context")]
    WontOpen,
    /// The ticket is longer than any ticket may be.
    #[error("ticket too long to seal")]
    TooLong,
}

/// What a sealed ticket answers, bound into the seal: a ticket sealed as
/// the answer to a renewal does not open as a login's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A session ticket after a login (Auth.Step's success).
    Login,
    /// A session ticket that replaces an older one (Auth.Renew).
    Renew,
    /// A deliver ticket for one recipient (Auth.Deliver).
    Deliver,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Login => b"login",
            Purpose::Renew => b"renew",
            Purpose::Deliver => b"deliver",
        }
    }
}

/// The requester's key pair for one request: the public half goes in the
/// request, the secret half opens the reply and is wiped when dropped or
/// used.
pub struct ReplyKey {
    secret: EphemeralSecret,
    public: X25519Public,
}

impl ReplyKey {
    /// A new random key pair.
    pub fn generate() -> ReplyKey {
        let secret = EphemeralSecret::random_from_rng(OsRng);
        let public = X25519Public::from(&secret);
        ReplyKey { secret, public }
    }

    /// The public half, for the request's `reply_key` field.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.as_bytes().to_vec()
    }

    /// Opens the ticket sealed to this key for `purpose` and `user` (empty
    /// for a renewal, whose reply names no user). The key is used up.
    pub fn open(
        self,
        sealed: &[u8],
        purpose: Purpose,
        user: &str,
    ) -> Result<Zeroizing<String>, SealError> {
        let ReplyKey { secret, public } = self;
        open_with(
            sealed,
            &public,
            |sealer| secret.diffie_hellman(sealer),
            REPLY_INFO_LABEL,
            &associated_data(purpose, user),
        )
    }
}

impl std::fmt::Debug for ReplyKey {
    /// Shows the public half only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyKey")
            .field("public", self.public.as_bytes())
            .finish_non_exhaustive()
    }
}

/// A requester's reply key as auth read it from a request: whom a ticket
/// is sealed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealTo(X25519Public);

impl SealTo {
    /// Reads a request's `reply_key`: 32 bytes, and not one of the
    /// encodings of a point of small order ([`SMALL_ORDER`]), refused here
    /// before any work for the request. (A trial exchange would tell the
    /// same at the cost of a scalar multiplication per login; a seal still
    /// refuses any key whose exchange is not contributory.)
    pub fn from_bytes(bytes: &[u8]) -> Result<SealTo, SealError> {
        let bytes: [u8; REPLY_KEY_LEN] = bytes.try_into().map_err(|_| SealError::BadReplyKey)?;
        if is_small_order(&bytes) {
            return Err(SealError::BadReplyKey);
        }
        Ok(SealTo(X25519Public::from(bytes)))
    }

    /// Seals `ticket` for `purpose` and `user` (empty for a renewal) to
    /// this key, with a key pair made for this seal alone.
    pub fn seal(&self, ticket: &str, purpose: Purpose, user: &str) -> Result<Vec<u8>, SealError> {
        seal_with(
            &self.0,
            ticket,
            REPLY_INFO_LABEL,
            &associated_data(purpose, user),
        )
    }

    /// Seals the old ticket of a renewal (Auth.Renew) of `user`'s session
    /// to auth's [`RequestKey`] (this key, read from a login's
    /// `request_key`), bound to the renewal's `reply_key`: it opens only
    /// with auth's request key, only as the old ticket of that user's
    /// renewal, and only in a request whose answer goes to that reply key,
    /// so the sealed bytes, replayed with any other reply key, renew
    /// nothing for whoever replays them.
    pub fn seal_renewal(
        &self,
        ticket: &str,
        user: &str,
        reply_key: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        seal_with(
            &self.0,
            ticket,
            REQUEST_INFO_LABEL,
            &renewal_data(user, reply_key)?,
        )
    }
}

/// Auth's static X25519 key for what requesters seal to auth: the old
/// ticket of a renewal ([`SealTo::seal_renewal`]), so that no ticket is in
/// clear in the write direction of a protocol process's auth connection
/// either. Derived from auth's persistent signing key material, so it is
/// the same after a restart and a session's renewals keep working across
/// one; its public half goes to the requester in every login's success.
/// The secret is wiped when dropped.
pub struct RequestKey {
    secret: StaticSecret,
    public: X25519Public,
}

impl RequestKey {
    /// The request key whose secret material is `material` (auth passes a
    /// keyed digest that only its signing key can make): HKDF-SHA256 of it
    /// with a label of its own, so the X25519 key is independent of
    /// anything else derived from the same material.
    pub fn derive(material: &[u8]) -> RequestKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        // 32 bytes are always within HKDF's limit, so this cannot fail;
        // were it to, the all-zero secret is clamped to a valid scalar.
        let _ = Hkdf::<Sha256>::new(Some(REQUEST_KEY_SALT), material)
            .expand(REQUEST_KEY_INFO, bytes.as_mut_slice());
        let secret = StaticSecret::from(*bytes);
        let public = X25519Public::from(&secret);
        RequestKey { secret, public }
    }

    /// The public half, for a login success's `request_key`.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.as_bytes().to_vec()
    }

    /// Opens the old ticket of a renewal of `user`'s session, sealed to
    /// this key by [`SealTo::seal_renewal`] for the request's `reply_key`.
    pub fn open_renewal(
        &self,
        sealed: &[u8],
        user: &str,
        reply_key: &[u8],
    ) -> Result<Zeroizing<String>, SealError> {
        open_with(
            sealed,
            &self.public,
            |sealer| self.secret.diffie_hellman(sealer),
            REQUEST_INFO_LABEL,
            &renewal_data(user, reply_key)?,
        )
    }
}

impl std::fmt::Debug for RequestKey {
    /// Shows the public half only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestKey")
            .field("public", self.public.as_bytes())
            .finish_non_exhaustive()
    }
}

/// The encodings of the Montgomery u-coordinates of the points of small
/// order on Curve25519 (bit 255 ignored, as X25519 ignores it): 0, 1, the
/// two of order 8, and p−1, p, p+1. An exchange with any of them gives a
/// shared secret that anyone can compute.
const SMALL_ORDER: [[u8; REPLY_KEY_LEN]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    prime_plus(-1),
    prime_plus(0),
    prime_plus(1),
];

/// The little-endian encoding of p + `delta` (p = 2^255 − 19), for a
/// `delta` in −1..=1.
const fn prime_plus(delta: i8) -> [u8; REPLY_KEY_LEN] {
    let mut bytes = [0xff; REPLY_KEY_LEN];
    bytes[0] = (0xed_i16 + delta as i16) as u8;
    bytes[REPLY_KEY_LEN - 1] = 0x7f;
    bytes
}

/// Whether `key` (bit 255 ignored) is one of [`SMALL_ORDER`].
fn is_small_order(key: &[u8; REPLY_KEY_LEN]) -> bool {
    let mut masked = *key;
    masked[REPLY_KEY_LEN - 1] &= 0x7f;
    SMALL_ORDER.contains(&masked)
}

/// Seals `ticket` to `recipient` with a key pair made for this seal alone:
/// the wire form of the crate's documentation.
fn seal_with(
    recipient: &X25519Public,
    ticket: &str,
    label: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, SealError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(SealError::TooLong);
    }
    let secret = EphemeralSecret::random_from_rng(OsRng);
    let sealer = X25519Public::from(&secret);
    let shared = secret.diffie_hellman(recipient);
    if !shared.was_contributory() {
        return Err(SealError::BadReplyKey);
    }
    let key = seal_key(label, &shared, recipient, &sealer)?;
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1..].copy_from_slice(sealer.as_bytes());
    seal_in(&header, &key, ticket, data)
}

/// `header`, then `ticket` encrypted under `key` (ChaCha20-Poly1305, nonce
/// zero: every key seals one message) with `data` as associated data,
/// then the tag.
pub(crate) fn seal_in(
    header: &[u8],
    key: &[u8; 32],
    ticket: &str,
    data: &[u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.as_slice()));
    let mut sealed = Vec::with_capacity(header.len() + ticket.len() + TAG_LEN);
    sealed.extend_from_slice(header);
    // Within the capacity: never reallocated, so no copy of the clear
    // ticket is left behind in a freed buffer.
    sealed.extend_from_slice(ticket.as_bytes());
    // Encrypted where it lies: the buffer never holds the clear ticket
    // once this returns.
    let tag = cipher
        .encrypt_in_place_detached(&Nonce::default(), data, &mut sealed[header.len()..])
        .map_err(|_| SealError::TooLong)?;
    sealed.extend_from_slice(&tag);
    Ok(sealed)
}

/// Opens a seal made to `recipient` (whose secret `exchange` holds) for
/// `label` and `data`, into a string that is wiped when dropped.
fn open_with(
    sealed: &[u8],
    recipient: &X25519Public,
    exchange: impl FnOnce(&X25519Public) -> SharedSecret,
    label: &[u8],
    data: &[u8],
) -> Result<Zeroizing<String>, SealError> {
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed.len() > MAX_SEALED_LEN || sealed[0] != VERSION
    {
        return Err(SealError::Malformed);
    }
    let (header, rest) = sealed.split_at(HEADER_LEN);
    let sealer: [u8; REPLY_KEY_LEN] = header[1..].try_into().map_err(|_| SealError::Malformed)?;
    let sealer = X25519Public::from(sealer);
    let shared = exchange(&sealer);
    if !shared.was_contributory() {
        return Err(SealError::WontOpen);
    }
    let key = seal_key(label, &shared, recipient, &sealer)?;
    open_in(rest, &key, data)
}

/// Decrypts `body` (ciphertext, then the tag) under `key` with `data` as
/// associated data, into a string that is wiped when dropped.
pub(crate) fn open_in(
    body: &[u8],
    key: &[u8; 32],
    data: &[u8],
) -> Result<Zeroizing<String>, SealError> {
    if body.len() < TAG_LEN {
        return Err(SealError::Malformed);
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.as_slice()));
    let (body, tag) = body.split_at(body.len() - TAG_LEN);
    let mut plain = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place_detached(&Nonce::default(), data, &mut plain, Tag::from_slice(tag))
        .map_err(|_| SealError::WontOpen)?;
    // Moved, not copied, into the string that is wiped when dropped.
    match String::from_utf8(std::mem::take(&mut *plain)) {
        Ok(ticket) => Ok(Zeroizing::new(ticket)),
        Err(error) => {
            error.into_bytes().zeroize();
            Err(SealError::Malformed)
        }
    }
}

/// The AEAD key of one seal: HKDF-SHA256 of the shared secret, with the
/// wire form's version, the direction's label and both public keys (the
/// recipient's first) as info; wiped when dropped.
fn seal_key(
    label: &[u8],
    shared: &SharedSecret,
    recipient: &X25519Public,
    sealer: &X25519Public,
) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, shared.as_bytes())
        .expand_multi_info(
            &[&[VERSION], label, recipient.as_bytes(), sealer.as_bytes()],
            key.as_mut_slice(),
        )
        // 32 bytes are always within HKDF's limit.
        .map_err(|_| SealError::Malformed)?;
    Ok(key)
}

/// The associated data of a renewal's old ticket: the purpose label, a
/// NUL, the request's reply key (32 bytes), a NUL, and the user.
fn renewal_data(user: &str, reply_key: &[u8]) -> Result<Vec<u8>, SealError> {
    if reply_key.len() != REPLY_KEY_LEN {
        return Err(SealError::BadReplyKey);
    }
    let mut data = Vec::with_capacity(RENEW_REQUEST.len() + 2 + REPLY_KEY_LEN + user.len());
    data.extend_from_slice(RENEW_REQUEST);
    data.push(0);
    data.extend_from_slice(reply_key);
    data.push(0);
    data.extend_from_slice(user.as_bytes());
    Ok(data)
}

/// The purpose's label, a NUL, and the user.
pub(crate) fn associated_data(purpose: Purpose, user: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(purpose.label().len() + 1 + user.len());
    data.extend_from_slice(purpose.label());
    data.push(0);
    data.extend_from_slice(user.as_bytes());
    data
}

mod chain;
pub use chain::{ChainError, ChainedKey, MAX_AHEAD, MAX_SKIPPED, RequesterChain, SealerChain};

#[cfg(test)]
mod tests;

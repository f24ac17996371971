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
//! answers and only as what it claims to be. Every key is used for one
//! message, so the nonce is fixed (zero).
//!
//! Wire form: `0x01 || auth's public key (32) || ciphertext || tag (16)`.
//!
//! The X25519 secrets, the shared secret, the derived key (and the cipher
//! holding it) and the opened plaintext are wiped when dropped; HKDF's
//! working state is not (the hkdf crate cannot wipe it) and, like every
//! value moved on a stack, may leave a copy there until overwritten.
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
use x25519_dalek::{EphemeralSecret, PublicKey as X25519Public, SharedSecret};
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

/// What comes before the ciphertext: the version and auth's public key.
const HEADER_LEN: usize = 1 + REPLY_KEY_LEN;

/// The longest sealed ticket accepted, so opening never works on huge
/// input.
pub const MAX_SEALED_LEN: usize = HEADER_LEN + MAX_TICKET_LEN + TAG_LEN;

/// The start of the HKDF info, which ends with both public keys.
const INFO_LABEL: &[u8] = b"mailkeep ticket seal v1";

/// Why a ticket could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The request's reply key is missing, not 32 bytes, or a point of
    /// small order (which would make the shared secret public).
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
        if sealed.len() < HEADER_LEN + TAG_LEN
            || sealed.len() > MAX_SEALED_LEN
            || sealed[0] != VERSION
        {
            return Err(SealError::Malformed);
        }
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let sealer: [u8; REPLY_KEY_LEN] =
            header[1..].try_into().map_err(|_| SealError::Malformed)?;
        let sealer = X25519Public::from(sealer);
        let shared = self.secret.diffie_hellman(&sealer);
        if !shared.was_contributory() {
            return Err(SealError::WontOpen);
        }
        let cipher = cipher(&shared, &self.public, &sealer)?;
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = Zeroizing::new(body.to_vec());
        cipher
            .decrypt_in_place_detached(
                &Nonce::default(),
                &associated_data(purpose, user),
                &mut plain,
                Tag::from_slice(tag),
            )
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
    /// Reads a request's `reply_key`: 32 bytes, and not a point of small
    /// order (checked with a throwaway exchange, so that sealing to it
    /// cannot fail later).
    pub fn from_bytes(bytes: &[u8]) -> Result<SealTo, SealError> {
        let bytes: [u8; REPLY_KEY_LEN] = bytes.try_into().map_err(|_| SealError::BadReplyKey)?;
        let key = X25519Public::from(bytes);
        if !EphemeralSecret::random_from_rng(OsRng)
            .diffie_hellman(&key)
            .was_contributory()
        {
            return Err(SealError::BadReplyKey);
        }
        Ok(SealTo(key))
    }

    /// Seals `ticket` for `purpose` and `user` (empty for a renewal) to
    /// this key, with a key pair made for this seal alone.
    pub fn seal(&self, ticket: &str, purpose: Purpose, user: &str) -> Result<Vec<u8>, SealError> {
        if ticket.len() > MAX_TICKET_LEN {
            return Err(SealError::TooLong);
        }
        let secret = EphemeralSecret::random_from_rng(OsRng);
        let sealer = X25519Public::from(&secret);
        let shared = secret.diffie_hellman(&self.0);
        if !shared.was_contributory() {
            return Err(SealError::BadReplyKey);
        }
        let cipher = cipher(&shared, &self.0, &sealer)?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + ticket.len() + TAG_LEN);
        sealed.push(VERSION);
        sealed.extend_from_slice(sealer.as_bytes());
        sealed.extend_from_slice(ticket.as_bytes());
        // Encrypted where it lies: the buffer never holds the clear ticket
        // once this returns.
        let tag = cipher
            .encrypt_in_place_detached(
                &Nonce::default(),
                &associated_data(purpose, user),
                &mut sealed[HEADER_LEN..],
            )
            .map_err(|_| SealError::TooLong)?;
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }
}

/// The AEAD of one seal: its key is HKDF-SHA256 of the shared secret, with
/// the label and both public keys (requester's first) as info. The cipher
/// wipes its key when dropped; the derived bytes are wiped here.
fn cipher(
    shared: &SharedSecret,
    requester: &X25519Public,
    sealer: &X25519Public,
) -> Result<ChaCha20Poly1305, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, shared.as_bytes())
        .expand_multi_info(
            &[INFO_LABEL, requester.as_bytes(), sealer.as_bytes()],
            key.as_mut_slice(),
        )
        // 32 bytes are always within HKDF's limit.
        .map_err(|_| SealError::Malformed)?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(key.as_slice())))
}

/// The purpose's label, a NUL, and the user.
fn associated_data(purpose: Purpose, user: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(purpose.label().len() + 1 + user.len());
    data.extend_from_slice(purpose.label());
    data.push(0);
    data.extend_from_slice(user.as_bytes());
    data
}

#[cfg(test)]
mod tests;

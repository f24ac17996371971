//! Reply chains: one X25519 exchange per auth connection instead of one
//! per request.
//!
//! A sealed reply to a key made for one request ([`crate::ReplyKey`])
//! costs auth a key pair and an exchange and the requester another
//! exchange: two scalar multiplications on every login's path, about a
//! quarter of a login's cryptography on the machines we measure. A chain
//! keeps what that bought (what a connection's buffers keep of a reply
//! opens with nothing that still exists) at the price of one exchange
//! when the connection opens:
//!
//! - The requester makes a key pair, auth another; both derive the
//!   chain's first chain key from the exchange with HKDF-SHA256 (both
//!   public keys in the info).
//! - Request `i` (from 1) names its index. The chain key of `i` gives the
//!   message key of `i` and the chain key of `i + 1`: the 64 bytes of
//!   ChaCha20 keystream under the chain key with the index as nonce, the
//!   first half the message key, the second the next chain key, written
//!   over the old one ("fast key erasure": the cipher's state is wiped
//!   when dropped, as HKDF's is not, so a step leaves nothing behind that
//!   makes its keys again). Nothing derives an earlier key from a later
//!   one.
//! - Auth seals request `i`'s ticket with message key `i` (ChaCha20-
//!   Poly1305, nonce zero: the chain gives each index's key once, it seals
//!   that request's one reply and is wiped with it), the purpose and user as associated data as in a
//!   reply-key seal, and the index in the key's derivation and the wire
//!   form, whose version byte (2) differs from a reply-key seal's (1).
//! - The requester keeps only the next chain key and each pending
//!   request's message key, wiped when the reply is opened or the request
//!   abandoned. Auth keeps its next chain key and the message keys of
//!   indexes skipped because their requests come later than a later one
//!   (requests on one connection run side by side), at most
//!   [`MAX_SKIPPED`] of them, never deriving more than that many ahead; a
//!   message key is taken when used, so an index is answered once.
//!
//! Wire form: `0x02 || index (8 bytes, big-endian) || ciphertext || tag (16)`.

use std::collections::BTreeMap;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey as X25519Public};
use zeroize::Zeroizing;

use crate::{
    MAX_TICKET_LEN, Purpose, ReplyKey, SealError, SealTo, TAG_LEN, associated_data, open_in,
    seal_in,
};

/// The version byte of a seal under a chain's message key.
const CHAIN_VERSION: u8 = 2;

/// What comes before the ciphertext: the version and the index.
const CHAIN_HEADER_LEN: usize = 1 + 8;

/// The HKDF info label of a chain's first chain key.
const ROOT_LABEL: &[u8] = b"mailkeep reply chain v1";

/// The most message keys auth keeps for skipped indexes of one chain;
/// beyond it the oldest goes (its request, if it ever comes, is refused).
pub const MAX_SKIPPED: usize = 256;

/// How far beyond the next expected index a request may be: further is
/// refused without deriving anything. No more than [`MAX_SKIPPED`], so a
/// jump ahead never derives keys only to drop them.
pub const MAX_AHEAD: u64 = MAX_SKIPPED as u64;

/// A chain key or message key, wiped when dropped.
type Secret = Zeroizing<[u8; 32]>;

/// Why a chain could not give the key of an index.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// Index 0, which no request uses.
    #[error("reply index 0 is not an index")]
    Zero,
    /// The index was answered already, or its key dropped for room.
    #[error("reply index {0} was used already or is too old")]
    Used(u64),
    /// Too far beyond the next expected index.
    #[error("reply index {0} is too far ahead of the chain")]
    TooFarAhead(u64),
}

/// The message key of one index of a chain: seals (auth) or opens (the
/// requester) the one reply of the request with that index, and is wiped
/// when dropped or used.
pub struct ChainedKey {
    index: u64,
    key: Secret,
}

impl ChainedKey {
    /// The request's index, for its `reply_index` field.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Seals `ticket` for `purpose` and `user`: auth seals the one answer
    /// to the index's request with it, and drops it with the request (the
    /// chain gives no index's key twice).
    pub fn seal(&self, ticket: &str, purpose: Purpose, user: &str) -> Result<Vec<u8>, SealError> {
        if ticket.len() > MAX_TICKET_LEN {
            return Err(SealError::TooLong);
        }
        let mut header = [0u8; CHAIN_HEADER_LEN];
        header[0] = CHAIN_VERSION;
        header[1..].copy_from_slice(&self.index.to_be_bytes());
        seal_in(&header, &self.key, ticket, &associated_data(purpose, user))
    }

    /// Opens the reply sealed under this key for `purpose` and `user`; the
    /// key is used up.
    pub fn open(
        self,
        sealed: &[u8],
        purpose: Purpose,
        user: &str,
    ) -> Result<Zeroizing<String>, SealError> {
        if sealed.len() < CHAIN_HEADER_LEN + TAG_LEN
            || sealed.len() > CHAIN_HEADER_LEN + MAX_TICKET_LEN + TAG_LEN
            || sealed[0] != CHAIN_VERSION
        {
            return Err(SealError::Malformed);
        }
        if sealed[1..CHAIN_HEADER_LEN] != self.index.to_be_bytes() {
            return Err(SealError::WontOpen);
        }
        open_in(
            &sealed[CHAIN_HEADER_LEN..],
            &self.key,
            &associated_data(purpose, user),
        )
    }
}

impl std::fmt::Debug for ChainedKey {
    /// Shows the index only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedKey")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// One step of a chain: the message key of `index`, with `chain_key` (the
/// chain key of `index`) overwritten by the next chain key.
fn step(chain_key: &mut Secret, index: u64) -> ChainedKey {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    let mut stream = Zeroizing::new([0u8; 64]);
    // Wiped when dropped (the crate's zeroize feature).
    let mut cipher = ChaCha20::new(chain_key.as_ref().into(), &nonce.into());
    cipher.apply_keystream(stream.as_mut_slice());
    drop(cipher);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&stream[..32]);
    chain_key.copy_from_slice(&stream[32..]);
    ChainedKey { index, key }
}

/// The first chain key, from the exchange between the requester's key
/// (`requester`) and auth's (`sealer`).
fn root(
    shared: &[u8; 32],
    requester: &X25519Public,
    sealer: &X25519Public,
) -> Result<Secret, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, shared)
        .expand_multi_info(
            &[
                &[CHAIN_VERSION],
                ROOT_LABEL,
                requester.as_bytes(),
                sealer.as_bytes(),
            ],
            key.as_mut_slice(),
        )
        // 32 bytes are always within HKDF's limit.
        .map_err(|_| SealError::Malformed)?;
    Ok(key)
}

/// The requester's side of a chain: the chain key of the next request.
pub struct RequesterChain {
    next: u64,
    chain_key: Secret,
}

impl RequesterChain {
    /// The chain begun with `key` (whose public half the requester sent to
    /// auth, and which is used up here) and auth's answer, its own public
    /// key for the chain (`sealer`).
    pub fn begin(key: ReplyKey, sealer: &[u8]) -> Result<RequesterChain, SealError> {
        let sealer = SealTo::from_bytes(sealer)?.0;
        let ReplyKey { secret, public } = key;
        let shared = secret.diffie_hellman(&sealer);
        if !shared.was_contributory() {
            return Err(SealError::BadReplyKey);
        }
        Ok(RequesterChain {
            next: 1,
            chain_key: root(shared.as_bytes(), &public, &sealer)?,
        })
    }

    /// The index the next request will have.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// The message key of the next request (its index goes in the
    /// request); the chain moves past it.
    pub fn next_key(&mut self) -> ChainedKey {
        let key = step(&mut self.chain_key, self.next);
        self.next += 1;
        key
    }
}

impl std::fmt::Debug for RequesterChain {
    /// Shows the next index only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequesterChain")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Auth's side of a chain: the chain key of the next index, and the
/// message keys of the indexes skipped so far.
pub struct SealerChain {
    next: u64,
    chain_key: Secret,
    skipped: BTreeMap<u64, Secret>,
}

impl SealerChain {
    /// Begins a chain with the requester's public key (`requester`, 32
    /// bytes); returns it and auth's public key for it, which the
    /// requester needs to begin its side.
    pub fn begin(requester: &[u8]) -> Result<(SealerChain, Vec<u8>), SealError> {
        let requester = SealTo::from_bytes(requester)?.0;
        let secret = EphemeralSecret::random_from_rng(OsRng);
        let sealer = X25519Public::from(&secret);
        let shared = secret.diffie_hellman(&requester);
        if !shared.was_contributory() {
            return Err(SealError::BadReplyKey);
        }
        let chain = SealerChain {
            next: 1,
            chain_key: root(shared.as_bytes(), &requester, &sealer)?,
            skipped: BTreeMap::new(),
        };
        Ok((chain, sealer.as_bytes().to_vec()))
    }

    /// The message key of `index`, taken: a second request with the same
    /// index is refused.
    pub fn key_for(&mut self, index: u64) -> Result<ChainedKey, ChainError> {
        if index == 0 {
            return Err(ChainError::Zero);
        }
        if index < self.next {
            return self
                .skipped
                .remove(&index)
                .map(|key| ChainedKey { index, key })
                .ok_or(ChainError::Used(index));
        }
        if index - self.next > MAX_AHEAD {
            return Err(ChainError::TooFarAhead(index));
        }
        loop {
            let key = step(&mut self.chain_key, self.next);
            self.next += 1;
            if key.index == index {
                return Ok(key);
            }
            self.skipped.insert(key.index, key.key);
            if self.skipped.len() > MAX_SKIPPED {
                self.skipped.pop_first();
            }
        }
    }

    /// How many skipped indexes' keys are kept (for tests and the log).
    pub fn skipped(&self) -> usize {
        self.skipped.len()
    }
}

impl std::fmt::Debug for SealerChain {
    /// Shows the next index and how many keys are kept only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealerChain")
            .field("next", &self.next)
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;

//! A host's ticket signing key (Ed25519) and its public half, and their
//! file formats: the private key file holds the 32-byte seed as 64 hex
//! digits; a public key is written as 43 characters of unpadded base64url.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, Zeroizing};

/// Why a key or a trusted-host list could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The private key file's contents are not 64 hex digits.
    #[error("host key file must hold 64 hex digits (a 32-byte Ed25519 seed)")]
    BadPrivateKey,
    /// A public key is not 43 characters of base64url for 32 bytes, or not
    /// a point of the curve.
    #[error("public key {0:?} is not an Ed25519 public key in base64url")]
    BadPublicKey(String),
    /// A line of a trusted-host list is not `NAME PUBLIC-KEY`.
    #[error("trusted-host list line {line}: {reason}")]
    BadLine {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// One host name listed with two different keys.
    #[error("host {0:?} is trusted with two different public keys")]
    Conflict(String),
}

/// A host's private ticket signing key. Only that host's auth process
/// holds one; it is wiped from memory when dropped.
pub struct HostKey(SigningKey);

impl HostKey {
    /// A new random key.
    pub fn generate() -> HostKey {
        let mut seed: [u8; 32] = rand::random();
        let key = HostKey(SigningKey::from_bytes(&seed));
        seed.zeroize();
        key
    }

    /// Parses a key file's contents (hex, surrounding whitespace ignored).
    pub fn parse(contents: &str) -> Result<HostKey, KeyError> {
        let text = contents.trim();
        if text.len() != 64 {
            return Err(KeyError::BadPrivateKey);
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(KeyError::BadPrivateKey)?;
            let lo = hex_val(pair[1]).ok_or(KeyError::BadPrivateKey)?;
            seed[i] = hi << 4 | lo;
        }
        Ok(HostKey(SigningKey::from_bytes(&seed)))
    }

    /// The key file's contents for this key (wiped when dropped).
    pub fn to_file_contents(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.0.to_bytes());
        let mut s = Zeroizing::new(String::with_capacity(65));
        for b in seed.iter() {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0xf));
        }
        s.push('\n');
        s
    }

    /// The public half, which every verifier of this host's tickets holds.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// A keyed digest of `data` for `context` that only this key can
    /// compute: the nonce point of the (deterministic) Ed25519 signature
    /// of `context`, a zero byte and `data`. Auth stamps tickets with the
    /// digest of the user's stored password with it, so a renewal can tell
    /// the password changed without the ticket revealing anything of it.
    pub fn digest(&self, context: &str, data: &[u8]) -> [u8; 16] {
        let mut message = Zeroizing::new(Vec::with_capacity(context.len() + 1 + data.len()));
        message.extend_from_slice(context.as_bytes());
        message.push(0);
        message.extend_from_slice(data);
        let signature = self.sign(&message);
        let mut out = [0u8; 16];
        out.copy_from_slice(&signature[..16]);
        out
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostKey(public {})", self.public())
    }
}

/// A host's public ticket key: verifies that host's tickets, signs none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the text form (43 characters of unpadded base64url).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let text = text.trim();
        let bad = || KeyError::BadPublicKey(text.chars().take(64).collect());
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| bad())
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex_digit(v: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(v & 0xf)])
}

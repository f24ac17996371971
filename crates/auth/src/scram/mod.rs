//! SCRAM (RFC 5802, and RFC 7677 for SHA-256): the keys a server keeps for
//! an account, in Dovecot's stored format, and the server side of the
//! exchange ([`server`]), whose messages [`message`] parses.
//!
//! Dovecot stores `{SCRAM-SHA-256}<iterations>,<salt>,<StoredKey>,<ServerKey>`
//! (salt and keys in base64). That holds neither the password nor the
//! SaltedPassword, only what a server needs to check a client's proof and
//! prove itself back; the same keys also check a plaintext password
//! (PLAIN, LOGIN) by deriving them again.
//!
//! Built on RustCrypto's HMAC, SHA-1/SHA-2 and PBKDF2 rather than on a SCRAM
//! crate. rsasl 2.3's server (the crate DESIGN.md names) panics on short
//! client-first messages such as `n,,` (it slices attributes without a length
//! check), answers an unknown user with a fresh random salt and
//! `e=unknown-user` (both tell an attacker the name is unknown), and takes
//! `n` on a -PLUS mechanism. scram-rs and scram need the SaltedPassword,
//! which Dovecot's records do not hold.

pub(crate) mod message;
pub(crate) mod server;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The iteration count of new records: Dovecot's default (`doveadm pw`), and
/// the least RFC 7677 recommends.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The fewest iterations a stored record may have; Dovecot refuses fewer.
const MIN_ITERATIONS: u32 = 4096;

/// The most iterations a stored record may have (Dovecot's limit, INT_MAX).
const MAX_ITERATIONS: u32 = i32::MAX as u32;

/// The salt length of new records, in bytes (as Dovecot's).
pub(crate) const SALT_LEN: usize = 16;

/// The hash function a SCRAM mechanism or record is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SCRAM-SHA-1 (RFC 5802).
    Sha1,
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
}

impl ScramHash {
    /// The name of the stored scheme and of the (non-PLUS) mechanism.
    pub fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// The length of the hash output, and so of every key, in bytes.
    pub(crate) fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    /// HMAC(key, the concatenation of `parts`).
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC takes keys of any length, so this cannot fail.
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            ScramHash::Sha1 => run::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        }
    }

    /// H(data).
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// SaltedPassword = Hi(password, salt, i), which is PBKDF2 with HMAC
    /// of this hash and one block of output.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.output_len()];
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out),
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
        }
        out
    }
}

/// What a server keeps to run SCRAM for one account: the iteration count,
/// the salt (as the base64 text sent to clients), StoredKey and ServerKey.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ScramKeys {
    pub(crate) hash: ScramHash,
    pub(crate) iterations: u32,
    /// Base64, exactly as stored: clients get this text in server-first.
    pub(crate) salt_b64: String,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramKeys {
    // The keys let whoever holds them pose as the server: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramKeys")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramKeys {
    /// Derives the keys of `password` with `salt` and `iterations`:
    /// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
    /// HMAC(SaltedPassword, "Server Key"). The password is used as given,
    /// without SASLprep, as Dovecot does, so that records made by either
    /// check the same plaintext passwords.
    pub(crate) fn derive(hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = hash.salted_password(password, salt, iterations);
        let client_key = hash.hmac(&salted, &[b"Client Key"]);
        ScramKeys {
            hash,
            iterations,
            salt_b64: STANDARD.encode(salt),
            stored_key: hash.digest(&client_key),
            server_key: hash.hmac(&salted, &[b"Server Key"]),
        }
    }

    /// New keys for `password` with a fresh random salt and
    /// [`DEFAULT_ITERATIONS`].
    pub(crate) fn generate(hash: ScramHash, password: &[u8]) -> Self {
        let salt: [u8; SALT_LEN] = rand::random();
        ScramKeys::derive(hash, password, &salt, DEFAULT_ITERATIONS)
    }

    /// Parses the part of a stored record after `{SCRAM-SHA-…}`:
    /// `iterations,salt,StoredKey,ServerKey`. The error says what is wrong
    /// (never the keys).
    pub(crate) fn parse(hash: ScramHash, text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.trim().split(',').collect();
        let [iterations, salt_b64, stored_key, server_key] = fields.as_slice() else {
            return Err(format!(
                "expected iterations,salt,StoredKey,ServerKey; found {} fields",
                fields.len()
            ));
        };
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .filter(|n| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(n))
            .ok_or_else(|| {
                format!(
                    "iteration count must be a number from {MIN_ITERATIONS} to {MAX_ITERATIONS}"
                )
            })?;
        STANDARD
            .decode(salt_b64)
            .map_err(|e| format!("salt is not base64: {e}"))?;
        let key = |text: &str, what: &str| -> Result<Vec<u8>, String> {
            let bytes = STANDARD
                .decode(text)
                .map_err(|e| format!("{what} is not base64: {e}"))?;
            if bytes.len() != hash.output_len() {
                return Err(format!(
                    "{what} has {} bytes, {} needs {}",
                    bytes.len(),
                    hash.name(),
                    hash.output_len()
                ));
            }
            Ok(bytes)
        };
        Ok(ScramKeys {
            hash,
            iterations,
            salt_b64: (*salt_b64).to_owned(),
            stored_key: key(stored_key, "StoredKey")?,
            server_key: key(server_key, "ServerKey")?,
        })
    }

    /// The stored record, `{SCRAM-SHA-…}iterations,salt,StoredKey,ServerKey`.
    pub(crate) fn to_record(&self) -> String {
        format!(
            "{{{}}}{},{},{},{}",
            self.hash.name(),
            self.iterations,
            self.salt_b64,
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }

    /// Whether `password` has these keys: derives StoredKey again with the
    /// record's salt and iterations and compares in constant time.
    pub(crate) fn matches_password(&self, password: &[u8]) -> bool {
        // `parse` checked the salt, so this decodes.
        let Ok(salt) = STANDARD.decode(&self.salt_b64) else {
            return false;
        };
        let derived = ScramKeys::derive(self.hash, password, &salt, self.iterations);
        bool::from(derived.stored_key.ct_eq(&self.stored_key))
    }
}

#[cfg(test)]
#[path = "../tests/scram_keys.rs"]
mod tests;

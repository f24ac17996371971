//! Password schemes, as Dovecot names them: checking a password against a
//! stored `{SCHEME}...` string, and hashing new passwords.
//!
//! Supported for verification: `{PLAIN}` (aliases `{CLEAR}`, `{CLEARTEXT}`),
//! `{SHA512-CRYPT}` (`$6$`), `{SHA256-CRYPT}` (`$5$`), `{BLF-CRYPT}`
//! (`$2y$`/`$2b$`/`$2a$`), `{ARGON2ID}` and `{ARGON2I}` (PHC strings),
//! `{SSHA512}` and `{SHA512}` (base64, or hex with the `.HEX` suffix). A
//! string without `{SCHEME}`, or `{CRYPT}`, is treated as crypt(3) output
//! and recognised by its `$id$` prefix. Anything else is an error, so an
//! unknown scheme never lets anyone in.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::AuthError;

/// The length of a SHA-512 digest in bytes.
const SHA512_LEN: usize = 64;

/// Why a stored password string could not be checked at all (as opposed to
/// a wrong password, which is `Ok(false)`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemeError {
    /// The scheme is not one this build knows.
    #[error("unknown password scheme {0:?}")]
    Unknown(String),
    /// The scheme is known but the stored string is not valid for it.
    #[error("malformed {scheme} password: {detail}")]
    Malformed {
        /// The scheme.
        scheme: &'static str,
        /// What is wrong (never the hash itself).
        detail: String,
    },
}

/// The schemes this module can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Plain,
    Sha512Crypt,
    Sha256Crypt,
    BlfCrypt,
    Argon2id,
    Argon2i,
    Ssha512,
    Sha512,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Plain => "PLAIN",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Argon2i => "ARGON2I",
            Scheme::Ssha512 => "SSHA512",
            Scheme::Sha512 => "SHA512",
        }
    }

    fn from_name(name: &str) -> Option<Scheme> {
        Some(match name {
            "PLAIN" | "CLEAR" | "CLEARTEXT" => Scheme::Plain,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "ARGON2ID" => Scheme::Argon2id,
            "ARGON2I" => Scheme::Argon2i,
            "SSHA512" => Scheme::Ssha512,
            "SHA512" => Scheme::Sha512,
            _ => return None,
        })
    }

    /// The scheme of crypt(3) output, by its `$id$` prefix.
    fn from_crypt(hash: &str) -> Option<Scheme> {
        if hash.starts_with("$6$") {
            Some(Scheme::Sha512Crypt)
        } else if hash.starts_with("$5$") {
            Some(Scheme::Sha256Crypt)
        } else if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
            Some(Scheme::BlfCrypt)
        } else if hash.starts_with("$argon2id$") {
            Some(Scheme::Argon2id)
        } else if hash.starts_with("$argon2i$") {
            Some(Scheme::Argon2i)
        } else {
            None
        }
    }
}

/// How the binary digest of `{SHA512}`/`{SSHA512}` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Base64,
    Hex,
}

/// Checks `password` against `stored` (`{SCHEME}hash`). `Ok(true)` when it
/// matches, `Ok(false)` when it does not, `Err` when `stored` cannot be
/// checked (unknown scheme, malformed hash): callers refuse the login then
/// too, and log the error. Comparisons of digests are constant-time.
pub fn verify_password(stored: &str, password: &[u8]) -> Result<bool, SchemeError> {
    let (scheme, encoding, hash) = split_scheme(stored)?;
    match scheme {
        Scheme::Plain => Ok(bool::from(hash.as_bytes().ct_eq(password))),
        Scheme::Sha512 => {
            let want = decode(scheme, encoding, hash)?;
            if want.len() != SHA512_LEN {
                return Err(malformed(scheme, format!("digest of {} bytes", want.len())));
            }
            Ok(bool::from(Sha512::digest(password).as_slice().ct_eq(&want)))
        }
        Scheme::Ssha512 => {
            let want = decode(scheme, encoding, hash)?;
            if want.len() <= SHA512_LEN {
                return Err(malformed(scheme, "no salt after the digest".to_owned()));
            }
            let (digest, salt) = want.split_at(SHA512_LEN);
            let mut hasher = Sha512::new();
            hasher.update(password);
            hasher.update(salt);
            Ok(bool::from(hasher.finalize().as_slice().ct_eq(digest)))
        }
        Scheme::Sha512Crypt | Scheme::Sha256Crypt => verify_sha_crypt(scheme, hash, password),
        Scheme::BlfCrypt => {
            bcrypt::verify(password, hash).map_err(|e| malformed(scheme, e.to_string()))
        }
        Scheme::Argon2id | Scheme::Argon2i => verify_argon2(scheme, hash, password),
    }
}

/// Hashes `password` for storage, as `{ARGON2ID}$argon2id$v=19$m=...`
/// with a fresh random salt and the argon2 crate's default cost
/// (m=19456 KiB, t=2, p=1, the OWASP recommendation).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(format!("{{ARGON2ID}}{phc}"))
}

/// Splits `{SCHEME.ENC}hash` into its parts; a string without braces is
/// crypt(3) output.
fn split_scheme(stored: &str) -> Result<(Scheme, Encoding, &str), SchemeError> {
    let Some(rest) = stored.strip_prefix('{') else {
        return crypt_scheme(stored);
    };
    let Some((label, hash)) = rest.split_once('}') else {
        return Err(SchemeError::Unknown(stored.chars().take(20).collect()));
    };
    let label = label.to_ascii_uppercase();
    let (name, encoding) = match label.split_once('.') {
        None => (label.as_str(), Encoding::Base64),
        Some((name, "B64" | "BASE64")) => (name, Encoding::Base64),
        Some((name, "HEX")) => (name, Encoding::Hex),
        Some(_) => return Err(SchemeError::Unknown(label.clone())),
    };
    if name == "CRYPT" {
        return crypt_scheme(hash);
    }
    let scheme = Scheme::from_name(name).ok_or_else(|| SchemeError::Unknown(label.clone()))?;
    Ok((scheme, encoding, hash))
}

fn crypt_scheme(hash: &str) -> Result<(Scheme, Encoding, &str), SchemeError> {
    match Scheme::from_crypt(hash) {
        Some(scheme) => Ok((scheme, Encoding::Base64, hash)),
        None => Err(SchemeError::Unknown(
            "CRYPT (unrecognised or missing $id$ prefix)".to_owned(),
        )),
    }
}

fn malformed(scheme: Scheme, detail: String) -> SchemeError {
    SchemeError::Malformed {
        scheme: scheme.name(),
        detail,
    }
}

fn decode(scheme: Scheme, encoding: Encoding, text: &str) -> Result<Vec<u8>, SchemeError> {
    match encoding {
        Encoding::Base64 => STANDARD
            .decode(text.trim())
            .map_err(|e| malformed(scheme, format!("bad base64: {e}"))),
        Encoding::Hex => {
            hex::decode(text.trim()).map_err(|e| malformed(scheme, format!("bad hex: {e}")))
        }
    }
}

/// SHA-crypt (`$6$[rounds=N$]salt$hash`, `$5$...`), following glibc:
/// rounds outside 1000..=999999999 are clamped, the salt is cut at 16.
fn verify_sha_crypt(scheme: Scheme, hash: &str, password: &[u8]) -> Result<bool, SchemeError> {
    let parts: Vec<&str> = hash.split('$').collect();
    // ["", "6", ("rounds=N",)? salt, hash]
    let (rounds, salt, want) = match parts.as_slice() {
        ["", _, salt, want] => (sha_crypt::ROUNDS_DEFAULT, *salt, *want),
        ["", _, rounds, salt, want] => {
            let n = rounds
                .strip_prefix("rounds=")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| malformed(scheme, "bad rounds= field".to_owned()))?;
            let n = n.clamp(sha_crypt::ROUNDS_MIN as u64, sha_crypt::ROUNDS_MAX as u64);
            let n = usize::try_from(n).map_err(|_| malformed(scheme, "rounds".to_owned()))?;
            (n, *salt, *want)
        }
        _ => {
            return Err(malformed(
                scheme,
                "expected $id$[rounds=N$]salt$hash".to_owned(),
            ));
        }
    };
    let computed = if scheme == Scheme::Sha512Crypt {
        let params = sha_crypt::Sha512Params::new(rounds)
            .map_err(|e| malformed(scheme, format!("{e:?}")))?;
        sha_crypt::sha512_crypt_b64(password, salt.as_bytes(), &params)
    } else {
        let params = sha_crypt::Sha256Params::new(rounds)
            .map_err(|e| malformed(scheme, format!("{e:?}")))?;
        sha_crypt::sha256_crypt_b64(password, salt.as_bytes(), &params)
    }
    .map_err(|e| malformed(scheme, format!("{e:?}")))?;
    Ok(bool::from(computed.as_bytes().ct_eq(want.as_bytes())))
}

fn verify_argon2(scheme: Scheme, hash: &str, password: &[u8]) -> Result<bool, SchemeError> {
    let parsed = PasswordHash::new(hash).map_err(|e| malformed(scheme, e.to_string()))?;
    let algorithm = parsed.algorithm.as_str();
    if algorithm != "argon2id" && algorithm != "argon2i" {
        return Err(malformed(
            scheme,
            format!("algorithm {algorithm:?} is not argon2i(d)"),
        ));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(malformed(
            scheme,
            "PHC string without salt or hash".to_owned(),
        ));
    }
    match Argon2::default().verify_password(password, &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(malformed(scheme, e.to_string())),
    }
}

#[cfg(test)]
#[path = "tests/scheme.rs"]
mod tests;

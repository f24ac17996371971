//! Password schemes, as Dovecot names them: checking a password against a
//! stored `{SCHEME}...` string, and hashing new passwords.
//!
//! Supported for verification: `{PLAIN}` (aliases `{CLEAR}`, `{CLEARTEXT}`),
//! `{SHA512-CRYPT}` (`$6$`), `{SHA256-CRYPT}` (`$5$`), `{BLF-CRYPT}`
//! (`$2y$`/`$2b$`/`$2a$`), `{ARGON2ID}` and `{ARGON2I}` (PHC strings),
//! `{SSHA512}` and `{SHA512}` (base64, or hex with the `.HEX` suffix),
//! `{SCRAM-SHA-1}` and `{SCRAM-SHA-256}` (Dovecot's
//! `iterations,salt,StoredKey,ServerKey`). A string without `{SCHEME}`, or
//! `{CRYPT}`, is treated as crypt(3) output and recognised by its `$id$`
//! prefix. Anything else is an error, so an unknown scheme never lets
//! anyone in.
//!
//! New passwords are stored in one of [`PasswordScheme`]; SCRAM logins
//! need a `{SCRAM-…}` record of the mechanism's hash, or `{PLAIN}`
//! ([`scram_source`]).

use std::str::FromStr;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::AuthError;
use crate::scram::{ScramHash, ScramKeys};

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
    /// `--scheme` named a scheme new passwords cannot be stored in.
    #[error("password scheme {0:?} is unknown or cannot store new passwords; use one of {CHOICES}")]
    NotForNewPasswords(String),
}

/// The names [`PasswordScheme::from_str`] takes, for error messages.
const CHOICES: &str = "ARGON2ID (the default), ARGON2I, SCRAM-SHA-256, SCRAM-SHA-1, SHA512-CRYPT, SHA256-CRYPT, \
     BLF-CRYPT, SSHA512, PLAIN";

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
    ScramSha1,
    ScramSha256,
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
            Scheme::ScramSha1 => "SCRAM-SHA-1",
            Scheme::ScramSha256 => "SCRAM-SHA-256",
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
            "SCRAM-SHA-1" => Scheme::ScramSha1,
            "SCRAM-SHA-256" => Scheme::ScramSha256,
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
        Scheme::ScramSha1 | Scheme::ScramSha256 => {
            Ok(scram_keys(scheme, encoding, hash)?.matches_password(password))
        }
    }
}

/// What a stored password can give a SCRAM exchange of one hash.
#[derive(Debug)]
pub(crate) enum ScramSource {
    /// A `{SCRAM-…}` record of that hash.
    Keys(ScramKeys),
    /// A `{PLAIN}` password, from which keys can be derived.
    Plaintext(Vec<u8>),
    /// A valid password of a scheme that cannot serve this hash (a one-way
    /// hash such as argon2 or crypt, or SCRAM of the other hash).
    Unusable,
    /// A value that cannot be checked at all (unknown scheme, malformed).
    Invalid(SchemeError),
}

/// Classifies `stored` for a SCRAM exchange of `hash`, without checking
/// any password. A malformed value of a one-way scheme counts as unusable
/// only if it parses; SCRAM records are parsed in full.
pub(crate) fn scram_source(stored: &str, hash: ScramHash) -> ScramSource {
    let (scheme, encoding, text) = match split_scheme(stored) {
        Ok(parts) => parts,
        Err(error) => return ScramSource::Invalid(error),
    };
    let wanted = match hash {
        ScramHash::Sha1 => Scheme::ScramSha1,
        ScramHash::Sha256 => Scheme::ScramSha256,
    };
    match scheme {
        Scheme::Plain => ScramSource::Plaintext(text.as_bytes().to_vec()),
        Scheme::ScramSha1 | Scheme::ScramSha256 => match scram_keys(scheme, encoding, text) {
            Ok(keys) if scheme == wanted => ScramSource::Keys(keys),
            Ok(_) => ScramSource::Unusable,
            Err(error) => ScramSource::Invalid(error),
        },
        _ => ScramSource::Unusable,
    }
}

/// Parses a `{SCRAM-…}` record's text.
fn scram_keys(scheme: Scheme, encoding: Encoding, text: &str) -> Result<ScramKeys, SchemeError> {
    let hash = match scheme {
        Scheme::ScramSha1 => ScramHash::Sha1,
        _ => ScramHash::Sha256,
    };
    if encoding == Encoding::Hex {
        return Err(malformed(
            scheme,
            "a .HEX suffix is not defined for SCRAM".to_owned(),
        ));
    }
    ScramKeys::parse(hash, text).map_err(|detail| malformed(scheme, detail))
}

/// A scheme new passwords can be stored in (`mailkeep user add --scheme`).
/// Names are Dovecot's; [`PasswordScheme::from_str`] takes them in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordScheme {
    /// Argon2id (m=19456 KiB, t=2, p=1): the default; PLAIN and LOGIN only.
    #[default]
    Argon2id,
    /// Argon2i with the same cost.
    Argon2i,
    /// SCRAM-SHA-256 keys (4096 iterations): SCRAM-SHA-256(-PLUS), PLAIN, LOGIN.
    ScramSha256,
    /// SCRAM-SHA-1 keys (4096 iterations): SCRAM-SHA-1, PLAIN, LOGIN.
    ScramSha1,
    /// glibc SHA-512 crypt, 5000 rounds.
    Sha512Crypt,
    /// glibc SHA-256 crypt, 5000 rounds.
    Sha256Crypt,
    /// bcrypt (`$2y$`, cost 12).
    BlfCrypt,
    /// Salted SHA-512 (one round: weak, for old systems only).
    Ssha512,
    /// The password itself: serves every mechanism, and anyone who reads
    /// the file has it.
    Plain,
}

impl PasswordScheme {
    /// Every scheme new passwords can be stored in.
    pub const ALL: [PasswordScheme; 9] = [
        PasswordScheme::Argon2id,
        PasswordScheme::Argon2i,
        PasswordScheme::ScramSha256,
        PasswordScheme::ScramSha1,
        PasswordScheme::Sha512Crypt,
        PasswordScheme::Sha256Crypt,
        PasswordScheme::BlfCrypt,
        PasswordScheme::Ssha512,
        PasswordScheme::Plain,
    ];

    /// Dovecot's name of the scheme.
    pub fn name(self) -> &'static str {
        match self {
            PasswordScheme::Argon2id => "ARGON2ID",
            PasswordScheme::Argon2i => "ARGON2I",
            PasswordScheme::ScramSha256 => "SCRAM-SHA-256",
            PasswordScheme::ScramSha1 => "SCRAM-SHA-1",
            PasswordScheme::Sha512Crypt => "SHA512-CRYPT",
            PasswordScheme::Sha256Crypt => "SHA256-CRYPT",
            PasswordScheme::BlfCrypt => "BLF-CRYPT",
            PasswordScheme::Ssha512 => "SSHA512",
            PasswordScheme::Plain => "PLAIN",
        }
    }

    /// Hashes `password` for storage: `{SCHEME}...` with a fresh random
    /// salt. `{PLAIN}` refuses passwords with `:` or control characters,
    /// which would break the passwd-file's line.
    pub fn hash(self, password: &str) -> Result<String, AuthError> {
        let bytes = password.as_bytes();
        let hashed = match self {
            PasswordScheme::Argon2id => argon2_phc(Algorithm::Argon2id, bytes)?,
            PasswordScheme::Argon2i => argon2_phc(Algorithm::Argon2i, bytes)?,
            PasswordScheme::ScramSha256 => {
                return Ok(ScramKeys::generate(ScramHash::Sha256, bytes).to_record());
            }
            PasswordScheme::ScramSha1 => {
                return Ok(ScramKeys::generate(ScramHash::Sha1, bytes).to_record());
            }
            PasswordScheme::Sha512Crypt => {
                sha_crypt::sha512_simple(password, &sha_crypt::Sha512Params::default())
                    .map_err(|e| AuthError::Hash(format!("SHA512-CRYPT: {e:?}")))?
            }
            PasswordScheme::Sha256Crypt => {
                sha_crypt::sha256_simple(password, &sha_crypt::Sha256Params::default())
                    .map_err(|e| AuthError::Hash(format!("SHA256-CRYPT: {e:?}")))?
            }
            PasswordScheme::BlfCrypt => bcrypt::hash_with_result(bytes, bcrypt::DEFAULT_COST)
                .map_err(|e| AuthError::Hash(format!("BLF-CRYPT: {e}")))?
                .format_for_version(bcrypt::Version::TwoY),
            PasswordScheme::Ssha512 => {
                let salt: [u8; 16] = rand::random();
                let mut hasher = Sha512::new();
                hasher.update(bytes);
                hasher.update(salt);
                let mut raw = hasher.finalize().to_vec();
                raw.extend_from_slice(&salt);
                STANDARD.encode(raw)
            }
            PasswordScheme::Plain => {
                if password.contains(':') || password.chars().any(char::is_control) {
                    return Err(AuthError::BadField {
                        field: "password",
                        reason: "a {PLAIN} password may not contain ':' or control characters",
                    });
                }
                password.to_owned()
            }
        };
        Ok(format!("{{{}}}{hashed}", self.name()))
    }
}

impl FromStr for PasswordScheme {
    type Err = SchemeError;

    /// Dovecot's scheme name, in any case; `CLEAR` and `CLEARTEXT` are
    /// `PLAIN`.
    fn from_str(name: &str) -> Result<Self, SchemeError> {
        let upper = name.to_ascii_uppercase();
        let upper = match upper.as_str() {
            "CLEAR" | "CLEARTEXT" => "PLAIN",
            other => other,
        };
        PasswordScheme::ALL
            .into_iter()
            .find(|s| s.name() == upper)
            .ok_or_else(|| SchemeError::NotForNewPasswords(name.to_owned()))
    }
}

/// Whether checking a password against `stored` is deliberately slow (a
/// key-stretching scheme: argon2, crypt, bcrypt, SCRAM's PBKDF2), so it
/// must go through the bounded hashing pool. `{PLAIN}` and plain SHA-512
/// digests are not. A string that cannot be read counts as slow: the
/// decoy is hashed for it.
pub(crate) fn is_costly(stored: &str) -> bool {
    !matches!(
        split_scheme(stored),
        Ok((Scheme::Plain | Scheme::Sha512 | Scheme::Ssha512, _, _))
    )
}

/// Hashes `password` for storage, as `{ARGON2ID}$argon2id$v=19$m=...`
/// with a fresh random salt and the argon2 crate's default cost
/// (m=19456 KiB, t=2, p=1, the OWASP recommendation).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    PasswordScheme::Argon2id.hash(password)
}

/// A PHC string of `algorithm` with the argon2 crate's default cost.
fn argon2_phc(algorithm: Algorithm, password: &[u8]) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::new(algorithm, Version::V0x13, Params::default())
        .hash_password(password, &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(phc.to_string())
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
    let (Some(salt), Some(want)) = (parsed.salt, parsed.hash) else {
        return Err(malformed(
            scheme,
            "PHC string without salt or hash".to_owned(),
        ));
    };
    let bad = |e: argon2::password_hash::Error| malformed(scheme, e.to_string());
    let params = Params::try_from(&parsed).map_err(bad)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(bad)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| malformed(scheme, e.to_string()))?
        .unwrap_or_default();
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(bad)?;
    let mut computed = vec![0u8; want.len()];
    // The hash runs in the hashing thread's kept memory (see argon2_memory).
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    crate::argon2_memory::with_blocks(blocks, |memory| {
        hasher.hash_password_into_with_memory(password, salt, &mut computed, memory)
    })
    .map_err(|e| malformed(scheme, e.to_string()))?;
    Ok(bool::from(computed.as_slice().ct_eq(want.as_bytes())))
}

#[cfg(test)]
#[path = "tests/scheme.rs"]
mod tests;

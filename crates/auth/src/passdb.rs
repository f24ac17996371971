//! What the passwd-file gives each kind of login: a checked password for
//! PLAIN and LOGIN, and an account's SCRAM keys for SCRAM.
//!
//! Which account can use which mechanism follows from its stored scheme: a
//! `{SCRAM-SHA-256}` record serves SCRAM-SHA-256(-PLUS), PLAIN and LOGIN; a
//! `{SCRAM-SHA-1}` record SCRAM-SHA-1, PLAIN and LOGIN; `{PLAIN}` serves
//! everything (keys are derived on the fly); one-way hashes (argon2, crypt,
//! ...) serve PLAIN and LOGIN only, and a SCRAM attempt on them ends at once
//! with "mechanism unavailable".
//!
//! An unknown user name must not be told apart from an account, so a SCRAM
//! attempt on one looks like the kind of account most common in the file
//! for that mechanism: where most accounts can do it, the exchange runs on
//! with a made-up salt (the same for a name every time, from a secret of
//! this process, like Dovecot's) and fails as a wrong password would;
//! where most cannot, it ends as "mechanism unavailable". Only the rarer
//! kind of account stands out, which a per-account answer cannot avoid.

use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::AuthError;
use crate::reload::WatchedPasswdFile;
use crate::sasl::Credentials;
use crate::scheme::{ScramSource, scram_source, verify_password};
use crate::scram::server::ScramCredentials;
use crate::scram::{DEFAULT_ITERATIONS, SALT_LEN, ScramHash, ScramKeys};
use crate::userdb::{PasswdFile, UserEntry};

/// What checking credentials against the passdb found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The password matches; the canonical user name.
    Valid(String),
    /// Refused, with the reason for the log (never shown to the client).
    Refused(&'static str),
    /// Right credentials, but the account may not be used: the reason is
    /// shown to the client.
    NotServed(String),
}

/// What a SCRAM exchange gets for the user it names.
#[derive(Debug)]
pub(crate) enum ScramLookup {
    /// Keys to run the exchange on (the account's, or made up).
    Credentials(ScramCredentials),
    /// The mechanism cannot be used: the reason for the log.
    Unavailable(&'static str),
}

/// How many accounts of one file can and cannot do SCRAM of one hash.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    can: usize,
    cannot: usize,
}

/// The passwd-file as passdb.
#[derive(Debug)]
pub(crate) struct Passdb {
    file: WatchedPasswdFile,
    first_valid_uid: u32,
    /// Keys the made-up salts of unknown names (and of `{PLAIN}` accounts).
    fake_salt_key: [u8; 32],
    /// The tallies of the file version last counted, SHA-1 then SHA-256.
    tallies: Mutex<Option<(Arc<PasswdFile>, [Tally; 2])>>,
}

impl Passdb {
    /// The passdb in `file`; accounts with a uid below `first_valid_uid`
    /// (or 0, when it is above 0) are never served.
    pub(crate) fn new(file: WatchedPasswdFile, first_valid_uid: u32) -> Self {
        Passdb {
            file,
            first_valid_uid,
            fake_salt_key: rand::random(),
            tallies: Mutex::new(None),
        }
    }

    /// The watched file.
    pub(crate) fn file(&self) -> &WatchedPasswdFile {
        &self.file
    }

    /// Looks the user up and checks the password. Blocking (file I/O and
    /// deliberately slow hashes).
    pub(crate) fn check_password(&self, credentials: &Credentials) -> Result<Checked, AuthError> {
        let Some(entry) = self.file.lookup(&credentials.authcid)? else {
            return Ok(Checked::Refused("unknown user"));
        };
        if entry.password.is_empty() {
            return Ok(Checked::Refused("user has no password"));
        }
        match verify_password(&entry.password, &credentials.password) {
            Ok(true) => Ok(self.served(entry)),
            Ok(false) => Ok(Checked::Refused("wrong password")),
            Err(error) => {
                // Fails closed; the administrator must fix the stored value.
                tracing::warn!(user = ?entry.name, %error, path = %self.file.path().display(),
                    "stored password cannot be checked");
                Ok(Checked::Refused("stored password cannot be checked"))
            }
        }
    }

    /// After a SCRAM proof verified: whether `user` (still) exists and may
    /// be served.
    pub(crate) fn check_authenticated(&self, user: &str) -> Result<Checked, AuthError> {
        Ok(match self.file.lookup(user)? {
            Some(entry) => self.served(entry),
            None => Checked::Refused("user deleted during the exchange"),
        })
    }

    /// The keys a SCRAM-`hash` exchange for `user` runs on. Blocking (file
    /// I/O, and PBKDF2 for `{PLAIN}` accounts).
    pub(crate) fn scram_lookup(
        &self,
        user: &str,
        hash: ScramHash,
    ) -> Result<ScramLookup, AuthError> {
        let file = self.file.current()?;
        let fake = |reason| {
            ScramLookup::Credentials(ScramCredentials::Fake {
                salt_b64: STANDARD.encode(self.fake_salt(user, hash)),
                iterations: DEFAULT_ITERATIONS,
                reason,
            })
        };
        let Some(entry) = file.lookup(user) else {
            let tally = self.tally(&file, hash);
            return Ok(if tally.can > tally.cannot {
                fake("unknown user")
            } else {
                ScramLookup::Unavailable("unknown user")
            });
        };
        if entry.password.is_empty() {
            return Ok(fake("user has no password"));
        }
        Ok(match scram_source(&entry.password, hash) {
            ScramSource::Keys(keys) => ScramLookup::Credentials(ScramCredentials::Keys(keys)),
            ScramSource::Plaintext(password) => {
                let salt = self.fake_salt(user, hash);
                let keys = ScramKeys::derive(hash, &password, &salt, DEFAULT_ITERATIONS);
                ScramLookup::Credentials(ScramCredentials::Keys(keys))
            }
            ScramSource::Unusable => {
                ScramLookup::Unavailable("the stored password scheme cannot serve SCRAM")
            }
            ScramSource::Invalid(error) => {
                tracing::warn!(user = ?entry.name, %error, path = %self.file.path().display(),
                    "stored password cannot be checked");
                fake("stored password cannot be checked")
            }
        })
    }

    /// Valid credentials of `entry`: served unless its uid is too low.
    fn served(&self, entry: UserEntry) -> Checked {
        let floor = self.first_valid_uid;
        match entry.uid {
            Some(uid) if floor > 0 && (uid == 0 || uid < floor) => Checked::NotServed(format!(
                "This account's mail cannot be served: its uid {uid} is below \
                 first_valid_uid {floor}."
            )),
            _ => Checked::Valid(entry.name),
        }
    }

    /// The made-up salt of `user` for `hash`: the same every time in this
    /// process, and unpredictable without its secret.
    fn fake_salt(&self, user: &str, hash: ScramHash) -> Vec<u8> {
        let mut mac = ScramHash::Sha256.hmac(
            &self.fake_salt_key,
            &[
                b"mailkeep SCRAM salt\0",
                hash.name().as_bytes(),
                b"\0",
                user.as_bytes(),
            ],
        );
        mac.truncate(SALT_LEN);
        mac
    }

    /// How many accounts of `file` can and cannot do SCRAM-`hash`, counted
    /// once per version of the file. Accounts without a usable password
    /// count for neither.
    fn tally(&self, file: &Arc<PasswdFile>, hash: ScramHash) -> Tally {
        let index = match hash {
            ScramHash::Sha1 => 0,
            ScramHash::Sha256 => 1,
        };
        // Only a cache; a panic elsewhere cannot leave it half-written.
        let mut cached = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((counted, tallies)) = cached.as_ref()
            && Arc::ptr_eq(counted, file)
        {
            return tallies[index];
        }
        let mut tallies = [Tally::default(); 2];
        for entry in file.entries() {
            for (hash, tally) in [ScramHash::Sha1, ScramHash::Sha256]
                .into_iter()
                .zip(tallies.iter_mut())
            {
                match scram_source(&entry.password, hash) {
                    ScramSource::Keys(_) | ScramSource::Plaintext(_) => tally.can += 1,
                    ScramSource::Unusable => tally.cannot += 1,
                    ScramSource::Invalid(_) => {}
                }
            }
        }
        *cached = Some((Arc::clone(file), tallies));
        tallies[index]
    }
}

#[cfg(test)]
#[path = "tests/passdb.rs"]
mod tests;

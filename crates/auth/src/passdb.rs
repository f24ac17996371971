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
use crate::master::{MasterUsers, Who};
use crate::reload::WatchedPasswdFile;
use crate::sasl::Credentials;
use crate::scheme::{PasswordScheme, SchemeError, ScramSource, is_costly, scram_source};
use crate::scram::server::ScramCredentials;
use crate::scram::{DEFAULT_ITERATIONS, SALT_LEN, ScramHash, ScramKeys};
use crate::userdb::{PasswdFile, UserEntry};

/// What checking credentials against the passdb found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The password matches; the canonical user name.
    Valid(String),
    /// A master login: the password is the master user's, and the session
    /// is the user's. Both canonical.
    ValidMaster {
        /// The user the session is for.
        user: String,
        /// The master user whose password it was.
        master: String,
    },
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

/// Checks a password against a stored `{SCHEME}...` string: the slow
/// part of a login. Injectable, so tests can count and hold the hashes.
pub(crate) type Verifier = Arc<dyn Fn(&str, &[u8]) -> Result<bool, SchemeError> + Send + Sync>;

/// How many accounts of one file can and cannot do SCRAM of one hash.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    can: usize,
    cannot: usize,
}

/// The passwd-file as passdb.
pub(crate) struct Passdb {
    file: WatchedPasswdFile,
    verify: Verifier,
    /// A stored password of the default scheme that nothing matches: an
    /// unknown user's password is checked against it, so that the answer
    /// takes as long as for an account (no user enumeration by timing).
    decoy: String,
    first_valid_uid: u32,
    /// This server's mail domains (`auth.local_domains`): `local@domain`
    /// with one of them also names the bare account `local`.
    local_domains: Vec<String>,
    /// The accounts that may log in as others (`auth.master_users`).
    masters: MasterUsers,
    /// Keys the made-up salts of unknown names (and of `{PLAIN}` accounts).
    fake_salt_key: [u8; 32],
    /// The tallies of the file version last counted, SHA-1 then SHA-256.
    tallies: Mutex<Option<(Arc<PasswdFile>, [Tally; 2])>>,
}

impl std::fmt::Debug for Passdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passdb")
            .field("file", &self.file)
            .field("first_valid_uid", &self.first_valid_uid)
            .finish_non_exhaustive()
    }
}

impl Passdb {
    /// The passdb in `file`; accounts with a uid below `first_valid_uid`
    /// (or 0, when it is above 0) are never served.
    #[cfg(test)]
    pub(crate) fn new(file: WatchedPasswdFile, first_valid_uid: u32) -> Self {
        Self::with_verifier(
            file,
            first_valid_uid,
            Arc::new(crate::scheme::verify_password),
        )
    }

    /// The passdb in `file`, checking passwords with `verify`
    /// (`verify_password`, or a test's counting stand-in).
    pub(crate) fn with_verifier(
        file: WatchedPasswdFile,
        first_valid_uid: u32,
        verify: Verifier,
    ) -> Self {
        Passdb {
            file,
            verify,
            decoy: decoy(),
            first_valid_uid,
            local_domains: Vec::new(),
            masters: MasterUsers::default(),
            fake_salt_key: rand::random(),
            tallies: Mutex::new(None),
        }
    }

    /// The same passdb, taking `local@domain` with one of `domains` (in
    /// any case) for the bare account `local`, in logins and deliveries.
    pub(crate) fn with_local_domains(mut self, domains: Vec<String>) -> Self {
        self.local_domains = domains;
        self
    }

    /// The same passdb, letting `masters` log in as other users.
    pub(crate) fn with_master_users(mut self, masters: MasterUsers) -> Self {
        self.masters = masters;
        self
    }

    /// Who may log in as others, and how a login names them.
    pub(crate) fn masters(&self) -> &MasterUsers {
        &self.masters
    }

    /// The entry `name` names: logins and recipients name accounts the same
    /// way (see [`account_names`]). Blocking (file I/O).
    fn find(&self, name: &str) -> Result<Option<UserEntry>, AuthError> {
        let file = self.file.current()?;
        Ok(self.find_in(&file, name).cloned())
    }

    /// [`Passdb::find`] in the file version `file`.
    fn find_in<'f>(&self, file: &'f PasswdFile, name: &str) -> Option<&'f UserEntry> {
        account_names(name, &self.local_domains)
            .iter()
            .find_map(|candidate| file.lookup(candidate))
    }

    /// The watched file.
    pub(crate) fn file(&self) -> &WatchedPasswdFile {
        &self.file
    }

    /// [`Passdb::check_password`] in the file version `file` when that is
    /// cheap (a `{PLAIN}` or plain digest account); `None` when it would
    /// hash slowly (an unknown user is checked against the decoy, as
    /// slowly as a real password), which the caller then does in the
    /// bounded pool. No file I/O.
    pub(crate) fn check_password_if_cheap_in(
        &self,
        file: &PasswdFile,
        credentials: &Credentials,
    ) -> Option<Checked> {
        match self.find_in(file, &credentials.authcid) {
            Some(entry) if !entry.password.is_empty() && !is_costly(&entry.password) => {
                Some(self.check_password_in(file, credentials))
            }
            _ => None,
        }
    }

    /// Looks the user up and checks the password. Blocking (file I/O and
    /// deliberately slow hashes). Exactly one password check runs whatever
    /// the user: an unknown one, or one without a password, is checked
    /// against the decoy.
    ///
    /// With an authzid (a master login) the password is the authcid's, who
    /// must be a master user, and the session is the authzid's, who must
    /// exist; any of that wrong is refused as a wrong password is, after
    /// the same one password check.
    pub(crate) fn check_password(&self, credentials: &Credentials) -> Result<Checked, AuthError> {
        let file = self.file.current()?;
        Ok(self.check_password_in(&file, credentials))
    }

    /// [`Passdb::check_password`] in the file version `file` (no file
    /// I/O; the hash may still be slow).
    fn check_password_in(&self, file: &PasswdFile, credentials: &Credentials) -> Checked {
        let master = credentials.authzid.is_some();
        let reason = |own, of_master| if master { of_master } else { own };
        let Some(entry) = self.find_in(file, &credentials.authcid) else {
            let _ = (self.verify)(&self.decoy, &credentials.password);
            return Checked::Refused(reason("unknown user", "unknown master user"));
        };
        if entry.password.is_empty() {
            let _ = (self.verify)(&self.decoy, &credentials.password);
            return Checked::Refused(reason(
                "user has no password",
                "master user has no password",
            ));
        }
        match (self.verify)(&entry.password, &credentials.password) {
            Ok(true) => match &credentials.authzid {
                None => self.served(entry.clone()),
                Some(user) => self.act_as(file, entry.clone(), user),
            },
            Ok(false) => Checked::Refused(reason("wrong password", "wrong master password")),
            Err(error) => {
                // Fails closed; the administrator must fix the stored value.
                tracing::warn!(user = ?entry.name, %error, path = %self.file.path().display(),
                    "stored password cannot be checked");
                Checked::Refused("stored password cannot be checked")
            }
        }
    }

    /// After `master`'s password matched in a login as `user`: the
    /// session is `user`'s if `master` is a master user and `user` an
    /// account (of the file version `file`) that may be served.
    fn act_as(&self, file: &PasswdFile, master: UserEntry, user: &str) -> Checked {
        if !self.masters.is_master(&master.name) {
            return Checked::Refused("not a master user");
        }
        let Some(entry) = self.find_in(file, user) else {
            return Checked::Refused("unknown user");
        };
        match self.served(entry.clone()) {
            Checked::Valid(user) => Checked::ValidMaster {
                user,
                master: master.name,
            },
            other => other,
        }
    }

    /// After a SCRAM proof verified: whether `user` (still) exists and may
    /// be served.
    pub(crate) fn check_authenticated(&self, user: &str) -> Result<Checked, AuthError> {
        Ok(match self.find(user)? {
            Some(entry) => self.served(entry),
            None => Checked::Refused("user deleted during the exchange"),
        })
    }

    /// After a SCRAM proof made with `who`'s master's keys verified: the
    /// session is the user's if the master is (still) a master user and
    /// the user an account that may be served, as for a PLAIN master
    /// login ([`Passdb::check_password`]). Blocking (file I/O).
    pub(crate) fn check_authenticated_as(&self, who: &Who) -> Result<Checked, AuthError> {
        let Some(master) = &who.master else {
            return self.check_authenticated(&who.user);
        };
        let file = self.file.current()?;
        Ok(match self.find_in(&file, master) {
            Some(entry) => self.act_as(&file, entry.clone(), &who.user),
            None => Checked::Refused("master user deleted during the exchange"),
        })
    }

    /// [`Passdb::recipient_in`] in the file as it is now. Blocking (file
    /// I/O).
    #[cfg(test)]
    pub(crate) fn recipient(&self, recipient: &str) -> Result<Checked, AuthError> {
        let file = self.file.current()?;
        Ok(self.recipient_in(&file, recipient))
    }

    /// The account a delivery to `recipient` (no `+detail`) is for, named
    /// as a login names it (see [`account_names`]), in the file version
    /// `file`. `Checked::Refused` for no such account. No file I/O.
    pub(crate) fn recipient_in(&self, file: &PasswdFile, recipient: &str) -> Checked {
        match self.find_in(file, recipient) {
            Some(entry) => self.served(entry.clone()),
            None => Checked::Refused("unknown recipient"),
        }
    }

    /// The keys a SCRAM-`hash` exchange for `user` runs on. Blocking (file
    /// I/O, and PBKDF2 for `{PLAIN}` accounts).
    pub(crate) fn scram_lookup(
        &self,
        user: &str,
        hash: ScramHash,
    ) -> Result<ScramLookup, AuthError> {
        let file = self.file.current()?;
        let found = self.find_in(&file, user);
        let fake = |reason| {
            ScramLookup::Credentials(ScramCredentials::Fake {
                salt_b64: STANDARD.encode(self.fake_salt(user, hash)),
                iterations: DEFAULT_ITERATIONS,
                reason,
            })
        };
        let Some(entry) = found else {
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

/// The userdb names `name` may stand for, in the order tried: `name`
/// (the file is looked up with the domain in any case, see
/// [`crate::userdb::lookup_key`]), then for `local@domain` the bare
/// `local` when the domain is one of `domains` (this server's own, in any
/// case). One rule for logins and LMTP recipients (issue 9), so that an
/// account is reached by the same names whichever way.
pub(crate) fn account_names(name: &str, domains: &[String]) -> Vec<String> {
    let mut names = vec![name.to_owned()];
    if let Some((local, domain)) = name.rsplit_once('@')
        && !local.is_empty()
        && domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    {
        names.push(local.to_owned());
    }
    names
}

/// A stored password of the default scheme for a random password nobody
/// knows. Hashing cannot fail for argon2 with valid parameters; if it did,
/// a fixed PHC string of the same cost stands in.
fn decoy() -> String {
    let secret: [u8; 16] = rand::random();
    PasswordScheme::default()
        .hash(&hex::encode(secret))
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot make the decoy password; using a fixed one");
            DECOY_FALLBACK.to_owned()
        })
}

/// An `{ARGON2ID}` string of the argon2 crate's default cost.
const DECOY_FALLBACK: &str = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$\
    c2FsdHNhbHRzYWx0c2FsdA$q5AUK2vKLQ0zFz0k0mnbXkqJxZ3V0j5nVQ6sYkQ4dGc";

#[cfg(test)]
#[path = "tests/passdb.rs"]
mod tests;

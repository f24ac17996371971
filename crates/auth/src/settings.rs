//! What the auth process needs to know, filled from the configuration by
//! the binary.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of the auth service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// The passwd-file (Dovecot's format) used as passdb and userdb.
    pub passwd_file: PathBuf,
    /// How long an issued session ticket is valid, in seconds.
    pub ticket_lifetime_secs: i64,
    /// How long a login session may be renewed, in seconds from the login:
    /// then the client must log in again.
    pub session_max_secs: i64,
    /// The host name written into tickets as their issuer.
    pub issuer: String,
    /// The wait before the login after a failed one from the same address,
    /// network or account; it doubles with each further recent failure.
    pub failure_delay: Duration,
    /// The longest failed-login delay.
    pub max_failure_delay: Duration,
    /// Accounts whose uid is below this (or 0, when this is above 0) cannot
    /// log in: their mail is never served. 0 turns the check off (as when
    /// mailkeep runs without root and every account has the server's uid).
    pub first_valid_uid: u32,
    /// How many password hashes run at once and how many may wait.
    pub hashing: crate::HashLimits,
    /// This server's mail domains: a recipient `local@domain` with one of
    /// these domains (any case) also matches the account named `local`.
    pub local_domains: Vec<String>,
    /// Accounts of the passwd-file that may log in as any other account
    /// with their own password (Dovecot's master users); empty: nobody.
    pub master_users: Vec<String>,
    /// What joins the user and the master in a master login's name:
    /// `alice*admin` with the default `*`.
    pub master_user_separator: String,
}

impl Default for AuthSettings {
    /// `/etc/mailkeep/passwd`, one-hour tickets in sessions of at most a week, issued as `localhost`
    /// (the binary puts the real host name in), 2 s penalty up to 15 s,
    /// no master users (separator `*`).
    fn default() -> Self {
        AuthSettings {
            passwd_file: PathBuf::from("/etc/mailkeep/passwd"),
            ticket_lifetime_secs: 3600,
            session_max_secs: 7 * 86_400,
            issuer: "localhost".to_owned(),
            failure_delay: Duration::from_secs(2),
            max_failure_delay: Duration::from_secs(15),
            first_valid_uid: 0,
            hashing: crate::HashLimits::default(),
            local_domains: Vec::new(),
            master_users: Vec::new(),
            master_user_separator: "*".to_owned(),
        }
    }
}

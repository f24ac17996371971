//! The IMAP process's settings, from the configuration.

use std::time::Duration;

/// When a client may send a password in clear (LOGIN, AUTHENTICATE PLAIN
/// or LOGIN) on a connection without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlaintextLogins {
    /// Only from a loopback address (the default, as Dovecot's
    /// `disable_plaintext_auth` with local connections trusted).
    #[default]
    Loopback,
    /// Never: every login needs TLS first.
    Never,
    /// Always (not recommended).
    Always,
}

/// Settings of the IMAP process.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    /// Parser limits (line length, inline literals, APPEND size).
    pub limits: mailkeep_imap_proto::Limits,
    /// This server's host name, for logs and responses.
    pub hostname: String,
    /// How long an unauthenticated connection may stay (60 s).
    pub login_timeout: Duration,
    /// Autologout after this long without input once logged in (30 min).
    pub idle_timeout: Duration,
    /// How often IDLE says it is still there, so that no NAT drops a quiet
    /// connection (2 min).
    pub idle_keepalive: Duration,
    /// Concurrent connections per process (1000).
    pub max_connections: usize,
    /// When passwords may travel without TLS.
    pub plaintext_logins: PlaintextLogins,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            limits: mailkeep_imap_proto::Limits::default(),
            hostname: "localhost".into(),
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            idle_keepalive: Duration::from_secs(2 * 60),
            max_connections: 1000,
            plaintext_logins: PlaintextLogins::default(),
        }
    }
}

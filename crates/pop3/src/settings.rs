//! The POP3 process's settings (from `[pop3]` of the configuration).

use std::time::Duration;

/// Settings of one POP3 process.
#[derive(Debug, Clone)]
pub struct Pop3Settings {
    /// The host's name, for the greeting.
    pub hostname: String,
    /// Longest line accepted (command or SASL response), CRLF included.
    pub max_line: usize,
    /// How long a client may stay connected without logging in.
    pub login_timeout: Duration,
    /// How long a logged-in client may stay silent (RFC 1939 §3: at least
    /// ten minutes).
    pub idle_timeout: Duration,
    /// One session per maildrop at a time (Dovecot's `pop3_lock_session`):
    /// a second gets `-ERR [IN-USE]`.
    pub lock_session: bool,
    /// How long a storage channel stays open after its last session
    /// (`[storage] keep_warm_secs`, capped at the linger time): pollers
    /// then reuse it. Zero keeps nothing.
    pub keep_warm: Duration,
}

impl Default for Pop3Settings {
    fn default() -> Self {
        Pop3Settings {
            hostname: "localhost".into(),
            max_line: 1024,
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(10 * 60),
            lock_session: false,
            keep_warm: Duration::from_secs(5),
        }
    }
}

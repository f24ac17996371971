//! The log lines operators act on. A failed login is one line, always in
//! this shape, which fail2ban and the like can match (README "Failed
//! logins"):
//!
//! ```text
//! login failed rip=192.0.2.7 user="alice" reason="wrong password" protocol="imap" mechanism="PLAIN"
//! ```
//!
//! `rip` comes first and is the address auth keyed the penalty on (an IP
//! address, or `local` for a UNIX socket); the user name is quoted with
//! its quotes and control characters escaped, so what a client sends as a
//! name can never forge another field.
//!
//! A successful login is one line of the same shape:
//!
//! ```text
//! login rip=192.0.2.7 user="alice" protocol="imap" mechanism="PLAIN"
//! ```
//!
//! A master login (a master user acting as `user`, see `master.rs`)
//! carries `master="admin"` after `user`, in successes and failures alike,
//! so an operator sees who acted.

/// Logs a failed login: from `remote`, on `user` (when the mechanism got
/// as far as naming one), by `master` for a master login, refused for
/// `reason` (never shown to the client).
pub(crate) fn login_failed(
    remote: &str,
    user: Option<&str>,
    master: Option<&str>,
    reason: &str,
    protocol: &str,
    mechanism: &str,
) {
    // A `None` master records no field: ordinary lines keep their shape.
    tracing::info!(
        rip = %Address(remote),
        user = user.unwrap_or(""),
        master,
        reason,
        protocol,
        mechanism,
        "login failed"
    );
}

/// Logs a successful login from `remote` as `user`, by `master` for a
/// master login.
pub(crate) fn login_succeeded(
    remote: &str,
    user: &str,
    master: Option<&str>,
    protocol: &str,
    mechanism: &str,
) {
    tracing::info!(
        rip = %Address(remote),
        user,
        master,
        protocol,
        mechanism,
        "login"
    );
}

/// Logs that a login from `remote` on `user` waits `wait` for earlier
/// failures of that address, its network or that account before it is
/// checked.
pub(crate) fn login_delayed(remote: &str, user: &str, wait: std::time::Duration) {
    tracing::info!(
        rip = %Address(remote),
        user,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "login delayed"
    );
}

/// An address as logged: only characters an address has, so a protocol
/// process that sent something else cannot break the line's shape.
struct Address<'a>(&'a str);

impl std::fmt::Display for Address<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clean = !self.0.is_empty()
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_'));
        if clean {
            f.write_str(self.0)
        } else {
            f.write_str("invalid")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_failed_login_is_one_line_with_address_user_and_reason() {
        let line = logged(|| {
            login_failed(
                "192.0.2.7",
                Some("alice"),
                None,
                "wrong password",
                "imap",
                "PLAIN",
            )
        });
        assert_eq!(
            line,
            " INFO login failed rip=192.0.2.7 user=\"alice\" reason=\"wrong password\" \
             protocol=\"imap\" mechanism=\"PLAIN\"\n"
        );
    }

    #[test]
    fn a_user_name_cannot_forge_the_address_field() {
        let line = logged(|| {
            login_failed(
                "2001:db8::1",
                Some("x\" rip=203.0.113.9 user=\"y\n"),
                None,
                "unknown user",
                "imap",
                "LOGIN",
            )
        });
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.starts_with(" INFO login failed rip=2001:db8::1 user=\"x\\\" rip="),
            "{line}"
        );
        let line = logged(|| login_failed("1.2.3.4 rip=5.6.7.8", None, None, "r", "imap", "PLAIN"));
        assert!(line.contains("rip=invalid user=\"\""), "{line}");
    }

    #[test]
    fn a_master_login_names_the_user_and_the_master() {
        let line = logged(|| {
            login_failed(
                "192.0.2.7",
                Some("alice"),
                Some("admin"),
                "wrong master password",
                "imap",
                "LOGIN",
            )
        });
        assert_eq!(
            line,
            " INFO login failed rip=192.0.2.7 user=\"alice\" master=\"admin\" \
             reason=\"wrong master password\" protocol=\"imap\" mechanism=\"LOGIN\"\n"
        );
        let line = logged(|| login_succeeded("192.0.2.7", "alice", Some("admin"), "imap", "PLAIN"));
        assert_eq!(
            line,
            " INFO login rip=192.0.2.7 user=\"alice\" master=\"admin\" protocol=\"imap\" \
             mechanism=\"PLAIN\"\n"
        );
    }

    #[test]
    fn an_own_login_is_one_line_without_a_master() {
        let line = logged(|| login_succeeded("192.0.2.7", "alice", None, "pop3", "LOGIN"));
        assert_eq!(
            line,
            " INFO login rip=192.0.2.7 user=\"alice\" protocol=\"pop3\" mechanism=\"LOGIN\"\n"
        );
    }
}

//! What the sessions of one IMAP process share: settings, the link to
//! auth (SASL relay, ticket renewal, the connector storage comes from), the
//! clock, and the capability lists.

use std::sync::Arc;

use mailkeep_frontend::{AuthLink, Clock};

use crate::session::facts::ConnFacts;
use crate::session::state::State;
use crate::settings::{ImapSettings, PlaintextLogins};

/// Capabilities that belong to no single command, announced after login
/// (a command's own capability comes from its spec in the table).
const FEATURES: &[&str] = &[
    "IMAP4rev1",
    "IMAP4rev2",
    "LITERAL+",
    "LITERAL-",
    "UIDPLUS",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "SEARCHRES",
    "WITHIN",
    "CONDSTORE",
    "QRESYNC",
    "ESORT",
    "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "THREAD=REFS",
    "STATUS=SIZE",
    "SAVEDATE",
    "BINARY",
    "PREVIEW",
    "UTF8=ACCEPT",
    "UIDONLY",
    "OBJECTID",
];

/// Capabilities announced before login, besides AUTH= and STARTTLS.
const FEATURES_BEFORE_LOGIN: &[&str] =
    &["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"];

/// Process-wide state.
pub(crate) struct Process {
    /// Settings.
    pub(crate) settings: ImapSettings,
    /// The link to auth and the connector.
    pub(crate) auth: Arc<AuthLink>,
    /// Wall-clock time (ticket lifetimes).
    pub(crate) clock: Clock,
}

impl Process {
    /// Whether this connection may log in with a password in clear.
    pub(crate) fn plaintext_allowed(&self, conn: &ConnFacts) -> bool {
        conn.tls
            || match self.settings.plaintext_logins {
                PlaintextLogins::Always => true,
                PlaintextLogins::Loopback => conn.loopback,
                PlaintextLogins::Never => false,
            }
    }

    /// The SASL mechanisms to offer on this connection.
    pub(crate) fn mechanisms(&self, conn: &ConnFacts) -> Vec<&'static str> {
        mailkeep_frontend::sasl::mechanisms(
            conn.tls_exporter.is_some(),
            self.plaintext_allowed(conn),
        )
    }

    /// The capability list for a session in `state` on `conn`; `rev2_only`
    /// drops IMAP4rev1 (never: both are offered until ENABLE).
    pub(crate) fn capabilities(
        &self,
        state: &State,
        conn: &ConnFacts,
        _rev2_only: bool,
    ) -> Vec<String> {
        let mut caps: Vec<String> = Vec::new();
        if state.authed().is_none() {
            caps.extend(FEATURES_BEFORE_LOGIN.iter().map(|c| (*c).to_owned()));
            if conn.starttls_available && !conn.tls {
                caps.push("STARTTLS".into());
            }
            caps.extend(self.mechanisms(conn).iter().map(|m| format!("AUTH={m}")));
            if !self.plaintext_allowed(conn) {
                caps.push("LOGINDISABLED".into());
            }
        } else {
            caps.extend(FEATURES.iter().map(|c| (*c).to_owned()));
            caps.push(format!("APPENDLIMIT={}", self.settings.limits.max_append));
            for spec in crate::table::SPECS {
                if let Some(cap) = spec.capability
                    && !caps.iter().any(|c| c == cap)
                {
                    caps.push(cap.to_owned());
                }
            }
        }
        caps
    }
}

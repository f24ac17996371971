//! What the sessions of one POP3 process share: settings, the link to
//! auth (SASL relay, ticket renewal, the connector storage comes from),
//! the clock, TLS for STLS, and the capability list (RFC 2449).

use std::sync::Arc;

use mailkeep_frontend::{AuthLink, Clock, ConnInfo, ServerTls};

use crate::settings::Pop3Settings;

/// Capabilities that hold in every state (RFC 2449 §6).
const FEATURES: &[&str] = &[
    "CAPA",
    "TOP",
    "UIDL",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "PIPELINING",
];

/// Process-wide state.
pub(crate) struct Process {
    /// Settings.
    pub(crate) settings: Pop3Settings,
    /// The link to auth and the connector.
    pub(crate) auth: Arc<AuthLink>,
    /// Wall-clock time (ticket lifetimes).
    pub(crate) clock: Clock,
    /// The TLS configuration STLS uses; `None` where there is none.
    pub(crate) tls: Option<ServerTls>,
}

impl Process {
    /// Whether STLS can be offered on this connection.
    pub(crate) fn stls_available(&self, conn: &ConnInfo) -> bool {
        self.tls.is_some() && conn.can_start_tls()
    }

    /// The SASL mechanisms to offer on this connection.
    pub(crate) fn mechanisms(&self, conn: &ConnInfo) -> Vec<&'static str> {
        mailkeep_frontend::sasl::mechanisms(
            conn.channel_binding().is_some(),
            conn.plaintext_login_allowed(),
        )
    }

    /// The CAPA list: before login also USER (where a password may travel
    /// as it is), SASL and STLS (RFC 2449 §6: what no longer applies after
    /// login is left out).
    pub(crate) fn capabilities(&self, conn: &ConnInfo, logged_in: bool) -> Vec<String> {
        let mut caps: Vec<String> = FEATURES.iter().map(|c| (*c).to_owned()).collect();
        if !logged_in {
            if conn.plaintext_login_allowed() {
                caps.push("USER".into());
            }
            caps.push(format!("SASL {}", self.mechanisms(conn).join(" ")));
            if self.stls_available(conn) {
                caps.push("STLS".into());
            }
        }
        caps.push("IMPLEMENTATION mailkeep".into());
        caps
    }
}

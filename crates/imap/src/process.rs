//! What the sessions of one IMAP process share: settings, the link to
//! auth (SASL relay, ticket renewal, the connector storage comes from), the
//! clock, and the capability lists.

use std::sync::Arc;

use mailkeep_frontend::{AuthLink, Clock, ConnInfo, ServerTls};

use crate::cmd::fetch::cache::FetchCache;
use crate::session::state::State;
use crate::settings::ImapSettings;

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
    "CATENATE",
    "CONTEXT=SORT",
    "I18NLEVEL=1",
    "RIGHTS=texk",
    "LIST-MYRIGHTS",
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
    /// The TLS configuration STARTTLS uses; `None` where there is none
    /// (in-memory tests).
    pub(crate) tls: Option<ServerTls>,
    /// The plugins' command names, made once and shared by every
    /// connection's parser (not a copy per connection).
    pub(crate) plugin_commands: std::sync::OnceLock<Arc<[String]>>,
    /// What the sessions fetched that never changes, for the next FETCH
    /// of it ([`ImapSettings::fetch_cache_bytes`]).
    pub(crate) fetch_cache: FetchCache,
}

impl Process {
    /// A command parser for a new connection (or after STARTTLS): the
    /// configured limits, and the plugins' command names.
    pub(crate) fn parser(&self) -> mailkeep_imap_proto::Parser {
        let mut parser = mailkeep_imap_proto::Parser::new(self.settings.limits);
        let names = self
            .plugin_commands
            .get_or_init(|| self.settings.plugins.imap_commands().into());
        if !names.is_empty() {
            parser.set_extensions(Arc::clone(names));
        }
        parser
    }

    /// Whether this connection may log in with a password in clear (the
    /// configured rule, TLS, and where the client is).
    pub(crate) fn plaintext_allowed(&self, conn: &ConnInfo) -> bool {
        conn.plaintext_login_allowed()
    }

    /// Whether STARTTLS can be offered on this connection.
    pub(crate) fn starttls_available(&self, conn: &ConnInfo) -> bool {
        self.tls.is_some() && conn.can_start_tls()
    }

    /// The SASL mechanisms to offer on this connection.
    pub(crate) fn mechanisms(&self, conn: &ConnInfo) -> Vec<&'static str> {
        mailkeep_frontend::sasl::mechanisms(
            conn.channel_binding().is_some(),
            self.plaintext_allowed(conn),
        )
    }

    /// The capability list for a session in `state` on `conn`; `rev2_only`
    /// drops IMAP4rev1 (never: both are offered until ENABLE).
    pub(crate) fn capabilities(
        &self,
        state: &State,
        conn: &ConnInfo,
        _rev2_only: bool,
    ) -> Vec<String> {
        let mut caps: Vec<String> = Vec::new();
        if state.authed().is_none() {
            caps.extend(FEATURES_BEFORE_LOGIN.iter().map(|c| (*c).to_owned()));
            if self.starttls_available(conn) {
                caps.push("STARTTLS".into());
            }
            caps.extend(self.mechanisms(conn).iter().map(|m| format!("AUTH={m}")));
            if !self.plaintext_allowed(conn) {
                caps.push("LOGINDISABLED".into());
            }
        } else {
            caps.extend(FEATURES.iter().map(|c| (*c).to_owned()));
            caps.push(format!("APPENDLIMIT={}", self.settings.limits.max_append));
            if !conn.compressed {
                caps.push("COMPRESS=DEFLATE".into());
            }
            caps.extend(self.settings.plugins.imap_capabilities());
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

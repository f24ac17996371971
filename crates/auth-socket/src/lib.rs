//! The auth-socket protocol process: Dovecot's auth-client protocol on a
//! UNIX socket, so that an MTA's SMTP AUTH (Postfix's `smtpd_sasl_type =
//! dovecot`, `smtpd_sasl_path`) checks passwords against mailkeep's
//! accounts, with auth's penalties and log lines. It runs unprivileged and
//! chrooted like imap, on the shared `frontend` layer (DESIGN.md §1), and
//! relays each SASL step to auth through the frontend's SASL relay: it
//! never sees a password hash, never checks a password, and gets no ticket
//! (auth issues none to this role), so a compromised auth-socket process
//! can guess passwords as slowly as any client, and read no mail.
//!
//! Syntax is [`protocol::parse`], a pure function over one line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod protocol;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailkeep_frontend::{Acceptor, AnyConnector, AuthLink, Connector};
use tracing::Instrument;

pub use session::MECHANISMS;

/// What the auth-socket process is configured with.
#[derive(Debug, Clone)]
pub struct AuthSocketSettings {
    /// How long a client may be silent (an MTA keeps its connection open
    /// between logins and reconnects when it was closed).
    pub timeout: Duration,
}

impl Default for AuthSocketSettings {
    fn default() -> Self {
        AuthSocketSettings {
            timeout: Duration::from_secs(600),
        }
    }
}

/// What the connections of one process share.
pub(crate) struct Process {
    pub(crate) settings: AuthSocketSettings,
    pub(crate) auth: Arc<AuthLink>,
    connections: AtomicU64,
}

impl Process {
    /// The next connection's id (the handshake's CUID).
    pub(crate) fn next_connection(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Serves Dovecot's auth-client protocol on every client `acceptor`
/// accepts, relaying to auth through `connector` (the broker in
/// production), until the listeners fail for good.
pub async fn serve_accepted(
    settings: AuthSocketSettings,
    acceptor: Acceptor,
    connector: impl Connector,
) {
    let auth = Arc::new(AuthLink::new(AnyConnector::new(connector)));
    mailkeep_frontend::spawn_session_reports(&acceptor, &auth);
    let process = Arc::new(Process {
        settings,
        auth,
        connections: AtomicU64::new(0),
    });
    acceptor
        .serve(move |connection| {
            let process = Arc::clone(&process);
            let span = tracing::info_span!("auth-socket", peer = %connection.info().peer);
            session::run(process, connection).instrument(span)
        })
        .await;
}

//! The IMAP protocol process's session logic. It runs without privileges
//! in an empty chroot and reaches auth and storage only through the broker
//! client it is given: [`serve`] accepts clients and runs one session per
//! connection.
//!
//! Implemented (IMAP4rev1/IMAP4rev2 subset): CAPABILITY NOOP LOGOUT, LOGIN
//! and AUTHENTICATE (PLAIN, LOGIN; SASL-IR) relayed to auth, LIST LSUB
//! CREATE DELETE RENAME STATUS SELECT EXAMINE APPEND (streamed, APPENDUID)
//! CHECK CLOSE UNSELECT EXPUNGE, UID EXPUNGE, FETCH of FLAGS UID
//! RFC822.SIZE INTERNALDATE MODSEQ BODY[] BODY.PEEK[] (with a partial)
//! RFC822, and STORE with .SILENT and UNCHANGEDSINCE. LSUB answers like
//! LIST until subscriptions exist. Modules: `server` (accept loop),
//! `session` (state machine, read loop, storage calls with retry, view
//! sync), `view` (the selected mailbox, pure), `auth`, `mailbox`, `fetch`,
//! `store`, `append`, `errors` (status → response), `pattern` (LIST).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod append;
mod auth;
mod backend;
mod conn;
mod errors;
mod fetch;
mod mailbox;
mod pattern;
mod response;
mod search;
mod server;
mod session;
mod store;
mod view;

#[cfg(test)]
mod tests;

use std::time::Duration;

use mailkeep_storage_rpc::broker_client::BrokerClient;
use tokio::net::TcpListener;

pub use backend::Backend;
pub use errors::ImapError;

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
    /// Concurrent connections per process (1000).
    pub max_connections: usize,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            limits: mailkeep_imap_proto::Limits::default(),
            hostname: "localhost".into(),
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            max_connections: 1000,
        }
    }
}

/// Accepts IMAP clients on `listener` forever, one task per connection,
/// reaching auth and storage through `broker`.
pub async fn serve(
    settings: ImapSettings,
    listener: TcpListener,
    broker: BrokerClient,
) -> Result<(), ImapError> {
    server::accept_loop(settings, listener, broker).await
}

/// Serves the clients of a frontend [`mailkeep_frontend::Acceptor`]
/// (every listener of the process: plain, implicit TLS, UNIX), reaching
/// auth and storage through `broker`.
pub async fn serve_accepted(
    settings: ImapSettings,
    acceptor: mailkeep_frontend::Acceptor,
    broker: BrokerClient,
) {
    server::serve_accepted(settings, acceptor, broker).await
}

/// Like [`serve`], with any [`Backend`] (tests use an in-process one).
pub async fn serve_with<B: Backend>(
    settings: ImapSettings,
    listener: TcpListener,
    backend: B,
) -> Result<(), ImapError> {
    server::accept_loop(settings, listener, backend).await
}

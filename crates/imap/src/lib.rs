//! The IMAP protocol process. It runs without privileges in an empty
//! chroot and reaches auth and storage only through the frontend layer
//! (`mailkeep-frontend`: SASL relay, the storage path), never the store.
//!
//! Layout: `session/` is one client's loop (parse, schedule commands side
//! by side, finish them), its state as data and the selected mailbox;
//! `cmd/` has one file per command, each declaring its spec and handler;
//! `table.rs` lists them, one line each; `view.rs` is the selected
//! mailbox's sequence numbers and flags (pure); `updates.rs` renders
//! mailbox changes; `errors.rs` maps typed storage errors to response
//! codes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cmd;
mod errors;
mod io;
mod namespace;
mod pattern;
mod process;
mod reply;
mod server;
mod session;
mod settings;
mod table;
mod updates;
mod view;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use mailkeep_frontend::{Acceptor, AnyConnector, AuthLink, Clock, Connector, KeepWarm};

pub use errors::ImapError;
pub use session::waits::WatchWaits;
pub use settings::ImapSettings;

/// Serves IMAP on every client `acceptor` accepts, reaching auth and
/// storage through `connector` (the broker in production), until the
/// listeners fail for good. One per process: the settings' watch waits
/// are the process's (see [`WatchWaits`]), and a second call keeps the
/// first call's.
pub async fn serve_accepted(settings: ImapSettings, acceptor: Acceptor, connector: impl Connector) {
    // Clients that log in per check (and webmails, per page) would
    // otherwise open a new storage connection for every session.
    let connector = KeepWarm::new(connector, settings.keep_warm);
    session::waits::set(settings.watch_waits);
    let fetch_cache = cmd::fetch::cache::FetchCache::new(settings.fetch_cache_bytes);
    let process = Arc::new(process::Process {
        settings,
        auth: Arc::new(AuthLink::new(AnyConnector::new(connector))),
        clock: Clock::system(),
        tls: Some(acceptor.tls()),
        plugin_commands: Default::default(),
        fetch_cache,
    });
    server::serve(process, acceptor).await;
}

//! The POP3 protocol process (RFC 1939 with CAPA, RESP-CODES, PIPELINING,
//! STLS, SASL: RFC 2449, 2595, 5034). It runs without privileges in an
//! empty chroot and reaches auth and storage only through the frontend
//! layer (`mailkeep-frontend`: listeners, STLS, the SASL relay, the
//! storage path), never the store (DESIGN.md §1, §6).
//!
//! Layout: [`parse`] is the command syntax, pure (the fuzz targets call
//! [`parse::parse`]); `reply.rs` the status lines, dot-stuffing and TOP's
//! cut; `session.rs` one client's loop and its states; `login.rs` USER,
//! PASS and AUTH; `maildrop.rs` the maildrop as it was at login, its
//! session lock and QUIT's commit; `stls.rs` the upgrade.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod login;
mod maildrop;
pub mod parse;
mod process;
pub mod reply;
mod session;
mod settings;
mod stls;

use std::sync::Arc;

use mailkeep_frontend::{Acceptor, AnyConnector, AuthLink, Clock, Connector, KeepWarm};
use tracing::Instrument;

pub use parse::{Command, ParseError, parse};
pub use settings::Pop3Settings;

/// Serves POP3 on every client `acceptor` accepts, reaching auth and
/// storage through `connector` (the broker in production), until the
/// listeners fail for good.
pub async fn serve_accepted(settings: Pop3Settings, acceptor: Acceptor, connector: impl Connector) {
    // Pollers log in again and again: keep their storage channel open.
    let connector = KeepWarm::new(connector, settings.keep_warm);
    let process = Arc::new(process::Process {
        settings,
        auth: Arc::new(AuthLink::new(AnyConnector::new(connector))),
        clock: Clock::system(),
        tls: Some(acceptor.tls()),
    });
    let reporter = Arc::clone(&process);
    let count = acceptor.connections();
    tokio::spawn(async move {
        mailkeep_frontend::report_sessions(reporter.auth.connector(), count).await;
    });
    acceptor
        .serve(move |connection| {
            let process = Arc::clone(&process);
            let span = tracing::info_span!("pop3", peer = ?connection.info().peer);
            async move {
                if let Err(e) = session::Session::new(process, connection).run().await {
                    tracing::debug!(error = %e, "session ended with an error");
                }
            }
            .instrument(span)
        })
        .await;
}

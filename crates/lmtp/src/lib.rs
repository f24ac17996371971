//! The LMTP protocol process (RFC 2033; DESIGN.md §1): takes mail from an
//! MTA (Postfix's `lmtp:` transport, `mailkeep deliver`) and delivers it
//! into each recipient's store through the storage RPC. It runs as the
//! unprivileged user in an empty chroot like imap, on the shared
//! `frontend` layer; it holds no key and never links the store.
//!
//! For each recipient it asks auth for a **deliver ticket** (a userdb
//! lookup, no password; auth gives them to the lmtp role only). Such a
//! ticket lets a storage process append new messages, say whether a named
//! folder exists (`+detail`) and read quota, nothing else: a compromised
//! lmtp process can deliver mail but read none. A detail naming another
//! owner's mailbox (`bob+shared.alice.Team`) is delivered through that
//! owner's storage process with the recipient's ticket, which it admits
//! only to post where the owner granted the recipient 'p'.
//!
//! Syntax is [`command::parse`], a pure function over one line (fuzzed);
//! DATA's dot-unstuffing is [`data::DotDecoder`], a pure state machine.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod command;
pub mod data;
mod deliver;
mod fanout;
mod process;
mod recipients;
pub mod reply;
mod session;
pub mod shared;
pub mod trace;

use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{Acceptor, AnyConnector, AuthLink, Clock, Connector};
use tracing::Instrument;

use crate::process::Process;

/// What the lmtp process is configured with.
#[derive(Debug, Clone)]
pub struct LmtpSettings {
    /// This host's name (greeting, LHLO, Received).
    pub hostname: String,
    /// The largest message taken (announced as SIZE); bigger ones get
    /// `552 5.3.4`.
    pub max_message_size: u64,
    /// Recipients one transaction takes; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Characters that start a `+detail` in a recipient's local part;
    /// empty: none.
    pub recipient_delimiter: String,
    /// How long a client may be silent.
    pub timeout: Duration,
    /// The protocol-side plugins (their replies for refused deliveries).
    pub plugins: mailkeep_plugin_api::ProtocolPlugins,
    /// The public namespace's account (`+Public.<folder>` delivers into its
    /// folder where it lets the recipient post); empty: none.
    pub public_owner: String,
}

impl Default for LmtpSettings {
    fn default() -> Self {
        LmtpSettings {
            hostname: "localhost".into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            recipient_delimiter: "+".into(),
            timeout: session::DEFAULT_TIMEOUT,
            plugins: mailkeep_plugin_api::ProtocolPlugins::default(),
            public_owner: String::new(),
        }
    }
}

/// Serves LMTP on every client `acceptor` accepts, reaching auth and
/// storage through `connector` (the broker in production), until the
/// listeners fail for good.
pub async fn serve_accepted(settings: LmtpSettings, acceptor: Acceptor, connector: impl Connector) {
    let auth = Arc::new(AuthLink::new(AnyConnector::new(connector)));
    let process = Arc::new(Process::new(settings, auth, Clock::system()));
    let sweeper = Arc::clone(&process);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(recipients::SWEEP_EVERY);
        loop {
            every.tick().await;
            sweeper.recipients.sweep(sweeper.clock.now_unix());
        }
    });
    let reporter = Arc::clone(&process);
    let count = acceptor.connections();
    tokio::spawn(async move {
        mailkeep_frontend::report_sessions(reporter.auth.connector(), count).await;
    });
    let lookup: Arc<dyn mailkeep_plugin_api::RecipientLookup> =
        Arc::new(deliver::Lookup(Arc::clone(&process)));
    acceptor
        .serve(move |connection| {
            let process = Arc::clone(&process);
            let peer = connection.info().peer.to_string();
            // A listener a plugin serves (the quota policy service) speaks
            // the plugin's protocol instead of LMTP.
            let plugin = process
                .settings
                .plugins
                .lmtp_listener(&connection.info().listener);
            let lookup = Arc::clone(&lookup);
            let work: futures::future::BoxFuture<'static, ()> = match plugin {
                Some(plugin) => Box::pin(async move {
                    plugin.serve_lmtp_listener(connection, lookup).await;
                }),
                None => Box::pin(session::run(process, connection)),
            };
            work.instrument(tracing::info_span!("lmtp", %peer))
        })
        .await;
}

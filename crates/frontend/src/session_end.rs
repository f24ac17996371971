//! What every protocol process reports about its sessions: the number of
//! clients, to the master (for `admin ps`) whenever it changed, and the
//! one line per connection at its end (README "Logs": who, from where,
//! how long, how much, how many commands), in the same shape for imap,
//! pop3 and lmtp so that one filter reads them all.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::accept::ConnectionCount;
use crate::admission::Admission;
use crate::any_connector::AnyConnector;
use crate::connection::Traffic;
use crate::connector::Connector;

/// Starts [`report_sessions`] on a task of its own for the connections of
/// `acceptor`, through the connector `auth` reaches the broker with: what
/// every protocol process does before it serves.
pub fn spawn_session_reports(acceptor: &crate::Acceptor, auth: &Arc<crate::AuthLink>) {
    let auth = Arc::clone(auth);
    let count = acceptor.connections();
    tokio::spawn(async move { report_sessions(auth.connector(), count).await });
}

/// Reports the number of clients through `connector` whenever it
/// changed, at most once a second; runs until the process ends.
pub async fn report_sessions(connector: &AnyConnector, count: ConnectionCount) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = u32::try_from(count.active()).unwrap_or(u32::MAX);
        if last != Some(now) {
            connector.report_sessions(now).await;
            last = Some(now);
        }
    }
}

/// What a session knows about itself for the line at its end.
pub struct SessionEnd<'a> {
    /// The user last logged in on it; `None` if nobody did.
    pub user: Option<&'a str>,
    /// Its place under the per-address limits (the client's address).
    pub admission: &'a Admission,
    /// When the connection was accepted.
    pub started_at: Instant,
    /// What it carried.
    pub traffic: &'a Arc<Traffic>,
    /// How many commands it ran.
    pub commands: u64,
}

impl SessionEnd<'_> {
    /// Logs the line (in the caller's span, which names the protocol).
    pub fn log(&self) {
        let address = self
            .admission
            .client_address()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "local".to_owned());
        tracing::info!(
            user = self.user.unwrap_or(""),
            rip = %address,
            duration_ms = u64::try_from(self.started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
            bytes_in = self.traffic.received(),
            bytes_out = self.traffic.sent(),
            commands = self.commands,
            "session ended"
        );
    }
}

//! From accepted connections to sessions: the frontend's acceptor hands
//! over each client (TLS already done on an implicit-TLS listener), and the
//! process reports how many it serves.

use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{Acceptor, Connection, ConnectionCount, Connector};
use tracing::Instrument;

use crate::io::{Output, Reader};
use crate::process::Process;
use crate::session::Session;

/// Serves every client `acceptor` accepts, each in its own task.
pub(crate) async fn serve(process: Arc<Process>, acceptor: Acceptor) {
    tokio::spawn(report_sessions(process.clone(), acceptor.connections()));
    acceptor
        .serve(move |connection| {
            let process = process.clone();
            let span = tracing::info_span!("imap", peer = ?connection.info().peer);
            async move {
                if let Err(e) = session_on(process, connection).run().await {
                    tracing::debug!(error = %e, "session ended with an error");
                }
            }
            .instrument(span)
        })
        .await;
}

/// A session on an accepted connection.
pub(crate) fn session_on(process: Arc<Process>, connection: Connection) -> Session {
    let info = connection.info().clone();
    let admission = connection.admission();
    let traffic = connection.traffic();
    let (reader, writer) = connection.split();
    Session::new(
        process,
        Reader::new(reader),
        Output::new(writer),
        info,
        admission,
        traffic,
    )
}

/// Reports the number of clients to the master whenever it changed, at
/// most once a second.
async fn report_sessions(process: Arc<Process>, count: ConnectionCount) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = u32::try_from(count.active()).unwrap_or(u32::MAX);
        if last != Some(now) {
            process.auth.connector().report_sessions(now).await;
            last = Some(now);
        }
    }
}

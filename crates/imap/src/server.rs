//! From accepted connections to sessions: the frontend's acceptor hands
//! over each client (TLS already done on an implicit-TLS listener), and the
//! process reports how many it serves.

use std::sync::Arc;

use mailkeep_frontend::{Acceptor, Connection};
use tracing::Instrument;

use crate::io::{Output, Reader};
use crate::process::Process;
use crate::session::Session;

/// Serves every client `acceptor` accepts, each in its own task.
pub(crate) async fn serve(process: Arc<Process>, acceptor: Acceptor) {
    let reporter = process.clone();
    let count = acceptor.connections();
    tokio::spawn(async move {
        mailkeep_frontend::report_sessions(reporter.auth.connector(), count).await;
    });
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

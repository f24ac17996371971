//! From accepted connections to sessions: the frontend's acceptor hands
//! over each client (TLS already done on an implicit-TLS listener), and the
//! process reports how many it serves.

use std::sync::Arc;

use mailkeep_frontend::{Acceptor, Connection};

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
            // The session is made here, not in the future: what an async
            // block captures stays in its state for as long as it runs,
            // so a connection moved in would be kept twice. (The
            // acceptor's span names the listener and the peer already.)
            let session = session_on(process.clone(), connection);
            async move {
                if let Err(e) = session.run().await {
                    tracing::debug!(error = %e, "session ended with an error");
                }
            }
        })
        .await;
}

/// A session on an accepted connection, boxed: its task keeps only the
/// pointer across the session's waits.
pub(crate) fn session_on(process: Arc<Process>, connection: Connection) -> Box<Session> {
    let info = connection.info().clone();
    let admission = connection.admission();
    let traffic = connection.traffic();
    let (reader, writer) = connection.split();
    Box::new(Session::new(
        process,
        Reader::new(reader),
        Output::new(writer),
        info,
        admission,
        traffic,
    ))
}

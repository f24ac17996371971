//! The accept loop: one task per client, bounded by `max_connections`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::errors::ImapError;
use crate::io::{Output, Reader};
use crate::process::Process;
use crate::session::Session;
use crate::session::facts::ConnFacts;

/// Accepts clients on every listener forever; each client runs in its own
/// task, so a failing client never stops the others.
pub(crate) async fn accept_loop(
    process: Arc<Process>,
    listeners: Vec<TcpListener>,
) -> Result<(), ImapError> {
    let slots = Arc::new(Semaphore::new(process.settings.max_connections.max(1)));
    tokio::spawn(report_sessions(process.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        tasks.spawn(accept_on(process.clone(), slots.clone(), listener));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "accept loop failed");
        }
    }
    Ok(())
}

/// Accepts clients on one listener.
async fn accept_on(process: Arc<Process>, slots: Arc<Semaphore>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(%peer, "too many connections");
                tokio::spawn(refuse(stream));
                continue;
            }
        };
        let session = session_on(process.clone(), stream, peer);
        let span = tracing::info_span!("imap", %peer);
        tokio::spawn(
            async move {
                let _permit = permit;
                let _counted = SessionCount::begin();
                if let Err(e) = session.run().await {
                    tracing::debug!(error = %e, "session ended with an error");
                }
            }
            .instrument(span),
        );
    }
}

/// A session on an accepted TCP connection.
pub(crate) fn session_on(process: Arc<Process>, stream: TcpStream, peer: SocketAddr) -> Session {
    let facts = ConnFacts {
        peer: peer.ip().to_string(),
        loopback: peer.ip().is_loopback(),
        ..ConnFacts::default()
    };
    let timeout = process.settings.idle_timeout;
    let (reader, writer) = stream.into_split();
    Session::new(
        process,
        Reader::new(reader),
        Output::new(writer, timeout),
        facts,
    )
}

/// Tells a client over the limit to come back later.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(b"* BYE Too many connections, try again later\r\n")
        .await;
}

/// Client sessions of this process, across all its listeners.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// Counts a session while it lives.
struct SessionCount;

impl SessionCount {
    fn begin() -> SessionCount {
        SESSIONS.fetch_add(1, Ordering::Relaxed);
        SessionCount
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        SESSIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reports the session count to the master whenever it changed, at most
/// once a second.
async fn report_sessions(process: Arc<Process>) {
    use mailkeep_frontend::Connector;
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = SESSIONS.load(Ordering::Relaxed);
        if last != Some(now) {
            process.auth.connector().report_sessions(now).await;
            last = Some(now);
        }
    }
}

//! The accept loop: one task per client, bounded by `max_connections`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::ImapSettings;
use crate::backend::{Backend, Shared};
use crate::conn::Conn;
use crate::errors::ImapError;
use crate::session::Session;

/// Accepts clients forever; each runs in its own task, so a failing client
/// never stops the others.
pub(crate) async fn accept_loop<B: Backend>(
    settings: ImapSettings,
    listener: TcpListener,
    backend: B,
) -> Result<(), ImapError> {
    let settings = Arc::new(settings);
    let shared = Shared::new(backend);
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    tokio::spawn(report_sessions(shared.clone()));
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
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let mut stream = stream;
                    let _ = stream
                        .write_all(b"* BYE Too many connections, try again later\r\n")
                        .await;
                });
                continue;
            }
        };
        let (reader, writer) = stream.into_split();
        let session = Session::new(
            shared.clone(),
            settings.clone(),
            Conn::new(reader, writer),
            peer.ip().to_string(),
        );
        let span = tracing::info_span!("imap", %peer, host = %settings.hostname);
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

/// Serves the clients `acceptor` hands over (plain, implicit-TLS and UNIX
/// listeners; the connection limit is the acceptor's). Sessions run on
/// the connection's plain byte stream: STARTTLS and COMPRESS are for the
/// session rewrite on the frontend's reader and writer.
pub(crate) async fn serve_accepted<B: Backend>(
    settings: ImapSettings,
    acceptor: mailkeep_frontend::Acceptor,
    backend: B,
) {
    let settings = Arc::new(settings);
    let shared = Shared::new(backend);
    tokio::spawn(report_sessions(shared.clone()));
    acceptor
        .serve(move |conn| {
            let settings = settings.clone();
            let shared = shared.clone();
            async move {
                let peer = match conn.info().peer.ip() {
                    Some(ip) => ip.to_string(),
                    None => "local".to_owned(),
                };
                let Ok(stream) = conn.into_stream() else {
                    return;
                };
                let (reader, writer) = tokio::io::split(stream);
                let _counted = SessionCount::begin();
                let session = Session::new(shared, settings, Conn::new(reader, writer), peer);
                if let Err(e) = session.run().await {
                    tracing::debug!(error = %e, "session ended with an error");
                }
            }
        })
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
async fn report_sessions<B: Backend>(shared: Arc<Shared<B>>) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = SESSIONS.load(Ordering::Relaxed);
        if last != Some(now) {
            shared.backend.report_sessions(now).await;
            last = Some(now);
        }
    }
}

/// Serves one already-connected client (tests).
#[cfg(test)]
pub(crate) async fn serve_one<B: Backend>(
    settings: Arc<ImapSettings>,
    shared: Arc<Shared<B>>,
    reader: impl tokio::io::AsyncRead + Unpin + Send + Sync + 'static,
    writer: impl tokio::io::AsyncWrite + Unpin + Send + Sync + 'static,
    peer: String,
) -> Result<(), ImapError> {
    Session::new(shared, settings, Conn::new(reader, writer), peer)
        .run()
        .await
}

//! Connections that count themselves: the storage process knows how many
//! protocol-process connections are open, reports it to the broker, and so
//! the broker knows when the process is idle and may linger and exit.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use mailkeep_storage_rpc::coalesce::Coalesced;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tonic::transport::server::Connected;

/// The count of open connections, and a signal when it changes.
#[derive(Default)]
pub(crate) struct ConnectionCount {
    open: AtomicU32,
    changed: Notify,
}

impl ConnectionCount {
    /// Connections open now.
    pub(crate) fn open(&self) -> u32 {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits until the count changes.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A passed connection, counted while it is open. Its writes are
/// gathered per turn of the HTTP/2 connection, so that an answer and its
/// trailers reach the protocol process in one write (see `Coalesced`).
pub(crate) struct TrackedConn {
    stream: Coalesced<QuietStream>,
    count: Arc<ConnectionCount>,
}

impl TrackedConn {
    /// Counts `stream` as open until it is dropped.
    pub(crate) fn new(stream: QuietStream, count: Arc<ConnectionCount>) -> TrackedConn {
        count.open.fetch_add(1, Ordering::SeqCst);
        count.changed.notify_one();
        TrackedConn {
            stream: Coalesced::new(stream),
            count,
        }
    }
}

impl Drop for TrackedConn {
    fn drop(&mut self) {
        self.count.open.fetch_sub(1, Ordering::SeqCst);
        self.count.changed.notify_one();
    }
}

/// Nothing is read from a connection's peer: every call carries its
/// ticket, and the broker knows who holds the connection.
impl Connected for TrackedConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TrackedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    /// Passed on, so that a frame's head and its payload are gathered
    /// without h2 copying the payload first.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

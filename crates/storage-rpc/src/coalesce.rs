//! Writes gathered into one system call per turn of an HTTP/2 connection.
//!
//! h2 writes a DATA frame of more than 256 bytes straight from its
//! payload, and flushes it before it buffers the next frame; so a unary
//! answer bigger than that (a SELECT's, most FETCHes') left a storage
//! process in two writes, its message and then its trailers, and the
//! protocol process woke for each: read the message, slept, woke again
//! for the trailers that end the call (`strace` of a SELECT loop). Every
//! wake-up that crosses cores is one of the costliest steps of a call on
//! the virtual machines we measure on.
//!
//! [`Coalesced`] keeps what is written (up to [`GATHER_LIMIT`]). The
//! first flush after a big DATA frame only asks for another turn (it
//! wakes the connection's task); what waits goes out at the next flush,
//! at the next read (the connection reads first thing in every turn),
//! when a write would not fit, or at the shutdown, whichever comes first.
//! So a message and its trailers, flushed one after the other in one
//! turn, go in one system call, and nothing waits past the next turn (a
//! poll of the task, no timer). A small flush goes out at once.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes gathered before they go out at once: a bigger answer (a
/// message body) is not copied, it is written as it comes.
pub const GATHER_LIMIT: usize = 16 * 1024;

/// What h2 writes in one flush when it did not split anything: frames
/// whose DATA is under its 256-byte chaining threshold, with their
/// 9-byte heads (a small answer and its trailers, a window update).
/// More means a big DATA frame went first, and its stream's trailers or
/// next message most likely follow in the same turn: that flush is put
/// off. A small one goes out at once, as before (putting it off would
/// only cost a turn).
const FLUSHED_AT_ONCE: usize = 256 + 9;

/// A stream whose writes wait for the connection's next turn (see the
/// module docs).
#[derive(Debug)]
pub struct Coalesced<T> {
    inner: T,
    /// Bytes written to this stream and not yet to `inner`.
    waiting: Vec<u8>,
    /// A flush was put off to the next turn: the next flush sends.
    put_off: bool,
}

impl<T> Coalesced<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Coalesced<T> {
        Coalesced {
            inner,
            waiting: Vec::new(),
            put_off: false,
        }
    }
}

impl<T: AsyncWrite + Unpin> Coalesced<T> {
    /// Writes what waits, until it is all out or the socket is full.
    fn poll_send_waiting(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.waiting.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.waiting))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.waiting.drain(..n);
        }
        self.put_off = false;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesced<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A new turn: what the last one wrote goes out first. A full
        // socket does not stop the read (the write's waker is set).
        if let Poll::Ready(Err(e)) = this.poll_send_waiting(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesced<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.waiting.len() + len <= GATHER_LIMIT {
            for b in bufs {
                this.waiting.extend_from_slice(b);
            }
            return Poll::Ready(Ok(len));
        }
        ready!(this.poll_send_waiting(cx))?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.waiting.len() > FLUSHED_AT_ONCE && !this.put_off {
            // Sent at the next turn, which this wake-up makes come (or by
            // the next flush, in this turn or the next: never later).
            this.put_off = true;
            cx.waker().wake_by_ref();
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_send_waiting(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_waiting(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;

//! A UNIX stream socket whose task is woken only when there is something
//! to read, for every connection between processes on one host: the gRPC
//! connections (as `AsyncRead`/`AsyncWrite`) and the framed broker and
//! control channels (`read_with`/`write_with`, see `crate::framing`).
//!
//! A tokio `UnixStream` is registered with epoll for reading and writing,
//! edge-triggered. On a UNIX socket the kernel signals "writable" every
//! time the peer reads (each buffer it frees wakes the writer's waiters),
//! so every RPC woke each side once more than it needed: the caller when
//! the callee read the request, the callee when the caller read the reply.
//! On the 2-core virtual machines we measure on, a wake-up that crosses
//! cores is the largest single cost of a call (`strace` of a storage
//! process under NOOPs: after each reply's `writev`, an `epoll_wait` that
//! slept 40-45 µs only to return `EPOLLOUT`).
//!
//! [`QuietStream`] registers the socket for reading only and writes to it
//! directly. Only when a write finds the socket's buffer full does it
//! register a second descriptor of the same socket for writing, wait on
//! it, and drop it again once a write went through.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::fd::register_with_interest;

/// A connected UNIX stream socket for tokio that wakes its task for
/// reading only (see the module docs).
#[derive(Debug)]
pub struct QuietStream {
    /// The socket, registered for readability.
    socket: AsyncFd<UnixStream>,
    /// A second descriptor of it, registered for writability while a write
    /// waits for room.
    room: Option<AsyncFd<OwnedFd>>,
}

impl QuietStream {
    /// Takes over `fd`, a connected UNIX stream socket (made non-blocking
    /// here). Must be called inside a tokio runtime.
    pub fn new(fd: OwnedFd) -> io::Result<QuietStream> {
        let socket = UnixStream::from(fd);
        socket.set_nonblocking(true)?;
        Ok(QuietStream {
            socket: register_with_interest(socket, Interest::READABLE)?,
            room: None,
        })
    }

    /// A connected pair, for tests.
    pub fn pair() -> io::Result<(QuietStream, QuietStream)> {
        let (a, b) = UnixStream::pair()?;
        Ok((
            QuietStream::new(OwnedFd::from(a))?,
            QuietStream::new(OwnedFd::from(b))?,
        ))
    }

    /// Takes over a connected std socket (made non-blocking here). Must be
    /// called inside a tokio runtime.
    pub fn from_std(socket: UnixStream) -> io::Result<QuietStream> {
        QuietStream::new(OwnedFd::from(socket))
    }

    /// Connects to the socket at `path` (a UNIX socket connects at once or
    /// fails: nothing to wait for).
    pub fn connect(path: impl AsRef<Path>) -> io::Result<QuietStream> {
        QuietStream::from_std(UnixStream::connect(path)?)
    }

    /// A connected pair: this end, and the other as a plain std socket, to
    /// pass on to another process (the master's channels to its children)
    /// or to drive from a test.
    pub fn with_peer() -> io::Result<(QuietStream, UnixStream)> {
        let (ours, theirs) = UnixStream::pair()?;
        Ok((QuietStream::from_std(ours)?, theirs))
    }

    /// Runs `io` (a non-blocking read of the socket, `recvmsg` with
    /// descriptors for the framed channels) until it does not find the
    /// socket empty, waiting for readability in between. Takes `&self`:
    /// one task may read while others send.
    pub async fn read_with<R>(
        &self,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.socket.readable().await?;
            match guard.try_io(|socket| io(socket.get_ref().as_fd())) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Runs `io` (a non-blocking send, `sendmsg` for the framed channels)
    /// until it does not find the buffer full, waiting for room as writes
    /// do. Takes `&self`: the registration for room, if one is needed,
    /// lives only as long as this send.
    pub async fn write_with<R>(
        &self,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut room = None;
        std::future::poll_fn(|cx| {
            poll_with_room(self.socket.get_ref(), &mut room, cx, |s| io(s.as_fd()))
        })
        .await
    }

    /// Runs `write` until it goes through, waiting for room in the
    /// socket's buffer when it is full.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnMut(&UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        poll_with_room(self.socket.get_ref(), &mut self.room, cx, write)
    }
}

/// Runs `write` on `socket` until it goes through. Only when it finds the
/// buffer full is a second descriptor of the socket registered for
/// writability (in `room`, kept across polls) and waited on; it is
/// dropped again once a write went through.
fn poll_with_room<R>(
    socket: &UnixStream,
    room: &mut Option<AsyncFd<OwnedFd>>,
    cx: &mut Context<'_>,
    mut write: impl FnMut(&UnixStream) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let Some(registered) = room.as_ref() else {
            match write(socket) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Registered after the write failed: a buffer freed
                    // meanwhile shows as ready at once.
                    *room = Some(register_with_interest(
                        OwnedFd::from(socket.try_clone()?),
                        Interest::WRITABLE,
                    )?);
                    continue;
                }
                result => return Poll::Ready(result),
            }
        };
        let mut guard = ready!(registered.poll_write_ready(cx))?;
        match write(socket) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
            result => {
                drop(guard);
                // Deregistered before its descriptor closes (AsyncFd's
                // drop), so epoll forgets it.
                *room = None;
                return Poll::Ready(result);
            }
        }
    }
}

impl AsFd for QuietStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.get_ref().as_fd()
    }
}

impl std::os::fd::AsRawFd for QuietStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.get_ref().as_raw_fd()
    }
}

impl AsyncRead for QuietStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.socket.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let room = unfilled.len();
            let mut socket: &UnixStream = self.socket.get_ref();
            match socket.read(unfilled) {
                Ok(n) => {
                    // A short read emptied the socket: the next read waits
                    // for the next edge instead of finding nothing (as
                    // tokio's own streams do; a newer edge is kept).
                    if n > 0 && n < room {
                        guard.clear_ready();
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for QuietStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut socket| socket.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut socket| socket.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go to the socket at once.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket.get_ref().shutdown(Shutdown::Write) {
            // The peer went away first: nothing left to shut.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::QuietStream;

    /// Both ways, and a write far larger than the socket's buffer, which
    /// must wait for the reader to make room (the write side's second
    /// registration), then the end of the stream.
    #[tokio::test]
    async fn carries_bytes_both_ways_and_waits_for_room_when_the_buffer_is_full() {
        let (mut a, mut b) = QuietStream::pair().unwrap();
        a.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").await.unwrap();
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");

        let big: Vec<u8> = (0..8 * 1024 * 1024_u32).map(|i| (i % 251) as u8).collect();
        let expected = big.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&big).await.unwrap();
            assert!(a.room.is_none(), "the second registration is dropped again");
            a.shutdown().await.unwrap();
        });
        let mut received = Vec::new();
        b.read_to_end(&mut received).await.unwrap();
        writer.await.unwrap();
        assert_eq!(received.len(), expected.len());
        assert!(received == expected, "the bytes arrive in order");
    }

    /// A reader parked before anything was written is woken by the write.
    #[tokio::test]
    async fn a_waiting_reader_is_woken_by_a_write() {
        let (mut a, mut b) = QuietStream::pair().unwrap();
        let reader = tokio::spawn(async move {
            let mut got = [0u8; 5];
            b.read_exact(&mut got).await.unwrap();
            got
        });
        tokio::task::yield_now().await;
        a.write_all(b"hello").await.unwrap();
        assert_eq!(&reader.await.unwrap(), b"hello");
    }
}

#[cfg(test)]
mod framed_tests {
    use std::os::fd::OwnedFd;

    use crate::broker::{BrokerRequest, Status, broker_request};
    use crate::framing::{recv_frame, send_frame};

    use super::QuietStream;

    fn report(sessions: u32) -> BrokerRequest {
        BrokerRequest {
            id: u64::from(sessions),
            kind: Some(broker_request::Kind::Status(Status { sessions })),
        }
    }

    /// Frames both ways, one with a descriptor riding on it, which arrives
    /// as a working socket.
    #[tokio::test]
    async fn carries_frames_and_a_descriptor_both_ways() {
        let (a, b) = QuietStream::with_peer().unwrap();
        let b = QuietStream::from_std(b).unwrap();
        let (passed, kept) = std::os::unix::net::UnixStream::pair().unwrap();
        send_frame(&a, &report(1), Some(&OwnedFd::from(passed)))
            .await
            .unwrap();
        let (got, fd): (BrokerRequest, _) = recv_frame(&b).await.unwrap();
        assert_eq!(got, report(1));
        let passed = std::os::unix::net::UnixStream::from(fd.expect("the descriptor"));
        std::io::Write::write_all(&mut &passed, b"x").unwrap();
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut &kept, &mut byte).unwrap();
        assert_eq!(&byte, b"x");

        send_frame(&b, &report(2), None).await.unwrap();
        let (got, fd): (BrokerRequest, _) = recv_frame(&a).await.unwrap();
        assert_eq!((got, fd.is_none()), (report(2), true));
    }

    /// Frames sent faster than the peer reads fill the socket's buffer:
    /// the sender then waits for room (the second registration) and every
    /// frame still arrives, in order, once the peer reads.
    #[tokio::test]
    async fn a_sender_that_fills_the_buffer_waits_for_room() {
        const FRAMES: u32 = 20_000;
        let (a, b) = QuietStream::with_peer().unwrap();
        let b = QuietStream::from_std(b).unwrap();
        let sender = tokio::spawn(async move {
            for n in 0..FRAMES {
                send_frame(&a, &report(n), None).await.unwrap();
            }
        });
        // Far more than a socket buffer holds before anything is read.
        tokio::task::yield_now().await;
        for n in 0..FRAMES {
            let (got, _): (BrokerRequest, _) = recv_frame(&b).await.unwrap();
            assert_eq!(got, report(n));
        }
        sender.await.unwrap();
    }
}

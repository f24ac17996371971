//! A UNIX stream socket for the broker and control channels (framed
//! messages with descriptors, see [`crate::framing`]) whose task is woken
//! only when there is something to read.
//!
//! The reason is the one [`crate::quiet_stream`] gives for the gRPC
//! connections: a UNIX socket signals "writable" to its writer every time
//! the peer reads, and a tokio `UnixStream` is registered for both, so
//! every framed request woke its sender once more when the master read it
//! (`strace` of one IMAP login, SELECT and LOGOUT: four of the master's
//! nine wake-ups and two of the imap process's were for `EPOLLOUT` alone).
//! [`QuietSocket`] registers the socket for reading only and sends
//! directly; only a send that finds the buffer full registers a second
//! descriptor of the socket for writing, waits on it, and drops it again.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::fd::register_with_interest;

/// A connected UNIX stream socket for framed messages that wakes its task
/// for reading only (see the module docs).
#[derive(Debug)]
pub struct QuietSocket {
    /// The socket, registered for readability.
    socket: AsyncFd<UnixStream>,
}

impl QuietSocket {
    /// Takes over `fd`, a connected UNIX stream socket (made non-blocking
    /// here). Must be called inside a tokio runtime.
    pub fn new(fd: OwnedFd) -> io::Result<QuietSocket> {
        QuietSocket::from_std(UnixStream::from(fd))
    }

    /// Takes over a connected std socket (made non-blocking here). Must be
    /// called inside a tokio runtime.
    pub fn from_std(socket: UnixStream) -> io::Result<QuietSocket> {
        socket.set_nonblocking(true)?;
        Ok(QuietSocket {
            socket: register_with_interest(socket, Interest::READABLE)?,
        })
    }

    /// Connects to the socket at `path` (a UNIX socket connects at once or
    /// fails: nothing to wait for).
    pub fn connect(path: impl AsRef<Path>) -> io::Result<QuietSocket> {
        QuietSocket::from_std(UnixStream::connect(path)?)
    }

    /// A connected pair, for tests and for the master's channels to its
    /// children (one end kept, the other passed on).
    pub fn pair() -> io::Result<(QuietSocket, UnixStream)> {
        let (ours, theirs) = UnixStream::pair()?;
        Ok((QuietSocket::from_std(ours)?, theirs))
    }

    /// The socket back as a std one (still non-blocking), no longer
    /// registered: for a descriptor to pass on, or a stream of another kind.
    pub fn into_std(self) -> io::Result<UnixStream> {
        Ok(self.socket.into_inner())
    }

    /// Runs `io` (a non-blocking read of the socket) until it does not
    /// find the socket empty, waiting for readability in between.
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

    /// Runs `io` (a non-blocking send on the socket) until it does not
    /// find the buffer full; only then is a second descriptor of the
    /// socket registered for writability and waited on.
    pub async fn write_with<R>(
        &self,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        match io(self.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => return result,
        }
        // Registered after the send failed: room made meanwhile shows as
        // ready at once. Dropped (deregistered, closed) on return.
        let room = register_with_interest(
            OwnedFd::from(self.socket.get_ref().try_clone()?),
            Interest::WRITABLE,
        )?;
        loop {
            let mut guard = room.writable().await?;
            match io(self.as_fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                result => return result,
            }
        }
    }
}

impl AsFd for QuietSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.get_ref().as_fd()
    }
}

impl AsRawFd for QuietSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.get_ref().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use crate::broker::{BrokerRequest, Status, broker_request};
    use crate::framing::{recv_frame, send_frame};

    use super::QuietSocket;

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
        let (a, b) = QuietSocket::pair().unwrap();
        let b = QuietSocket::from_std(b).unwrap();
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
        let (a, b) = QuietSocket::pair().unwrap();
        let b = QuietSocket::from_std(b).unwrap();
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

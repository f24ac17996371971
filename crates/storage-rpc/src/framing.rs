//! Framed messages with attached descriptors, for the broker channels:
//! a 4-byte big-endian length, the encoded protobuf message, and at most one
//! file descriptor riding on the same `sendmsg`.

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use prost::Message;
use tokio::io::Interest;
use tokio::net::UnixStream;
use zeroize::Zeroizing;

use crate::quiet_stream::QuietStream;

/// A UNIX stream socket that frames travel on: the channels of the
/// broker and of the master's control ([`QuietStream`], woken for reading
/// only), or a tokio `UnixStream` (tests, the admin socket).
pub trait FrameSocket: Sync {
    /// Runs `io`, a non-blocking read of the socket, until it does not
    /// find the socket empty.
    fn read_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send;

    /// Runs `io`, a non-blocking send on the socket, until it does not
    /// find the buffer full.
    fn write_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send;
}

impl FrameSocket for QuietStream {
    fn read_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send {
        QuietStream::read_with(self, io)
    }

    fn write_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send {
        QuietStream::write_with(self, io)
    }
}

/// A shared socket, as the tasks that read and write one channel hold it.
impl<T: FrameSocket + Send> FrameSocket for std::sync::Arc<T> {
    fn read_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send {
        T::read_with(self, io)
    }

    fn write_with<R: Send>(
        &self,
        io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> impl Future<Output = io::Result<R>> + Send {
        T::write_with(self, io)
    }
}

impl FrameSocket for UnixStream {
    async fn read_with<R: Send>(
        &self,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> io::Result<R> {
        loop {
            self.readable().await?;
            match self.try_io(Interest::READABLE, || io(self.as_fd())) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }

    async fn write_with<R: Send>(
        &self,
        mut io: impl FnMut(BorrowedFd<'_>) -> io::Result<R> + Send,
    ) -> io::Result<R> {
        loop {
            self.writable().await?;
            match self.try_io(Interest::WRITABLE, || io(self.as_fd())) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }
}

/// The largest frame accepted, so a peer cannot make us allocate more.
pub const MAX_FRAME: usize = 64 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("broker channel I/O: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the channel.
    #[error("broker channel closed by the peer")]
    Closed,
    /// The frame announced more than [`MAX_FRAME`] bytes.
    #[error("broker frame of {0} bytes is over the limit of {MAX_FRAME}")]
    TooLarge(usize),
    /// The bytes are not the expected message.
    #[error("broker frame does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// More descriptors came than a frame may carry.
    #[error("broker frame carried {0} descriptors, at most 1 is allowed")]
    TooManyFds(usize),
}

/// Sends one message, with `fd` attached if given.
pub async fn send_frame<M: Message>(
    stream: &impl FrameSocket,
    message: &M,
    fd: Option<&OwnedFd>,
) -> Result<(), FrameError> {
    let body_len = message.encoded_len();
    if body_len > MAX_FRAME {
        return Err(FrameError::TooLarge(body_len));
    }
    let len = u32::try_from(body_len).map_err(|_| FrameError::TooLarge(body_len))?;
    // Frames carry tickets: wiped when sent (a ticket must not outlive its
    // holder in freed memory).
    let mut frame = Zeroizing::new(Vec::with_capacity(4 + body_len));
    frame.extend_from_slice(&len.to_be_bytes());
    message
        .encode(&mut *frame)
        .map_err(|_| FrameError::TooLarge(body_len))?;
    let mut sent = 0usize;
    let mut fd_pending = fd.map(|f| f.as_raw_fd());
    while sent < frame.len() {
        let unsent = &frame[sent..];
        let fd = fd_pending;
        let n = stream
            .write_with(|socket| {
                let iov = [IoSlice::new(unsent)];
                let fds;
                let cmsgs: &[ControlMessage<'_>] = match &fd {
                    Some(raw) => {
                        fds = [*raw];
                        &[ControlMessage::ScmRights(&fds)]
                    }
                    None => &[],
                };
                sendmsg::<()>(
                    socket.as_raw_fd(),
                    &iov,
                    cmsgs,
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                    None,
                )
                .map_err(io::Error::from)
            })
            .await?;
        sent += n;
        fd_pending = None;
    }
    Ok(())
}

/// Receives one message and the descriptor attached to it, if any.
///
/// Reads exactly one frame: the length first, then the body, so that
/// descriptors belonging to a later frame are never taken early.
pub async fn recv_frame<M: Message + Default>(
    stream: &impl FrameSocket,
) -> Result<(M, Option<OwnedFd>), FrameError> {
    let mut fds = Vec::new();
    let mut header = [0u8; 4];
    read_exact_with_fds(stream, &mut header, &mut fds).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    // Wiped once decoded, as a sent frame is.
    let mut body = Zeroizing::new(vec![0u8; len]);
    read_exact_with_fds(stream, &mut body, &mut fds).await?;
    if fds.len() > 1 {
        return Err(FrameError::TooManyFds(fds.len()));
    }
    let message = M::decode(body.as_slice())?;
    Ok((message, fds.pop()))
}

async fn read_exact_with_fds(
    stream: &impl FrameSocket,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> Result<(), FrameError> {
    let mut filled = 0usize;
    while filled < buf.len() {
        let unfilled = &mut buf[filled..];
        let (n, mut got) = stream
            .read_with(|socket| crate::fd::recv_with_fds(socket, unfilled))
            .await?;
        if n == 0 {
            return Err(FrameError::Closed);
        }
        filled += n;
        fds.append(&mut got);
        if fds.len() > 1 {
            return Err(FrameError::TooManyFds(fds.len()));
        }
    }
    Ok(())
}

/// Turns a received descriptor into a tokio UNIX stream.
pub fn into_unix_stream(fd: OwnedFd) -> io::Result<UnixStream> {
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    std_stream.set_nonblocking(true)?;
    UnixStream::from_std(std_stream)
}

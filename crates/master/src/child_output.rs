//! Where a child's output goes: a pipe of its own, whose lines the master
//! copies to its own stderr. So no child holds the master's stderr, which
//! may be a log file: a compromised protocol process cannot rewrite,
//! truncate or fill the log (or write to whatever else the master's
//! output is), only send lines that arrive stamped with its role and pid
//! by its own logging, among everyone else's.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use nix::sys::stat::SFlag;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::MasterError;

/// The longest piece of a line copied at once: a longer line (which no
/// logging of ours writes) arrives in pieces, so a child cannot make the
/// master buffer without bound.
const MAX_LINE: u64 = 16 * 1024;

/// A pipe for a child's stdout and stderr: the write end to give the
/// child (twice), and the read end to [`relay`].
pub(crate) struct OutputPipe {
    /// The read end, for [`relay`].
    pub(crate) read: OwnedFd,
    /// The write end, for the child's stdout.
    pub(crate) stdout: OwnedFd,
    /// The write end again, for the child's stderr.
    pub(crate) stderr: OwnedFd,
}

impl OutputPipe {
    /// A new pipe (both ends close-on-exec; the child gets its end as
    /// stdout and stderr).
    pub(crate) fn new() -> Result<OutputPipe, MasterError> {
        let (read, write) =
            std::io::pipe().map_err(|e| MasterError::io("creating a child's output pipe", e))?;
        let write = OwnedFd::from(write);
        let stderr = write
            .try_clone()
            .map_err(|e| MasterError::io("duplicating a child's output pipe", e))?;
        Ok(OutputPipe {
            read: OwnedFd::from(read),
            stdout: write,
            stderr,
        })
    }
}

/// Copies the lines a child writes into `read` to the master's stderr
/// until the child has closed its end (it exited). Runs as a task.
pub(crate) async fn relay(read: OwnedFd, role: &'static str) {
    let pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(read) {
        Ok(pipe) => pipe,
        Err(e) => {
            tracing::error!(role, "cannot read a child's output: {e}");
            return;
        }
    };
    if let Err(e) = copy_lines(pipe, MasterStderr::new()).await {
        tracing::warn!(role, "reading a child's output: {e}");
    }
}

/// The master's stderr, where copied lines go. When it is a regular file
/// a line is written at once, as the master's own log lines are (a write
/// to a file waits for no reader); otherwise through tokio's stderr, which
/// writes on the blocking pool, so that a stalled pipe or terminal holds
/// the copying task but never the master's thread. A line copied at once
/// saves a hand-over to a pool thread: a POP3 session's three lines cost
/// the master about three context switches less (12-13 per session
/// before, 9-10 with this and auth's one-thread runtime).
enum MasterStderr {
    File(std::io::Stderr),
    Other(tokio::io::Stderr),
}

impl MasterStderr {
    fn new() -> MasterStderr {
        let stderr = std::io::stderr();
        let is_file = nix::sys::stat::fstat(stderr.as_fd())
            .is_ok_and(|stat| stat.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits());
        if is_file {
            MasterStderr::File(stderr)
        } else {
            MasterStderr::Other(tokio::io::stderr())
        }
    }
}

impl AsyncWrite for MasterStderr {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MasterStderr::File(file) => Poll::Ready(file.write(buf)),
            MasterStderr::Other(other) => Pin::new(other).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MasterStderr::File(file) => Poll::Ready(file.flush()),
            MasterStderr::Other(other) => Pin::new(other).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MasterStderr::File(_) => Poll::Ready(Ok(())),
            MasterStderr::Other(other) => Pin::new(other).poll_shutdown(cx),
        }
    }
}

/// Copies `from` to `to` a line (or MAX_LINE bytes) at a time, each with
/// one write, so that lines of different children do not mix. A failing
/// `to` does not stop the copy: the child must never block on a full pipe.
async fn copy_lines(
    from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        if (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?
            == 0
        {
            return Ok(());
        }
        let _ = to.write_all(&line).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// What a child writes comes out whole and in order, an over-long line
    /// included, and the copy ends when the child's end closes.
    #[tokio::test]
    async fn child_output_is_copied_until_the_child_closes_its_end() {
        let pipe = OutputPipe::new().expect("pipe");
        let mut sent = b"one\n".to_vec();
        sent.extend(vec![b'x'; (MAX_LINE as usize) * 2 + 5]);
        sent.extend(b"\ntwo\n");
        let writer = std::thread::spawn({
            let mut out = std::fs::File::from(pipe.stdout);
            let mut err = std::fs::File::from(pipe.stderr);
            let sent = sent.clone();
            move || {
                out.write_all(&sent[..4]).expect("write");
                err.write_all(&sent[4..]).expect("write");
            }
        });
        let receiver =
            tokio::net::unix::pipe::Receiver::from_owned_fd(pipe.read).expect("receiver");
        let mut copied = Vec::new();
        copy_lines(receiver, &mut copied).await.expect("copy");
        writer.join().expect("writer");
        assert_eq!(copied, sent);
    }
}

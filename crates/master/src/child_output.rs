//! Where a child's output goes: a pipe of its own, whose lines the master
//! copies to its own stderr. So no child holds the master's stderr, which
//! may be a log file: a compromised protocol process cannot rewrite,
//! truncate or fill the log (or write to whatever else the master's
//! output is), only send lines that arrive stamped with its role and pid
//! by its own logging, among everyone else's.
//!
//! The master does not wake for every line: once a child's pipe has
//! output, the master copies what is there and looks again every
//! [`GATHER`], with the pipe out of its event loop, until a look finds
//! nothing; only then does it wait for the pipe again. A busy process's
//! lines (a delivery's, a login's) then cost the master one wake-up per
//! [`GATHER`] instead of one per line, and the child's write wakes
//! nobody.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use nix::sys::stat::SFlag;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::MasterError;

/// The longest piece of a line copied at once: a longer line (which no
/// logging of ours writes) arrives in pieces, so a child cannot make the
/// master buffer without bound.
const MAX_LINE: usize = 16 * 1024;

/// How long a child's lines gather in its pipe between two looks while it
/// writes: what a log line may lag behind the event it reports.
const GATHER: Duration = Duration::from_millis(25);

/// The capacity asked for a child's pipe (Linux's default is 64 KiB):
/// about 1,500 log lines, what a busy protocol process writes in a
/// [`GATHER`] many times over, so that a child writing many lines at once
/// does not wait for the master.
const PIPE_BYTES: nix::libc::c_int = 256 * 1024;

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
        // A smaller pipe (the system's limit may be lower) only makes a
        // child that writes a burst wait for the master's next look. (A
        // master without root whose pipes pass the user's soft limit on
        // pipe pages, 64 MiB by default, gets small pipes: the same.)
        let _ = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
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

/// Relays running now (one per child's pipe; see [`relays_done`]).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts a relay while it runs.
struct Running;

impl Running {
    fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits, at most `within`, until every relay has copied its child's last
/// lines and ended (each ends when its child has exited): for the master's
/// stop, so that what children write as they stop reaches the log.
pub(crate) async fn relays_done(within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while RUNNING.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Copies the lines a child writes into `read` to the master's stderr
/// until the child has closed its end (it exited). Runs as a task.
pub(crate) async fn relay(read: OwnedFd, role: &'static str) {
    let _running = Running::start();
    let to = MasterStderr::new();
    let piece = to.atomic_write();
    if let Err(e) = relay_to(read, to, piece).await {
        tracing::warn!(role, "reading a child's output: {e}");
    }
}

/// [`relay`] to any writer, in writes of at most `piece` bytes: waits for
/// output with the pipe in the event loop, then copies it and looks again
/// every [`GATHER`] with the pipe out of it, until a look finds nothing.
async fn relay_to(
    read: OwnedFd,
    mut to: impl AsyncWrite + Unpin,
    piece: usize,
) -> std::io::Result<()> {
    let mut read = read;
    let mut lines = Lines::default();
    loop {
        let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
        pipe.readable().await?;
        let mut file = std::fs::File::from(pipe.into_nonblocking_fd()?);
        loop {
            let looked = lines.read_from(&mut file);
            // What was read is copied even when the read then failed.
            for whole in lines.whole(piece) {
                // A failing stderr does not stop the copy: the child must
                // never block on a full pipe.
                let _ = to.write_all(&whole).await;
            }
            match looked? {
                Looked::Output => tokio::time::sleep(GATHER).await,
                // A pipe's worth at once: the child is writing fast, and
                // the next look is not put off.
                Looked::Full => tokio::task::yield_now().await,
                Looked::Nothing => break,
                Looked::Closed => {
                    if let Some(rest) = lines.rest() {
                        let _ = to.write_all(&rest).await;
                    }
                    return Ok(());
                }
            }
        }
        read = OwnedFd::from(file);
    }
}

/// What one look at a child's pipe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looked {
    /// Output (the pipe may have more).
    Output,
    /// As much output as one look reads (the pipe likely has more).
    Full,
    /// Nothing yet.
    Nothing,
    /// The child closed its end (after the output read, if any).
    Closed,
}

/// A child's output read so far and not yet copied.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Reads what the non-blocking `pipe` has now, at most a pipe's
    /// capacity (a child that keeps writing cannot make one look last, or
    /// its buffer grow, without bound).
    fn read_from(&mut self, pipe: &mut impl Read) -> std::io::Result<Looked> {
        let mut chunk = [0u8; 16 * 1024];
        let mut found = Looked::Nothing;
        let mut budget = PIPE_BYTES.unsigned_abs() as usize;
        while budget > 0 {
            match pipe.read(&mut chunk) {
                Ok(0) => return Ok(Looked::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    found = Looked::Output;
                    budget = budget.saturating_sub(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(found),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Looked::Full)
    }

    /// The whole lines read, in pieces of at most `piece` bytes that end
    /// at a line's end (so that one write of each keeps lines of different
    /// children apart), and a line longer than that in pieces of its own;
    /// what follows the last line's end is kept.
    fn whole(&mut self, piece: usize) -> Vec<Vec<u8>> {
        let piece = piece.max(1);
        let mut pieces = Vec::new();
        loop {
            let window = &self.buf[..self.buf.len().min(piece)];
            let cut = match window.iter().rposition(|&b| b == b'\n') {
                Some(last) => last + 1,
                None if self.buf.len() >= piece => piece,
                None => return pieces,
            };
            pieces.push(self.buf.drain(..cut).collect());
        }
    }

    /// What is left when the child has closed its end (a last line
    /// without its line end).
    fn rest(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf))
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
    /// The most one write may hold and still arrive whole among other
    /// children's: a file's write is made on the master's thread, one at a
    /// time; a pipe's (or a terminal's) on pool threads, where only
    /// writes of up to `PIPE_BUF` are atomic.
    fn atomic_write(&self) -> usize {
        match self {
            MasterStderr::File(_) => MAX_LINE,
            MasterStderr::Other(_) => nix::libc::PIPE_BUF,
        }
    }

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
        sent.extend(vec![b'x'; MAX_LINE * 2 + 5]);
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
        let mut copied = Vec::new();
        relay_to(pipe.read, &mut copied, MAX_LINE)
            .await
            .expect("copy");
        writer.join().expect("writer");
        assert_eq!(copied, sent);
    }

    /// Lines are copied in pieces that end at a line's end and are never
    /// longer than MAX_LINE; a longer line is cut; a partial line waits
    /// for its end.
    #[test]
    fn pieces_end_at_line_ends() {
        let mut lines = Lines::default();
        let short = b"a short line\n".to_vec();
        let mut input = Vec::new();
        for _ in 0..2000 {
            input.extend_from_slice(&short);
        }
        input.extend(vec![b'y'; MAX_LINE + 3]);
        input.extend_from_slice(b"\npartial");
        lines
            .read_from(&mut std::io::Cursor::new(input.clone()))
            .expect("read");
        let pieces = lines.whole(MAX_LINE);
        for piece in &pieces[..pieces.len() - 2] {
            assert!(piece.len() <= MAX_LINE && piece.ends_with(b"\n"));
        }
        assert_eq!(pieces[pieces.len() - 2], vec![b'y'; MAX_LINE]);
        assert_eq!(pieces[pieces.len() - 1], b"yyy\n");
        assert_eq!(lines.rest(), Some(b"partial".to_vec()));
        let mut joined: Vec<u8> = pieces.concat();
        joined.extend_from_slice(b"partial");
        assert_eq!(joined, input);
    }
}

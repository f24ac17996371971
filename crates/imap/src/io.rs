//! The connection's two halves as a session uses them: the reader, which
//! only the session loop (or the one command that took the input) uses, and
//! the writer, shared by the commands that run side by side through
//! [`Output`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// How much to try to read at once.
const READ_SIZE: usize = 16 * 1024;

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection.
    Eof,
    /// Nothing arrived before the deadline.
    Timeout,
    /// The socket failed.
    Io(io::Error),
}

/// The reading half: received bytes not yet consumed, which the parser
/// looks at.
pub(crate) struct Reader {
    inner: Box<dyn AsyncRead + Unpin + Send + Sync>,
    buf: Vec<u8>,
}

impl Reader {
    /// Wraps the reading half of a connection.
    pub(crate) fn new(inner: impl AsyncRead + Unpin + Send + Sync + 'static) -> Reader {
        Reader {
            inner: Box::new(inner),
            buf: Vec::with_capacity(READ_SIZE),
        }
    }

    /// The received bytes not yet consumed.
    pub(crate) fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// Reads more bytes into the buffer, waiting until `deadline`.
    /// Cancel-safe: dropping the future loses no byte.
    pub(crate) async fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        self.buf.reserve(READ_SIZE);
        match tokio::time::timeout_at(deadline, self.inner.read_buf(&mut self.buf)).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) => Err(ReadError::Eof),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ReadError::Io(e)),
        }
    }

    /// Drops `n` bytes from the front of the buffer.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// Takes up to `max` bytes of the input, reading if the buffer is empty.
    pub(crate) async fn take(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadError> {
        if self.buf.is_empty() {
            self.fill(deadline).await?;
        }
        let n = max.min(self.buf.len());
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads one line (up to and including LF). `Ok(None)` when the line
    /// grows beyond `max` bytes without ending.
    pub(crate) async fn read_line(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                return Ok(Some(self.buf.drain(..end).collect()));
            }
            scanned = self.buf.len();
            if scanned > max {
                return Ok(None);
            }
            self.fill(deadline).await?;
        }
    }
}

/// The writing half: buffered, with a bound on how long a write may wait
/// for a client that does not read.
struct Writer {
    inner: BufWriter<Box<dyn AsyncWrite + Unpin + Send + Sync>>,
    timeout: Duration,
}

/// Where a session's responses go; cheap to clone, shared by the commands
/// running side by side. Each call writes whole responses, so responses
/// of different commands never interleave; a response streamed in pieces
/// (a FETCH with a large body) holds the [`OutputGuard`] meanwhile.
#[derive(Clone)]
pub(crate) struct Output {
    writer: Arc<Mutex<Writer>>,
}

/// Exclusive use of the output for one response written in pieces.
pub(crate) struct OutputGuard<'a> {
    writer: MutexGuard<'a, Writer>,
}

impl OutputGuard<'_> {
    /// Queues bytes.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let timeout = self.writer.timeout;
        within(timeout, self.writer.inner.write_all(bytes)).await
    }
}

impl Output {
    /// Wraps the writing half of a connection.
    pub(crate) fn new(
        inner: impl AsyncWrite + Unpin + Send + Sync + 'static,
        timeout: Duration,
    ) -> Output {
        Output {
            writer: Arc::new(Mutex::new(Writer {
                inner: BufWriter::new(Box::new(inner)),
                timeout,
            })),
        }
    }

    /// Queues whole responses.
    pub(crate) async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.lock().await.write(bytes).await
    }

    /// Sends everything queued.
    pub(crate) async fn flush(&self) -> io::Result<()> {
        let mut writer = self.writer.lock().await;
        let timeout = writer.timeout;
        within(timeout, writer.inner.flush()).await
    }

    /// Takes the output for one response written in pieces.
    pub(crate) async fn lock(&self) -> OutputGuard<'_> {
        OutputGuard {
            writer: self.writer.lock().await,
        }
    }
}

/// Runs a write, failing with TimedOut after `timeout`.
async fn within(
    timeout: Duration,
    write: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    match tokio::time::timeout(timeout, write).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client does not read",
        )),
    }
}

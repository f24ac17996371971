//! The connection's two halves as a session uses them (frontend's
//! [`ConnReader`] and [`ConnWriter`]): the reader, which only the session
//! loop (or the one command that took the input) uses, and [`Output`], the
//! writer shared by the commands that run side by side.

use std::io;

use mailkeep_frontend::{ConnReader, ConnWriter, WriteGuard};
use tokio::time::Instant;

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection.
    Eof,
    /// Nothing arrived before the deadline.
    Timeout,
    /// The socket failed (or the input bound was reached).
    Io(io::Error),
}

impl From<mailkeep_frontend::ReadError> for ReadError {
    fn from(e: mailkeep_frontend::ReadError) -> Self {
        use mailkeep_frontend::ReadError as F;
        match e {
            F::Eof | F::Closed => ReadError::Eof,
            F::Timeout => ReadError::Timeout,
            F::Io(e) => ReadError::Io(e),
            other => ReadError::Io(io::Error::other(other.to_string())),
        }
    }
}

/// The reading half: received bytes not yet consumed, which the parser
/// looks at.
pub(crate) struct Reader {
    inner: ConnReader,
}

impl Reader {
    /// Wraps the reading half of a connection.
    pub(crate) fn new(inner: ConnReader) -> Reader {
        Reader { inner }
    }

    /// The frontend's reader, for upgrades (STARTTLS, COMPRESS).
    pub(crate) fn conn(&mut self) -> &mut ConnReader {
        &mut self.inner
    }

    /// The received bytes not yet consumed.
    pub(crate) fn buf(&self) -> &[u8] {
        self.inner.buf()
    }

    /// Reads more bytes into the buffer, waiting until `deadline`.
    /// Cancel-safe: dropping the future loses no byte.
    pub(crate) async fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        self.inner
            .fill(deadline)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    /// Drops `n` bytes from the front of the buffer.
    pub(crate) fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }

    /// Takes up to `max` bytes of the input, reading if the buffer is empty.
    pub(crate) async fn take(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadError> {
        if self.inner.buf().is_empty() {
            self.fill(deadline).await?;
        }
        let n = max.min(self.inner.buf().len());
        let bytes = self.inner.buf()[..n].to_vec();
        self.inner.consume(n);
        Ok(bytes)
    }

    /// Reads one line (up to and including LF). `Ok(None)` when the line
    /// grows beyond `max` bytes without ending.
    pub(crate) async fn read_line(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        self.inner
            .read_line(max, deadline)
            .await
            .map_err(Into::into)
    }
}

/// Where a session's responses go; cheap to clone, shared by the commands
/// running side by side. Each call writes whole responses, so responses
/// of different commands never interleave; a response streamed in pieces
/// (a FETCH with a large body) holds the [`OutputGuard`] meanwhile.
#[derive(Clone)]
pub(crate) struct Output {
    writer: ConnWriter,
}

/// Exclusive use of the output for one response written in pieces.
pub(crate) struct OutputGuard<'a> {
    guard: WriteGuard<'a>,
}

impl OutputGuard<'_> {
    /// Queues bytes.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.guard.write(bytes).await
    }
}

impl Output {
    /// Wraps the writing half of a connection.
    pub(crate) fn new(writer: ConnWriter) -> Output {
        Output { writer }
    }

    /// Queues whole responses.
    pub(crate) async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write(bytes).await
    }

    /// Sends everything queued.
    pub(crate) async fn flush(&self) -> io::Result<()> {
        self.writer.flush().await
    }

    /// Takes the output for one response written in pieces.
    pub(crate) async fn lock(&self) -> OutputGuard<'_> {
        OutputGuard {
            guard: self.writer.lock().await,
        }
    }
}

//! A client connection's bytes: a growable input buffer the parser looks
//! at, and a buffered writer flushed before every wait for input.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
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

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// One client's connection.
pub(crate) struct Conn {
    reader: Box<dyn AsyncRead + Unpin + Send + Sync>,
    writer: BufWriter<Box<dyn AsyncWrite + Unpin + Send + Sync>>,
    /// Received bytes not yet consumed.
    pub buf: Vec<u8>,
    /// How long a write may wait for a client that does not read.
    write_timeout: Duration,
}

impl Conn {
    /// Wraps the two halves of a connection.
    pub fn new(
        reader: impl AsyncRead + Unpin + Send + Sync + 'static,
        writer: impl AsyncWrite + Unpin + Send + Sync + 'static,
    ) -> Self {
        Conn {
            reader: Box::new(reader),
            writer: BufWriter::new(Box::new(writer)),
            buf: Vec::with_capacity(READ_SIZE),
            write_timeout: Duration::from_secs(30 * 60),
        }
    }

    /// Sets how long a write may block on a client that does not read.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Queues bytes for the client.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match tokio::time::timeout(self.write_timeout, self.writer.write_all(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client does not read",
            )),
        }
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        match tokio::time::timeout(self.write_timeout, self.writer.flush()).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client does not read",
            )),
        }
    }

    /// Flushes, then reads more bytes into the buffer, waiting until `deadline`.
    pub async fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        self.flush().await?;
        self.buf.reserve(READ_SIZE);
        match tokio::time::timeout_at(deadline, self.reader.read_buf(&mut self.buf)).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) => Err(ReadError::Eof),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ReadError::Io(e)),
        }
    }

    /// Drops `n` bytes from the front of the buffer.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// Takes up to `max` bytes of the input, reading if the buffer is empty.
    pub async fn take(&mut self, max: usize, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        if self.buf.is_empty() {
            self.fill(deadline).await?;
        }
        let n = max.min(self.buf.len());
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads one line (up to and including LF). `Ok(None)` when the line
    /// grows beyond `max` bytes without ending.
    pub async fn read_line(
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

//! A client connection, split so that a session can read commands while
//! several commands write responses: a [`ConnReader`] owned by the task
//! that parses, and [`ConnWriter`] handles (cheap clones) for every task
//! that answers.
//!
//! The byte stream under both can be replaced in place: STARTTLS puts TLS
//! under it, COMPRESS=DEFLATE puts deflate over what is there. The reader
//! does it, holding the writer's lock so that no response is written
//! meanwhile, and refuses when that would be unsafe: plaintext bytes the
//! client sent after STARTTLS must never be read as if they had come
//! through TLS (the STARTTLS command-injection attack, CVE-2011-0411 and
//! its kin).
//!
//! Buffers are bounded: the reader holds at most `max_input` bytes, reads
//! at most [`READ_SIZE`] at a time, and inflates compressed input only as
//! far as that room; the writer holds at most [`WRITE_BUFFER`] bytes
//! before writing through, and gives up on a client that does not read
//! within `write_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use crate::admission::Admission;
use crate::conn_info::ConnInfo;
use crate::deflate::Deflate;
use crate::tls::{ServerTls, tls_info};

/// Any byte stream a connection can run over.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> Transport for T {}

type Boxed = Box<dyn Transport>;

/// The most the reader asks the socket for at once.
pub const READ_SIZE: usize = 16 * 1024;

/// What [`ConnReader::fill`] reads when nothing is buffered, into a
/// buffer on the stack of one poll: a command line usually fits, and the
/// connection holds no buffer while it waits (an idle client, of which a
/// server keeps thousands, costs no [`READ_SIZE`] buffer).
const FIRST_READ: usize = 1024;

/// The most the writer holds before writing through to the socket.
pub const WRITE_BUFFER: usize = 32 * 1024;

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// How long a write may wait for a client that does not read; after
    /// that the connection is dead.
    pub write_timeout: Duration,
    /// The most input the reader holds unconsumed. The protocol's parser
    /// should stop a client well before (a line limit); this is the
    /// backstop that keeps memory bounded whatever the parser does.
    pub max_input: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            write_timeout: Duration::from_secs(10 * 60),
            max_input: 256 * 1024,
        }
    }
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client closed the connection.
    #[error("the client closed the connection")]
    Eof,
    /// Nothing arrived before the deadline.
    #[error("no input before the deadline")]
    Timeout,
    /// `max_input` bytes are waiting and none was consumed.
    #[error("{0} bytes of input unconsumed: the input buffer is full")]
    BufferFull(usize),
    /// The connection died earlier (a failed upgrade, a write timeout).
    #[error("the connection is closed")]
    Closed,
    /// The socket, TLS or deflate failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Why a STARTTLS or COMPRESS upgrade did not happen. After
/// [`UpgradeError::Handshake`], [`UpgradeError::HandshakeTimeout`] and
/// [`UpgradeError::Flush`] the connection is dead; after the others it is
/// unchanged and the session answers the client.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// Bytes followed the command before the upgrade: they would be taken
    /// as sent through the new layer. Refused, unchanged.
    #[error("{0} bytes were sent after the command, before the upgrade")]
    PipelinedInput(usize),
    /// TLS is already active.
    #[error("TLS is already active")]
    AlreadyTls,
    /// Compression is already active (RFC 4978: never twice).
    #[error("compression is already active")]
    AlreadyCompressed,
    /// TLS cannot start under compression.
    #[error("TLS cannot start once compression is active")]
    CompressionActive,
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(io::Error),
    /// The TLS handshake took too long.
    #[error("TLS handshake not done within {0:?}")]
    HandshakeTimeout(Duration),
    /// What was queued before the upgrade could not be sent.
    #[error("sending the response before the upgrade: {0}")]
    Flush(io::Error),
    /// The connection died earlier.
    #[error("the connection is closed")]
    Closed,
}

/// How many bytes a connection carried, counted as the protocol sees them
/// (inside TLS and compression), for the log line at its end.
#[derive(Debug, Default)]
pub struct Traffic {
    received: AtomicU64,
    sent: AtomicU64,
}

impl Traffic {
    /// Bytes read from the client.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Bytes written to the client.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn count_received(&self, n: usize) {
        self.received
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn count_sent(&self, n: usize) {
        self.sent
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// A client connection: its reader and writer, what is known about it,
/// its place under the per-address limits and its byte counts.
pub struct Connection {
    reader: ConnReader,
    writer: ConnWriter,
    admission: Arc<Admission>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("info", &self.reader.info)
            .finish()
    }
}

impl Connection {
    /// A connection over any byte stream: the accept loop makes them from
    /// sockets; tests make them from in-memory pipes.
    pub fn new(
        stream: impl AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
        info: ConnInfo,
        limits: ConnLimits,
    ) -> Connection {
        let (r, w) = tokio::io::split(Box::new(stream) as Boxed);
        let traffic = Arc::new(Traffic::default());
        let writer = ConnWriter {
            state: Arc::new(Mutex::new(WriteState {
                half: Some(w),
                buf: Vec::new(),
            })),
            timeout: limits.write_timeout,
            traffic: Arc::clone(&traffic),
        };
        let admission = Arc::new(Admission::unlimited(info.peer.ip()));
        let reader = ConnReader {
            half: Some(r),
            buf: Vec::new(),
            start: 0,
            max_input: limits.max_input.max(1),
            info,
            writer: writer.clone(),
            traffic,
            tcp_socket: None,
        };
        Connection {
            reader,
            writer,
            admission,
        }
    }

    /// The connection holding `admission` (its place under the accepting
    /// process's per-address limits) instead of an uncounted one.
    pub fn with_admission(mut self, admission: Admission) -> Connection {
        self.admission = Arc::new(admission);
        self
    }

    /// The connection runs over the TCP socket `socket` (under its TLS or
    /// compression, if any), which it owns: see
    /// [`ConnReader::acknowledge_received`].
    pub fn with_tcp_socket(mut self, socket: Option<std::os::fd::RawFd>) -> Connection {
        self.reader.tcp_socket = socket;
        self
    }

    /// What is known about the connection.
    pub fn info(&self) -> &ConnInfo {
        &self.reader.info
    }

    /// Its place under the per-address limits, and the client's address
    /// as auth knows it.
    pub fn admission(&self) -> Arc<Admission> {
        Arc::clone(&self.admission)
    }

    /// Its byte counts.
    pub fn traffic(&self) -> Arc<Traffic> {
        Arc::clone(&self.reader.traffic)
    }

    /// The reader (for the task that parses commands) and a writer (clone
    /// it for every task that answers).
    pub fn split(self) -> (ConnReader, ConnWriter) {
        (self.reader, self.writer)
    }

    /// The plain byte stream, for a protocol that never upgrades or
    /// shares the writer. Refused (the connection comes back) while input
    /// or output is buffered or another writer handle is busy.
    pub fn into_stream(self) -> Result<ClientStream, Box<Connection>> {
        let mut this = Box::new(self);
        if !this.reader.buf().is_empty() {
            return Err(this);
        }
        let writer = this.writer.clone();
        let Ok(mut state) = writer.state.try_lock() else {
            return Err(this);
        };
        if !state.buf.is_empty() {
            drop(state);
            return Err(this);
        }
        match this.reader.reunite(&mut state) {
            Ok(stream) => Ok(ClientStream(stream)),
            Err(_) => {
                drop(state);
                Err(this)
            }
        }
    }
}

/// A connection's whole byte stream (see [`Connection::into_stream`]).
pub struct ClientStream(Boxed);

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The reading side: an input buffer the protocol's parser looks at, and
/// the upgrades (which need both sides; the reader takes the writer's lock).
pub struct ConnReader {
    half: Option<ReadHalf<Boxed>>,
    /// `buf[start..]` is received and not consumed.
    buf: Vec<u8>,
    start: usize,
    max_input: usize,
    info: ConnInfo,
    writer: ConnWriter,
    traffic: Arc<Traffic>,
    /// The TCP socket under the stream, if it is one (owned by the stream,
    /// so open while this reader is).
    tcp_socket: Option<std::os::fd::RawFd>,
}

impl ConnReader {
    /// Acknowledges what the client sent at once, for a wait for the rest
    /// of a command it started: a client with Nagle's algorithm on holds
    /// the end of its line after a literal until the literal is
    /// acknowledged, and the server's kernel would delay that ACK by up to
    /// 40 ms (every such APPEND of Python's imaplib took 44 ms). Nothing
    /// is sent when nothing is owed, nor on a connection that is not TCP.
    pub fn acknowledge_received(&self) {
        if let Some(socket) = self.tcp_socket
            && let Err(e) = mailkeep_storage_rpc::fd::acknowledge_now(socket)
        {
            tracing::debug!(error = %e, "TCP_QUICKACK refused");
        }
    }

    /// Received bytes not yet consumed.
    pub fn buf(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops `n` bytes from the front of [`ConnReader::buf`].
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// What is known about the connection, current after upgrades.
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// Another handle on this connection's writer.
    pub fn writer(&self) -> ConnWriter {
        self.writer.clone()
    }

    /// Reads more input into the buffer (at most [`READ_SIZE`] bytes),
    /// waiting until `deadline`; returns how many bytes came.
    ///
    /// Cancel-safe: dropped before it finishes (a `select!` that took
    /// another branch, e.g. an event while the client idles), it has read
    /// nothing, and a later call reads what arrived.
    pub async fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        let buffered = self.buf.len() - self.start;
        if buffered >= self.max_input {
            return Err(ReadError::BufferFull(buffered));
        }
        if buffered == 0 {
            return self.fill_empty(deadline).await;
        }
        if self.start > 0 && self.buf.capacity() - self.buf.len() < READ_SIZE {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let room = READ_SIZE.min(self.max_input - buffered);
        let half = self.half.as_mut().ok_or(ReadError::Closed)?;
        self.buf.reserve(room);
        let mut limited = half.take(room as u64);
        match tokio::time::timeout_at(deadline, limited.read_buf(&mut self.buf)).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) => Err(ReadError::Eof),
            Ok(Ok(n)) => {
                self.traffic.count_received(n);
                Ok(n)
            }
            Ok(Err(e)) => Err(ReadError::Io(e)),
        }
    }

    /// [`ConnReader::fill`] with nothing buffered: the old buffer is freed,
    /// and each poll reads into a buffer on its own stack, so that the
    /// waiting future holds no buffer either (an idle client, of which a
    /// server keeps thousands, costs no input buffer). Cancel-safe too: a
    /// poll that finds nothing has read nothing.
    async fn fill_empty(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        self.buf = Vec::new();
        self.start = 0;
        let room = FIRST_READ.min(self.max_input);
        let most = READ_SIZE.min(self.max_input);
        let half = self.half.as_mut().ok_or(ReadError::Closed)?;
        let buf = &mut self.buf;
        let read = std::future::poll_fn(|cx| {
            let mut first = [0u8; FIRST_READ];
            let mut landed = ReadBuf::new(&mut first[..room]);
            match Pin::new(&mut *half).poll_read(cx, &mut landed) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    buf.extend_from_slice(landed.filled());
                    let got = landed.filled().len();
                    if got < room || got >= most {
                        return Poll::Ready(Ok(got));
                    }
                    // The first read was full: a message body or a
                    // pipelined burst is streaming in. Read on into the
                    // heap buffer without waiting, so that a body does not
                    // come in first-read pieces. Nothing more yet, an end
                    // or an error: what came is returned (the end or the
                    // error shows at the next read).
                    buf.resize(got + (most - got), 0);
                    let mut more = ReadBuf::new(&mut buf[got..]);
                    let extra = match Pin::new(&mut *half).poll_read(cx, &mut more) {
                        Poll::Ready(Ok(())) => more.filled().len(),
                        Poll::Pending | Poll::Ready(Err(_)) => 0,
                    };
                    buf.truncate(got + extra);
                    Poll::Ready(Ok(got + extra))
                }
            }
        });
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) => Err(ReadError::Eof),
            Ok(Ok(n)) => {
                self.traffic.count_received(n);
                Ok(n)
            }
            Ok(Err(e)) => Err(ReadError::Io(e)),
        }
    }

    /// Reads one line, up to and including its LF, and consumes it.
    /// `Ok(None)` when the line is longer than `max` bytes: `max` bytes
    /// came without an LF, or the LF came after them (the bytes stay in
    /// the buffer; the session decides what to answer). The same line is
    /// too long however it was split into reads.
    pub async fn read_line(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let mut scanned = 0;
        loop {
            let buf = self.buf();
            if let Some(i) = buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                if end > max {
                    return Ok(None);
                }
                let line = buf[..end].to_vec();
                self.consume(end);
                return Ok(Some(line));
            }
            scanned = buf.len();
            if scanned >= max {
                return Ok(None);
            }
            self.fill(deadline).await?;
        }
    }

    /// Puts TLS under the connection (STARTTLS), after flushing what is
    /// queued (the "OK, begin TLS" response). Refused while input is
    /// buffered: whatever the client sent after the command came in the
    /// clear. On success [`ConnReader::info`] tells the TLS facts.
    pub async fn start_tls(&mut self, tls: &ServerTls) -> Result<(), UpgradeError> {
        if self.info.tls.is_some() {
            return Err(UpgradeError::AlreadyTls);
        }
        if self.info.compressed {
            return Err(UpgradeError::CompressionActive);
        }
        let pipelined = self.buf().len();
        if pipelined > 0 {
            return Err(UpgradeError::PipelinedInput(pipelined));
        }
        let writer = self.writer.clone();
        let mut state = writer.state.lock().await;
        state
            .flush(writer.timeout)
            .await
            .map_err(UpgradeError::Flush)?;
        let stream = self.reunite(&mut state)?;
        let timeout = tls.handshake_timeout();
        match tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await {
            Ok(Ok(stream)) => {
                self.info.tls = Some(tls_info(stream.get_ref().1));
                self.install(Box::new(stream), &mut state);
                Ok(())
            }
            Ok(Err(e)) => Err(UpgradeError::Handshake(e)),
            Err(_) => Err(UpgradeError::HandshakeTimeout(timeout)),
        }
    }

    /// Puts raw deflate over the connection both ways (COMPRESS=DEFLATE,
    /// RFC 4978), after flushing what is queued (the tagged OK goes out
    /// uncompressed). Bytes already received are the client's first
    /// compressed ones. Allowed with or without TLS, never twice.
    pub async fn start_compression(&mut self) -> Result<(), UpgradeError> {
        if self.info.compressed {
            return Err(UpgradeError::AlreadyCompressed);
        }
        let writer = self.writer.clone();
        let mut state = writer.state.lock().await;
        state
            .flush(writer.timeout)
            .await
            .map_err(UpgradeError::Flush)?;
        let stream = self.reunite(&mut state)?;
        let early = self.buf().to_vec();
        self.consume(early.len());
        self.install(Box::new(Deflate::new(stream, &early)), &mut state);
        self.info.compressed = true;
        Ok(())
    }

    /// The whole stream back from its two halves.
    fn reunite(&mut self, state: &mut WriteState) -> Result<Boxed, UpgradeError> {
        let (Some(r), Some(w)) = (self.half.take(), state.half.take()) else {
            return Err(UpgradeError::Closed);
        };
        if !r.is_pair_of(&w) {
            return Err(UpgradeError::Closed);
        }
        Ok(r.unsplit(w))
    }

    fn install(&mut self, stream: Boxed, state: &mut WriteState) {
        let (r, w) = tokio::io::split(stream);
        self.half = Some(r);
        state.half = Some(w);
    }
}

/// The writing side, shared by every task that answers the client. A
/// response written in several calls (a literal streamed in chunks) is
/// written under one [`ConnWriter::lock`] so no other response lands in
/// its middle. Writes and flushes are not cancel-safe: a dropped one may
/// have sent part of its bytes.
#[derive(Clone)]
pub struct ConnWriter {
    state: Arc<Mutex<WriteState>>,
    timeout: Duration,
    traffic: Arc<Traffic>,
}

struct WriteState {
    half: Option<WriteHalf<Boxed>>,
    buf: Vec<u8>,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

fn client_does_not_read() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client does not read")
}

async fn timed(
    timeout: Duration,
    op: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    match tokio::time::timeout(timeout, op).await {
        Ok(result) => result,
        Err(_) => Err(client_does_not_read()),
    }
}

impl WriteState {
    /// A failed or timed-out write kills the connection: the stream may
    /// hold half a response.
    fn settle(&mut self, result: io::Result<()>) -> io::Result<()> {
        if result.is_err() {
            self.half = None;
        }
        result
    }

    async fn drain(&mut self, timeout: Duration) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = match self.half.as_mut() {
            None => Err(closed()),
            Some(h) => timed(timeout, h.write_all(&self.buf)).await,
        };
        self.settle(result)?;
        self.buf.clear();
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        if self.half.is_none() {
            return Err(closed());
        }
        if self.buf.len() + bytes.len() > WRITE_BUFFER {
            self.drain(timeout).await?;
        }
        if bytes.len() < WRITE_BUFFER {
            self.buf.extend_from_slice(bytes);
            return Ok(());
        }
        let result = match self.half.as_mut() {
            None => Err(closed()),
            Some(h) => timed(timeout, h.write_all(bytes)).await,
        };
        self.settle(result)
    }

    /// Sends everything queued, and frees the buffer: a flush ends a
    /// batch of responses, after which a session usually waits for its
    /// client (an idle connection holds no output buffer).
    async fn flush(&mut self, timeout: Duration) -> io::Result<()> {
        self.drain(timeout).await?;
        self.buf = Vec::new();
        let result = match self.half.as_mut() {
            None => Err(closed()),
            Some(h) => timed(timeout, h.flush()).await,
        };
        self.settle(result)
    }

    async fn shutdown(&mut self, timeout: Duration) -> io::Result<()> {
        self.flush(timeout).await?;
        let result = match self.half.as_mut() {
            None => Err(closed()),
            Some(h) => timed(timeout, h.shutdown()).await,
        };
        self.settle(result)
    }
}

/// Exclusive use of the writer: see [`ConnWriter::lock`].
pub struct WriteGuard<'a> {
    state: MutexGuard<'a, WriteState>,
    timeout: Duration,
    traffic: &'a Traffic,
}

impl WriteGuard<'_> {
    /// Queues bytes (written through once [`WRITE_BUFFER`] is reached).
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.state.write(bytes, self.timeout).await?;
        self.traffic.count_sent(bytes.len());
        Ok(())
    }

    /// Queues what `fill` appends to the output buffer, made in place:
    /// a response built piece by piece (a message dot-stuffed as it
    /// streams) needs no buffer of its own and no copy into this one.
    /// `fill` may only append; once the buffer holds [`WRITE_BUFFER`]
    /// bytes or more, it is written through, so it stays within
    /// [`WRITE_BUFFER`] plus what one call appends.
    pub async fn append(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let state = &mut *self.state;
        if state.half.is_none() {
            return Err(closed());
        }
        let before = state.buf.len();
        fill(&mut state.buf);
        self.traffic
            .count_sent(state.buf.len().saturating_sub(before));
        if state.buf.len() >= WRITE_BUFFER {
            state.drain(self.timeout).await?;
        }
        Ok(())
    }

    /// Sends everything queued, and ends a compressed batch so the client
    /// can read all of it.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.state.flush(self.timeout).await
    }
}

impl ConnWriter {
    /// Exclusive use until the guard is dropped, for a response written in
    /// several pieces.
    pub async fn lock(&self) -> WriteGuard<'_> {
        WriteGuard {
            state: self.state.lock().await,
            timeout: self.timeout,
            traffic: &self.traffic,
        }
    }

    /// Queues one whole response (or part of one nobody else can
    /// interleave with: see [`ConnWriter::lock`]).
    pub async fn write(&self, bytes: &[u8]) -> io::Result<()> {
        self.lock().await.write(bytes).await
    }

    /// Sends everything queued; with COMPRESS, also ends the batch.
    pub async fn flush(&self) -> io::Result<()> {
        self.lock().await.flush().await
    }

    /// Flushes and closes the sending side (TLS close_notify, the end of
    /// the deflate stream's batch, TCP FIN).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.state.lock().await.shutdown(self.timeout).await
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;

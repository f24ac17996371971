//! A gRPC channel straight onto one HTTP/2 connection over a connected
//! socket (a passed UNIX socket, or a TLS stream to a gateway).
//!
//! Why not tonic's `Channel`: it queues every call through a buffer task
//! and hyper's client adds a dispatch task and a task per request, so one
//! call hops between four tasks, often across threads, before its frames
//! reach the socket. On a busy two-core host each hop is a wakeup and a
//! context switch, and those, not HTTP/2 itself, were most of a storage
//! call's cost. Here the calling task writes its request into the HTTP/2
//! connection and reads its answer from it; the one connection task only
//! moves bytes between the connection and the socket.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::{RecvStream, SendStream};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tonic::codegen::http;

use crate::channel::ChannelError;

/// The HTTP/2 window of each call: a whole 64 KiB body chunk and more fit,
/// so streamed fetches and appends do not wait for window updates. It
/// bounds what a call whose reader is slow (an IMAP client fetching a big
/// message over a slow link) leaves buffered.
pub const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// The window of the whole connection, shared by the calls on it: as
/// large as HTTP/2 allows, so that the calls of a few slow readers never
/// use it up and stall everyone else's on the connection (one connection
/// serves every owner a protocol process reaches on a storage process).
/// What stays buffered is bounded per call by [`STREAM_WINDOW`].
pub const CONNECTION_WINDOW: u32 = (1 << 31) - 1;
/// The largest frame the peer may send us: a body chunk in one frame
/// instead of four of the 16 KiB default.
const MAX_FRAME: u32 = 256 * 1024;
/// A request body's first chunk up to this size is queued at once, without
/// waiting for window: it then leaves in the same write as the request's
/// headers, so a unary call costs the storage process one wake-up instead
/// of two. Later chunks wait for window, so what a call buffers beyond its
/// window stays bounded by this.
const FIRST_CHUNK_AT_ONCE: usize = 64 * 1024;
/// How many streams this side reset (a response dropped before its end:
/// a POP3 read-ahead given up, an IDLE's watch ended) HTTP/2 remembers, so
/// that what the peer had already sent on them is ignored. h2 remembers 50
/// by default; one connection carries every session of the process, which
/// may give up more than that within the 30 s they are remembered.
const REMEMBERED_RESETS: usize = 4096;
/// The authority every request names; never resolved, the socket is
/// already connected.
const AUTHORITY: &str = "mailkeep.invalid";

/// A gRPC channel over one connected socket. Cheap to clone; every clone
/// shares the connection, which closes when the last clone and the last
/// response stream read from it are dropped. Use it wherever tonic takes a
/// channel: `StorageClient<SocketChannel>`.
#[derive(Clone)]
pub struct SocketChannel {
    send: SendRequest<Bytes>,
    _open: Arc<KeepOpen>,
    /// Set when the connection has ended (broken, or closed by the peer).
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for SocketChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketChannel").finish_non_exhaustive()
    }
}

/// Held by every clone of a [`SocketChannel`]; dropping the last one wakes
/// the connection task so that it closes the connection (an HTTP/2 client
/// connection is not woken by its request handles going away).
struct KeepOpen {
    _signal: oneshot::Sender<Infallible>,
}

/// Starts HTTP/2 over `io`, a stream already connected to a gRPC server,
/// and runs the connection on a task of its own. The channel cannot
/// reconnect: when the stream breaks, calls fail with UNAVAILABLE and the
/// caller gets a new connection (from the broker).
pub async fn socket_channel<T>(io: T) -> Result<SocketChannel, ChannelError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .enable_push(false)
        .max_concurrent_reset_streams(REMEMBERED_RESETS)
        // Frames for a reset stream no longer remembered count as the
        // peer's errors, and at 1,024 over the connection's whole life h2
        // closes it (a guard against hostile servers). The peer is a
        // storage process or gateway of this installation, and the count
        // never decays: on a connection every session shares, a long-lived
        // process would reach it from ordinary cancellations.
        .max_local_error_reset_streams(None)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(ChannelError::Http2)?;
    let (signal, mut all_dropped) = oneshot::channel::<Infallible>();
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ends = Arc::clone(&ended);
    tokio::spawn(async move {
        tokio::select! {
            result = &mut connection => {
                ends.store(true, std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = result {
                    tracing::debug!(error = %e, "gRPC connection ended");
                }
                return;
            }
            _ = &mut all_dropped => {}
        }
        // No channel is left; the connection closes once the response
        // streams still being read are done.
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "gRPC connection ended");
        }
    });
    Ok(SocketChannel {
        send,
        _open: Arc::new(KeepOpen { _signal: signal }),
        ended,
    })
}

impl SocketChannel {
    /// Whether the connection has ended while clones still held it (the
    /// storage process closed it, or the socket broke): such a channel
    /// only fails, so it is neither reused nor kept.
    pub fn is_ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The future of one call: the response head, while the request body is
/// sent.
type CallFuture = Pin<Box<dyn Future<Output = Result<http::Response<CallBody>, h2::Error>> + Send>>;

impl<B> tower::Service<http::Request<B>> for SocketChannel
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    type Response = http::Response<CallBody>;
    type Error = h2::Error;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.send.poll_ready(cx) {
            // A broken connection is reported by the call instead: tonic
            // turns a readiness error into a bare UNKNOWN status ("Service
            // was not ready") that reads as a server bug, but keeps a
            // call's transport error as the status's source, which
            // `errors::reason_of` reads as Unavailable, so the caller
            // reconnects.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            other => other,
        }
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (mut head, body) = request.into_parts();
        // HTTP/2 needs the scheme and authority (tonic sets only the path).
        let mut uri = http::uri::Parts::from(std::mem::take(&mut head.uri));
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(http::uri::Authority::from_static(AUTHORITY));
        head.uri = match http::Uri::from_parts(uri) {
            Ok(uri) => uri,
            Err(_) => return Box::pin(async { Err(h2::Reason::INTERNAL_ERROR.into()) }),
        };
        let end_of_stream = body.is_end_stream();
        let (response, stream) = match self
            .send
            .send_request(http::Request::from_parts(head, ()), end_of_stream)
        {
            Ok(sent) => sent,
            Err(e) => return Box::pin(async { Err(e) }),
        };
        let upload = (!end_of_stream).then(|| Upload::new(body, stream));
        Box::pin(Call { response, upload })
    }
}

/// A call waiting for its response head while its request body goes out.
struct Call<B> {
    response: ResponseFuture,
    upload: Option<Upload<B>>,
}

impl<B> Future for Call<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    type Output = Result<http::Response<CallBody>, h2::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(upload) = &mut this.upload
            && upload.poll_send(cx).is_ready()
        {
            // Sent, or failed: a failure resets the stream, which the
            // response then reports.
            this.upload = None;
        }
        let response = ready!(Pin::new(&mut this.response).poll(cx))?;
        // A server may answer before the request body ends (client
        // streaming); the body keeps sending while the answer is read.
        let upload = this.upload.take().map(|u| Box::new(u) as Box<dyn Sending>);
        Poll::Ready(Ok(response.map(|recv| CallBody {
            recv,
            trailers_next: false,
            upload,
        })))
    }
}

/// A request body on its way to the peer, sent as the peer's flow-control
/// window allows.
struct Upload<B> {
    body: B,
    stream: SendStream<Bytes>,
    /// A chunk taken from the body, waiting for window.
    waiting: Option<(Bytes, bool)>,
    /// Whether no chunk has been taken from the body yet.
    first: bool,
    /// The frame the body gave when it was asked ahead, after a chunk,
    /// whether it had ended (see [`Upload::end_follows`]): taken before
    /// the body is asked again.
    ahead: Option<Result<Frame<Bytes>, String>>,
}

impl<B> Upload<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    fn new(body: B, stream: SendStream<Bytes>) -> Upload<B> {
        Upload {
            body,
            stream,
            waiting: None,
            first: true,
            ahead: None,
        }
    }

    /// The body's next frame (a failure as its text): the one asked
    /// ahead, if any.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, String>>> {
        match self.ahead.take() {
            Some(frame) => Poll::Ready(Some(frame)),
            None => Pin::new(&mut self.body)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(|e| e.to_string()))),
        }
    }

    /// Whether the chunk just taken from the body is its last. tonic's
    /// request bodies do not say so until they are asked again, so they
    /// are asked at once: a body that has ended then has its last chunk
    /// sent with the end of the stream flagged on it, instead of an empty
    /// frame after it (which, behind a chunk too big to be copied into
    /// the connection's buffer, left in a write of its own and woke the
    /// storage process a second time per delivery). What a body gives
    /// instead is kept for the next ask.
    fn end_follows(&mut self, cx: &mut Context<'_>) -> bool {
        if self.body.is_end_stream() {
            return true;
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(None) => true,
            Poll::Ready(Some(next)) => {
                self.ahead = Some(next.map_err(|e| e.to_string()));
                false
            }
            Poll::Pending => false,
        }
    }

    /// Sends what the body has ready; `Ready` when the body is sent or the
    /// stream is gone.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), h2::Error>> {
        loop {
            if let Poll::Ready(reason) = self.stream.poll_reset(cx)? {
                return Poll::Ready(Err(reason.into()));
            }
            if let Some((chunk, last)) = self.waiting.take() {
                if self.stream.capacity() == 0 {
                    match self.stream.poll_capacity(cx) {
                        Poll::Pending => {
                            self.waiting = Some((chunk, last));
                            return Poll::Pending;
                        }
                        Poll::Ready(Some(Ok(_))) => {
                            self.waiting = Some((chunk, last));
                            continue;
                        }
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                        Poll::Ready(None) => {
                            return Poll::Ready(Err(h2::Reason::STREAM_CLOSED.into()));
                        }
                    }
                }
                self.stream.send_data(chunk, last)?;
                if last {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            match ready!(self.poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) => {
                        let last = self.end_follows(cx);
                        let first = std::mem::replace(&mut self.first, false);
                        if chunk.is_empty() || (first && chunk.len() <= FIRST_CHUNK_AT_ONCE) {
                            // h2 claims the window for it and sends it as
                            // soon as there is some (with the headers).
                            self.stream.send_data(chunk, last)?;
                            if last {
                                return Poll::Ready(Ok(()));
                            }
                        } else {
                            // Claim a little of the window, not the whole
                            // chunk: h2 grows the claim to what is queued,
                            // and a small claim cannot starve other calls.
                            self.stream.reserve_capacity(1);
                            self.waiting = Some((chunk, last));
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.stream.reserve_capacity(0);
                            self.stream.send_trailers(trailers)?;
                            return Poll::Ready(Ok(()));
                        }
                    }
                },
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "request body failed; call reset");
                    self.stream.send_reset(h2::Reason::INTERNAL_ERROR);
                    return Poll::Ready(Err(h2::Reason::INTERNAL_ERROR.into()));
                }
                None => {
                    self.stream.send_data(Bytes::new(), true)?;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

/// A request body still being sent after the response began.
trait Sending: Send {
    fn poll_sending(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

impl<B> Sending for Upload<B>
where
    B: Body<Data = Bytes> + Send + Unpin,
    B::Error: std::fmt::Display,
{
    fn poll_sending(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_send(cx).map(|_| ())
    }
}

/// The response body of a call: its messages, then the trailers that carry
/// the gRPC status.
pub struct CallBody {
    recv: RecvStream,
    trailers_next: bool,
    upload: Option<Box<dyn Sending>>,
}

impl Body for CallBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = &mut *self;
        if let Some(upload) = &mut this.upload
            && upload.poll_sending(cx).is_ready()
        {
            this.upload = None;
        }
        if !this.trailers_next {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Read: the peer may send as much again.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.trailers_next = true,
            }
        }
        match ready!(this.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
#[path = "socket_channel_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "socket_channel_reset_tests.rs"]
mod reset_tests;

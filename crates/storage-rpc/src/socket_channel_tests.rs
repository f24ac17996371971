//! Tests of [`SocketChannel`] against a real tonic server on the other end
//! of a UNIX socket pair.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

use super::*;
use crate::errors::{ErrorReason, reason_of};
use crate::storage::storage_client::StorageClient;
use crate::storage::storage_server::{Storage, StorageServer};
use crate::storage::{
    AppendRequest, AppendResponse, ChangesRequest, ChangesResponse, ClaimRecentRequest,
    ClaimRecentResponse, CreateMailboxRequest, CreateMailboxResponse, DeleteMailboxRequest,
    DeleteMailboxResponse, ExpungeRequest, ExpungeResponse, FetchItem, FetchRequest, FetchResponse,
    ListMailboxesRequest, ListMailboxesResponse, MailboxExistsRequest, MailboxExistsResponse,
    MailboxStatus, MailboxStatusRequest, MailboxStatusResponse, RenameMailboxRequest,
    RenameMailboxResponse, SelectMailboxRequest, SelectMailboxResponse, StoreFlagsRequest,
    StoreFlagsResponse, append_request, fetch_item,
};

/// The size of the body chunks both ways: the size the storage server
/// streams.
const CHUNK: usize = 64 * 1024;
/// Body chunks of a streamed fetch or append: 6 MiB, more than the windows
/// of one call on either side, so flow control has to move.
const CHUNKS: usize = 96;
/// A fetch of this mailbox sends one chunk and then never ends.
const ENDLESS: &str = "endless";

/// A storage server that answers from what the request says: a status
/// whose message count is the name's length, an append that counts the
/// bytes it got, a fetch of [`CHUNKS`] numbered chunks.
struct Echo;

fn unused<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not part of the test"))
}

#[tonic::async_trait]
impl Storage for Echo {
    async fn list_mailboxes(
        &self,
        _: Request<ListMailboxesRequest>,
    ) -> Result<Response<ListMailboxesResponse>, Status> {
        unused()
    }

    async fn create_mailbox(
        &self,
        _: Request<CreateMailboxRequest>,
    ) -> Result<Response<CreateMailboxResponse>, Status> {
        unused()
    }

    async fn delete_mailbox(
        &self,
        _: Request<DeleteMailboxRequest>,
    ) -> Result<Response<DeleteMailboxResponse>, Status> {
        unused()
    }

    async fn rename_mailbox(
        &self,
        _: Request<RenameMailboxRequest>,
    ) -> Result<Response<RenameMailboxResponse>, Status> {
        unused()
    }

    async fn mailbox_status(
        &self,
        request: Request<MailboxStatusRequest>,
    ) -> Result<Response<MailboxStatusResponse>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            return Err(Status::not_found("no such mailbox"));
        }
        Ok(Response::new(MailboxStatusResponse {
            status: Some(MailboxStatus {
                messages: name.len() as u32,
                ..MailboxStatus::default()
            }),
        }))
    }

    async fn select_mailbox(
        &self,
        _: Request<SelectMailboxRequest>,
    ) -> Result<Response<SelectMailboxResponse>, Status> {
        unused()
    }

    async fn changes(
        &self,
        _: Request<ChangesRequest>,
    ) -> Result<Response<ChangesResponse>, Status> {
        unused()
    }

    async fn append(
        &self,
        request: Request<Streaming<AppendRequest>>,
    ) -> Result<Response<AppendResponse>, Status> {
        let mut stream = request.into_inner();
        let (mut bytes, mut chunks, mut committed) = (0u64, 0u32, false);
        while let Some(part) = stream.message().await? {
            match part.part {
                Some(append_request::Part::Chunk(chunk)) => {
                    // Every chunk arrives whole and in order.
                    if chunk.iter().any(|b| *b != chunks as u8) {
                        return Err(Status::data_loss("chunk out of order"));
                    }
                    bytes += chunk.len() as u64;
                    chunks += 1;
                }
                Some(append_request::Part::Commit(_)) => committed = true,
                _ => {}
            }
        }
        if !committed {
            return Err(Status::cancelled("ended without commit"));
        }
        Ok(Response::new(AppendResponse {
            uid: chunks,
            modseq: bytes,
            ..AppendResponse::default()
        }))
    }

    type FetchStream = tokio_stream::wrappers::ReceiverStream<Result<FetchResponse, Status>>;

    async fn fetch(
        &self,
        request: Request<FetchRequest>,
    ) -> Result<Response<Self::FetchStream>, Status> {
        let endless = request.into_inner().mailbox == ENDLESS;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let count = if endless { 1 } else { CHUNKS };
            for i in 0..count {
                let item = fetch_item::Item::BodyChunk(vec![i as u8; CHUNK]);
                let items = vec![FetchItem { item: Some(item) }];
                if tx.send(Ok(FetchResponse { items })).await.is_err() {
                    return;
                }
            }
            if endless {
                tx.closed().await;
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn store_flags(
        &self,
        _: Request<StoreFlagsRequest>,
    ) -> Result<Response<StoreFlagsResponse>, Status> {
        unused()
    }

    async fn expunge(
        &self,
        _: Request<ExpungeRequest>,
    ) -> Result<Response<ExpungeResponse>, Status> {
        unused()
    }

    async fn mailbox_exists(
        &self,
        _: Request<MailboxExistsRequest>,
    ) -> Result<Response<MailboxExistsResponse>, Status> {
        unused()
    }

    async fn claim_recent(
        &self,
        _: Request<ClaimRecentRequest>,
    ) -> Result<Response<ClaimRecentResponse>, Status> {
        unused()
    }
}

/// The server's end of the socket, which tells when the server lets go of
/// it (the connection is over).
struct ServerEnd {
    stream: UnixStream,
    closed: Option<oneshot::Sender<()>>,
}

impl Drop for ServerEnd {
    fn drop(&mut self) {
        if let Some(closed) = self.closed.take() {
            let _ = closed.send(());
        }
    }
}

impl Connected for ServerEnd {
    type ConnectInfo = ();

    fn connect_info(&self) {}
}

impl AsyncRead for ServerEnd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerEnd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A server on a runtime of its own, so that stopping it drops its
/// connection at once, as a storage process that dies does.
struct Peer {
    /// Fires when the server let go of its end of the socket.
    closed: oneshot::Receiver<()>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    /// Kills the server: its runtime, and with it the connection, is gone
    /// when this returns.
    fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A [`SocketChannel`] to an [`Echo`] server over a socket pair.
async fn connected() -> (SocketChannel, Peer) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (closed_tx, closed) = oneshot::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let theirs = theirs.into_std().unwrap();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let end = ServerEnd {
                stream: UnixStream::from_std(theirs).unwrap(),
                closed: Some(closed_tx),
            };
            // One connection; the stream of connections stays open (the
            // server stops when its incoming stream ends).
            let incoming = tokio_stream::StreamExt::chain(
                tokio_stream::once(Ok::<_, std::io::Error>(end)),
                tokio_stream::pending(),
            );
            let server = tonic::transport::Server::builder()
                .add_service(StorageServer::new(Echo))
                .serve_with_incoming(incoming);
            tokio::select! {
                result = server => result.unwrap(),
                _ = stopped => {}
            }
        });
    });
    let channel = socket_channel(ours).await.unwrap();
    let peer = Peer {
        closed,
        stop: Some(stop),
        thread: Some(thread),
    };
    (channel, peer)
}

fn status_of(name: &str) -> Request<MailboxStatusRequest> {
    Request::new(MailboxStatusRequest {
        owner: "dora".into(),
        name: name.into(),
        with_recent: false,
    })
}

fn fetch_of(mailbox: &str) -> Request<FetchRequest> {
    Request::new(FetchRequest {
        owner: "dora".into(),
        mailbox: mailbox.into(),
        ..FetchRequest::default()
    })
}

#[tokio::test]
async fn a_unary_call_gets_its_answer_and_its_error() {
    let (channel, _peer) = connected().await;
    let mut client = StorageClient::new(channel);
    let answer = client.mailbox_status(status_of("Archive")).await.unwrap();
    assert_eq!(answer.into_inner().status.unwrap().messages, 7);
    let refused = client.mailbox_status(status_of("")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);
    assert_eq!(reason_of(&refused), ErrorReason::Nonexistent);
}

#[tokio::test]
async fn calls_from_many_tasks_share_the_connection() {
    let (channel, _peer) = connected().await;
    let calls: Vec<_> = (1..=20usize)
        .map(|n| {
            let mut client = StorageClient::new(channel.clone());
            tokio::spawn(async move {
                let name = "x".repeat(n);
                let answer = client.mailbox_status(status_of(&name)).await.unwrap();
                (n, answer.into_inner().status.unwrap().messages)
            })
        })
        .collect();
    for call in calls {
        let (n, messages) = call.await.unwrap();
        assert_eq!(messages as usize, n);
    }
}

#[tokio::test]
async fn a_server_stream_larger_than_the_windows_arrives_whole() {
    let (channel, _peer) = connected().await;
    let mut client = StorageClient::new(channel);
    let stream = client.fetch(fetch_of("INBOX")).await.unwrap().into_inner();
    let mut received = 0;
    let mut stream = crate::fetch_items::FetchItems::new(stream);
    while let Some(item) = stream.next().await.unwrap() {
        let fetch_item::Item::BodyChunk(chunk) = item else {
            panic!("not a body chunk: {item:?}");
        };
        assert_eq!(chunk, vec![received as u8; CHUNK], "chunk {received}");
        received += 1;
    }
    assert_eq!(received, CHUNKS);
}

#[tokio::test]
async fn a_client_stream_larger_than_the_windows_arrives_whole() {
    let (channel, _peer) = connected().await;
    let mut client = StorageClient::new(channel);
    let parts = (0..CHUNKS)
        .map(|i| AppendRequest {
            part: Some(append_request::Part::Chunk(vec![i as u8; CHUNK])),
        })
        .chain(std::iter::once(AppendRequest::commit()));
    let answer = client
        .append(tokio_stream::iter(parts))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.uid as usize, CHUNKS);
    assert_eq!(answer.modseq as usize, CHUNKS * CHUNK);
}

#[tokio::test]
async fn a_client_stream_is_sent_as_its_parts_come() {
    let (channel, _peer) = connected().await;
    let mut client = StorageClient::new(channel);
    let (parts, rx) = mpsc::channel(1);
    let call = tokio::spawn(async move {
        client
            .append(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    for i in 0..3u8 {
        parts
            .send(AppendRequest {
                part: Some(append_request::Part::Chunk(vec![i; 10])),
            })
            .await
            .unwrap();
    }
    parts.send(AppendRequest::commit()).await.unwrap();
    drop(parts);
    let answer = call.await.unwrap().unwrap().into_inner();
    assert_eq!((answer.uid, answer.modseq), (3, 30));
}

#[tokio::test]
async fn calls_on_a_closed_connection_are_unavailable() {
    let (channel, mut peer) = connected().await;
    let mut client = StorageClient::new(channel);
    client.mailbox_status(status_of("INBOX")).await.unwrap();
    peer.kill();
    let lost = client.mailbox_status(status_of("INBOX")).await.unwrap_err();
    assert_eq!(reason_of(&lost), ErrorReason::Unavailable, "{lost:?}");
    // Later calls find the connection known to be closed (the first may
    // have failed in flight): they are Unavailable too, never a server bug.
    for _ in 0..3 {
        let again = client.mailbox_status(status_of("INBOX")).await.unwrap_err();
        assert_eq!(reason_of(&again), ErrorReason::Unavailable, "{again:?}");
    }
}

#[tokio::test]
async fn a_stream_cut_by_the_peer_ends_unavailable() {
    let (channel, mut peer) = connected().await;
    let mut client = StorageClient::new(channel);
    let mut stream = client.fetch(fetch_of(ENDLESS)).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    peer.kill();
    let cut = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended cleanly"),
            Err(status) => break status,
        }
    };
    assert_eq!(reason_of(&cut), ErrorReason::Unavailable, "{cut:?}");
}

#[tokio::test]
async fn the_connection_stays_open_while_a_clone_is_left() {
    let (channel, mut peer) = connected().await;
    let mut kept = StorageClient::new(channel.clone());
    drop(channel);
    kept.mailbox_status(status_of("INBOX")).await.unwrap();
    assert!(
        peer.closed.try_recv().is_err(),
        "the server still holds the connection"
    );
    drop(kept);
    (&mut peer.closed).await.unwrap();
}

#[tokio::test]
async fn dropping_the_last_clone_closes_the_connection() {
    let (channel, mut peer) = connected().await;
    let mut client = StorageClient::new(channel.clone());
    client.mailbox_status(status_of("INBOX")).await.unwrap();
    drop(client);
    drop(channel);
    // The server sees its end of the socket closed (no timeout: the test
    // hangs, and fails under the harness's limit, if it never closes).
    (&mut peer.closed).await.unwrap();
}

#[tokio::test]
async fn a_stream_outlives_the_channel_it_was_started_on() {
    let (channel, mut peer) = connected().await;
    let mut stream = StorageClient::new(channel)
        .fetch(fetch_of("INBOX"))
        .await
        .unwrap()
        .into_inner();
    let mut received = 0;
    while stream.message().await.unwrap().is_some() {
        received += 1;
    }
    assert_eq!(received, CHUNKS);
    assert!(
        peer.closed.try_recv().is_err(),
        "open until the stream is dropped"
    );
    drop(stream);
    (&mut peer.closed).await.unwrap();
}

/// HTTP/2 frame types and flags the tests below read.
const DATA: u8 = 0;
const END_STREAM: u8 = 1;

/// The frames a client sent on `io` after its preface, each as (type,
/// flags, stream, payload length), read until a request stream ended; a
/// request that never ends fails the test instead of hanging it.
async fn frames_until_a_request_ends(io: &mut UnixStream) -> Vec<(u8, u8, u32, usize)> {
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        read_frames_until_a_request_ends(io),
    )
    .await
    .expect("a request stream that ends")
}

async fn read_frames_until_a_request_ends(io: &mut UnixStream) -> Vec<(u8, u8, u32, usize)> {
    use tokio::io::AsyncReadExt;
    let mut preface = [0u8; 24];
    io.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let mut frames = Vec::new();
    loop {
        let mut head = [0u8; 9];
        io.read_exact(&mut head).await.unwrap();
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0; length];
        io.read_exact(&mut payload).await.unwrap();
        frames.push((kind, flags, stream, length));
        if stream != 0 && flags & END_STREAM != 0 {
            return frames;
        }
    }
}

/// Checks that the request's body ended on a frame that carried data:
/// no empty DATA frame only to end it.
fn ends_on_its_data(frames: &[(u8, u8, u32, usize)]) {
    let data: Vec<_> = frames.iter().filter(|f| f.0 == DATA && f.2 != 0).collect();
    assert!(!data.is_empty(), "no DATA frame: {frames:?}");
    assert!(
        data.iter().all(|f| f.3 > 0),
        "an empty DATA frame: {frames:?}"
    );
    assert_eq!(data.last().map(|f| f.1 & END_STREAM), Some(END_STREAM));
}

#[tokio::test]
async fn a_client_stream_ends_on_its_last_chunk() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let mut client = StorageClient::new(socket_channel(ours).await.unwrap());
    // A chunk bigger than what HTTP/2 copies into its write buffer: an
    // empty frame after it would leave in a write of its own.
    let parts = vec![
        AppendRequest {
            part: Some(append_request::Part::Chunk(vec![7; 4096])),
        },
        AppendRequest::commit(),
    ];
    let call = tokio::spawn(async move { client.append(tokio_stream::iter(parts)).await });
    let frames = frames_until_a_request_ends(&mut theirs).await;
    call.abort();
    ends_on_its_data(&frames);
}

#[tokio::test]
async fn a_unary_request_ends_on_its_message() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let mut client = StorageClient::new(socket_channel(ours).await.unwrap());
    let call = tokio::spawn(async move { client.mailbox_status(status_of("INBOX")).await });
    let frames = frames_until_a_request_ends(&mut theirs).await;
    call.abort();
    ends_on_its_data(&frames);
}

//! A [`SocketChannel`] outlives the streams it resets. A response dropped
//! before its end is reset; what the peer had already sent on it arrives
//! after, and once h2 no longer remembers the stream it took that for the
//! peer's error, and at the 1,024th (over the connection's whole life)
//! closed the connection that every session of a protocol process shares
//! with a storage process. fetchmail reading a few hundred messages did it.

use std::collections::HashSet;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::*;
use crate::storage::FetchRequest;
use crate::storage::storage_client::StorageClient;

/// Frame types of HTTP/2 (RFC 9113 §6).
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
/// Flags.
const ACK: u8 = 1;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

/// More streams than the h2 client's default limit of errors over a
/// connection (1,024) plus the resets it remembers by default (50).
const CALLS: usize = 1_200;

/// Writes one frame; a client that closed the connection makes it fail.
async fn frame(
    io: &mut UnixStream,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) -> std::io::Result<()> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut head = vec![length[1], length[2], length[3], kind, flags];
    head.extend_from_slice(&stream.to_be_bytes());
    head.extend_from_slice(payload);
    io.write_all(&head).await
}

/// A header field as HPACK's literal without indexing, new name (RFC 7541
/// §6.2.2); the names and values here are short enough for one length
/// byte.
fn field(name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0, u8::try_from(name.len()).unwrap()];
    out.extend_from_slice(name.as_bytes());
    out.push(u8::try_from(value.len()).unwrap());
    out.extend_from_slice(value.as_bytes());
    out
}

/// A server that answers every request with one (empty) message and ends
/// the stream only when the client resets it: the end is then, as a real
/// end can be, already on its way when the reset is sent. Returns whether
/// the client closed the connection with GOAWAY.
async fn late_ending_server(mut io: UnixStream) -> bool {
    let mut preface = [0u8; 24];
    if io.read_exact(&mut preface).await.is_err() {
        return false;
    }
    if frame(&mut io, SETTINGS, 0, 0, &[]).await.is_err() {
        return false;
    }
    let mut head_block = vec![0x88]; // :status 200, HPACK's static table
    head_block.extend(field("content-type", "application/grpc"));
    let trailers = field("grpc-status", "0");
    let mut ended = HashSet::new();
    loop {
        let mut head = [0u8; 9];
        if io.read_exact(&mut head).await.is_err() {
            return false;
        }
        let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0; length];
        if io.read_exact(&mut payload).await.is_err() {
            return false;
        }
        let written = match kind {
            SETTINGS if flags & ACK == 0 => frame(&mut io, SETTINGS, ACK, 0, &[]).await,
            PING if flags & ACK == 0 => frame(&mut io, PING, ACK, 0, &payload).await,
            HEADERS => {
                // The answer's head and one gRPC message of no bytes (a
                // default FetchResponse).
                match frame(&mut io, HEADERS, END_HEADERS, stream, &head_block).await {
                    Ok(()) => frame(&mut io, 0, 0, stream, &[0, 0, 0, 0, 0]).await,
                    Err(e) => Err(e),
                }
            }
            RST_STREAM if ended.insert(stream) => {
                frame(
                    &mut io,
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    stream,
                    &trailers,
                )
                .await
            }
            GOAWAY => return true,
            _ => Ok(()),
        };
        if written.is_err() {
            return false;
        }
    }
}

#[tokio::test]
async fn streams_dropped_before_their_end_leave_the_connection_open() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let server = tokio::spawn(late_ending_server(theirs));
    let mut client = StorageClient::new(socket_channel(ours).await.unwrap());
    for call in 0..CALLS {
        let mut stream = client
            .fetch(FetchRequest::default())
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e}"))
            .into_inner();
        let first = stream.message().await;
        assert!(matches!(first, Ok(Some(_))), "call {call}: {first:?}");
        // Dropped before its end: reset.
    }
    drop(client);
    assert!(
        !server.await.unwrap(),
        "the client closed the connection with GOAWAY"
    );
}

//! What an idle connection holds: no input or output buffer while it
//! waits for its client.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::conn_info::Endpoint;
use crate::listen::ListenerKind;

fn pair() -> (ConnReader, ConnWriter, DuplexStream) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let info = ConnInfo {
        peer: Endpoint::Unix,
        local: Endpoint::Unix,
        listener: "test".into(),
        kind: ListenerKind::Unix,
        loopback: true,
        tls: None,
        compressed: false,
        plaintext_logins: Default::default(),
    };
    let (reader, writer) = Connection::new(server, info, ConnLimits::default()).split();
    (reader, writer, client)
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Polls `reader.fill` once (the client sent nothing, so it waits) and
/// drops it, as a session's `select!` does when another branch wins.
async fn wait_once(reader: &mut ConnReader) {
    tokio::select! {
        biased;
        r = reader.fill(later()) => panic!("nothing was sent: {r:?}"),
        () = std::future::ready(()) => {}
    }
}

#[tokio::test]
async fn a_reader_waiting_for_its_client_holds_no_buffer() {
    let (mut reader, _writer, mut client) = pair();
    // A long command, read in several fills, grows the buffer.
    let long = [b'x'; 40_000];
    client.write_all(&long).await.expect("send");
    client.write_all(b"\r\n").await.expect("send");
    let line = reader
        .read_line(100_000, later())
        .await
        .expect("read")
        .expect("a line");
    assert_eq!(line.len(), 40_002);
    assert!(reader.buf.capacity() >= READ_SIZE);
    // Everything consumed, waiting: the buffer is gone.
    wait_once(&mut reader).await;
    assert_eq!(reader.buf.capacity(), 0);
    // And the waiting read keeps no buffer of its own.
    let waiting = reader.fill(later());
    assert!(
        std::mem::size_of_val(&waiting) < FIRST_READ,
        "a waiting fill is {} bytes",
        std::mem::size_of_val(&waiting)
    );
    drop(waiting);
    // What comes next is read whole.
    client.write_all(b"a1 NOOP\r\n").await.expect("send");
    let line = reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"a1 NOOP\r\n"[..]));
}

#[tokio::test]
async fn input_streaming_in_is_read_in_big_pieces_not_first_read_ones() {
    let (mut reader, _writer, mut client) = pair();
    // A message body that arrived whole: one fill takes it all.
    let body = [b'y'; 5_000];
    client.write_all(&body).await.expect("send");
    assert_eq!(reader.fill(later()).await.expect("read"), 5_000);
    assert_eq!(reader.buf(), &body[..]);
    reader.consume(5_000);
    // More than one read's worth: the first fill takes READ_SIZE.
    let big = vec![b'z'; 3 * READ_SIZE];
    client.write_all(&big).await.expect("send");
    assert_eq!(reader.fill(later()).await.expect("read"), READ_SIZE);
    // A short line stays a short read.
    reader.consume(READ_SIZE);
    let mut rest = reader.buf().len();
    while rest < 2 * READ_SIZE {
        rest += reader.fill(later()).await.expect("read");
    }
    reader.consume(rest);
    client.write_all(b"a1 NOOP\r\n").await.expect("send");
    assert_eq!(reader.fill(later()).await.expect("read"), 9);
}

#[tokio::test]
async fn a_line_over_the_limit_is_too_long_however_it_arrived() {
    let (mut reader, _writer, mut client) = pair();
    // Arrived whole, its LF with it: too long all the same.
    let long = format!("NOOP {}\r\n", "x".repeat(5_000));
    client.write_all(long.as_bytes()).await.expect("send");
    assert_eq!(reader.read_line(512, later()).await.expect("read"), None);
    reader.consume(reader.buf().len());
    client.write_all(b"a1 NOOP\r\n").await.expect("send");
    let line = reader.read_line(9, later()).await.expect("read");
    assert_eq!(
        line.as_deref(),
        Some(&b"a1 NOOP\r\n"[..]),
        "a line of the limit"
    );
}

#[tokio::test]
async fn a_flushed_writer_holds_no_buffer() {
    let (_reader, writer, mut client) = pair();
    for n in 0..100 {
        writer
            .write(format!("* {n} FETCH (FLAGS (\\Seen))\r\n").as_bytes())
            .await
            .expect("write");
    }
    assert!(writer.state.lock().await.buf.capacity() > 0);
    writer.flush().await.expect("flush");
    assert_eq!(writer.state.lock().await.buf.capacity(), 0);
    // Everything arrived, in order.
    let mut got = [0u8; 100];
    client.read_exact(&mut got[..15]).await.expect("read");
    assert_eq!(&got[..15], b"* 0 FETCH (FLAG");
    // Writing again after the flush works as before.
    writer.write(b"* OK again\r\n").await.expect("write");
    writer.flush().await.expect("flush");
}

#[tokio::test]
async fn appended_pieces_arrive_in_order_and_count_as_sent() {
    let (reader, writer, mut client) = pair();
    let traffic = Arc::clone(&reader.traffic);
    {
        let mut guard = writer.lock().await;
        guard
            .append(|buf| buf.extend_from_slice(b"+OK 3 octets\r\n"))
            .await
            .expect("append");
        guard.write(b"abc").await.expect("write");
        guard
            .append(|buf| buf.extend_from_slice(b"\r\n.\r\n"))
            .await
            .expect("append");
        // Nothing appended is nothing sent.
        guard.append(|_| {}).await.expect("append");
    }
    writer.flush().await.expect("flush");
    let mut got = [0u8; 22];
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"+OK 3 octets\r\nabc\r\n.\r\n");
    assert_eq!(traffic.sent(), 22);
    assert_eq!(writer.state.lock().await.buf.capacity(), 0);
}

#[tokio::test]
async fn appending_past_the_write_buffer_writes_through() {
    let (_reader, writer, mut client) = pair();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.expect("read");
        got
    });
    let piece = vec![b'p'; WRITE_BUFFER / 3 + 1];
    {
        let mut guard = writer.lock().await;
        for _ in 0..3 {
            guard
                .append(|buf| buf.extend_from_slice(&piece))
                .await
                .expect("append");
        }
        // The third piece took the buffer past its bound: written through,
        // so what is queued now is only what came after.
        assert!(guard.state.buf.is_empty());
        guard
            .append(|buf| buf.extend_from_slice(b"end"))
            .await
            .expect("append");
        assert_eq!(guard.state.buf.len(), 3);
    }
    writer.shutdown().await.expect("shutdown");
    let got = reader.await.expect("the reader");
    assert_eq!(got.len(), 3 * piece.len() + 3);
    assert!(got.ends_with(b"pend"));
}

#[tokio::test]
async fn appending_to_a_dead_connection_fails() {
    let (_reader, writer, _client) = pair();
    writer.state.lock().await.half = None;
    let mut guard = writer.lock().await;
    let called = std::cell::Cell::new(false);
    let result = guard.append(|_| called.set(true)).await;
    assert_eq!(
        result.map_err(|e| e.kind()),
        Err(io::ErrorKind::NotConnected)
    );
    assert!(!called.get(), "nothing is made for a dead connection");
}

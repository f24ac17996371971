//! Reading and writing a connection from several tasks.

use std::time::Duration;

use mailkeep_frontend::{ConnInfo, ConnLimits, Connection, Endpoint, ListenerKind, ReadError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common::*;

fn tls() -> mailkeep_frontend::ServerTls {
    server_tls(&certificates(&Pki::new().leaf(&["mail.test"]), 1))
}

#[tokio::test]
async fn fill_dropped_by_select_loses_nothing() {
    let (conn, mut client) = plain_pair(&tls(), ConnLimits::default()).await;
    let (mut reader, _writer) = conn.split();
    let (event_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<&str>();
    event_tx.send("EXISTS").expect("send");
    // Idle: the read is polled first, finds nothing, and is dropped when
    // the event wins.
    let event = tokio::select! {
        biased;
        r = reader.fill(later()) => panic!("no input was sent: {r:?}"),
        e = events.recv() => e,
    };
    assert_eq!(event, Some("EXISTS"));
    client.write_all(b"DONE\r\n").await.expect("send");
    let line = reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"DONE\r\n"[..]));
    assert!(reader.buf().is_empty());
}

#[tokio::test]
async fn read_line_past_its_limit_answers_none_and_keeps_the_bytes() {
    let (conn, mut client) = plain_pair(&tls(), ConnLimits::default()).await;
    let (mut reader, _writer) = conn.split();
    client.write_all(&[b'x'; 100]).await.expect("send");
    while reader.buf().len() < 100 {
        reader.fill(later()).await.expect("fill");
    }
    assert_eq!(reader.read_line(50, later()).await.expect("read"), None);
    assert_eq!(reader.buf().len(), 100);
    reader.consume(60);
    assert_eq!(reader.buf().len(), 40);
}

#[tokio::test]
async fn fill_stops_at_max_input() {
    let limits = ConnLimits {
        max_input: 1000,
        ..ConnLimits::default()
    };
    let (conn, mut client) = plain_pair(&tls(), limits).await;
    let (mut reader, _writer) = conn.split();
    client.write_all(&[b'x'; 5000]).await.expect("send");
    let err = loop {
        match reader.fill(later()).await {
            Ok(_) => assert!(reader.buf().len() <= 1000),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, ReadError::BufferFull(1000)), "{err:?}");
    assert_eq!(reader.buf().len(), 1000);
}

#[tokio::test]
async fn responses_written_from_several_tasks_never_interleave() {
    let (conn, client) = plain_pair(&tls(), ConnLimits::default()).await;
    let (_reader, writer) = conn.split();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50 {
                // One response in three pieces, under one lock.
                let mut w = writer.lock().await;
                w.write(format!("* {task} FETCH ").as_bytes())
                    .await
                    .expect("write");
                w.write(&[b'a' + task as u8; 3000]).await.expect("write");
                w.write(format!(" {n}\r\n").as_bytes())
                    .await
                    .expect("write");
            }
            writer.flush().await.expect("flush");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut lines = BufReader::new(client).lines();
    for _ in 0..400 {
        let line = lines.next_line().await.expect("read").expect("a line");
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("*"));
        let task: u8 = parts.next().expect("task").parse().expect("number");
        assert_eq!(parts.next(), Some("FETCH"));
        let body = parts.next().expect("body");
        assert!(
            body.len() == 3000 && body.bytes().all(|b| b == b'a' + task),
            "interleaved"
        );
        assert!(parts.next().expect("n").parse::<u32>().is_ok());
    }
}

fn memory_info() -> ConnInfo {
    ConnInfo {
        peer: Endpoint::Unix,
        local: Endpoint::Unix,
        listener: "test".into(),
        kind: ListenerKind::Unix,
        loopback: true,
        tls: None,
        compressed: false,
        plaintext_logins: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_times_the_writer_out_and_the_connection_dies() {
    let (_client, server) = tokio::io::duplex(1024);
    let limits = ConnLimits {
        write_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    };
    let (reader, writer) = Connection::new(server, memory_info(), limits).split();
    let err = writer
        .write(&vec![b'x'; 1024 * 1024])
        .await
        .expect_err("times out");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let err = writer.write(b"* BYE\r\n").await.expect_err("dead");
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    // The reader still works until the session notices.
    let _ = reader.buf();
}

#[tokio::test]
async fn an_idle_connection_gives_its_stream_back() {
    let (client, server) = tokio::io::duplex(1024);
    let conn = Connection::new(server, memory_info(), ConnLimits::default());
    let mut stream = conn.into_stream().expect("idle");
    let mut client = client;
    client.write_all(b"hello").await.expect("send");
    let mut got = [0u8; 5];
    stream.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"hello");
}

#[tokio::test(start_paused = true)]
async fn read_errors_say_eof_and_timeout() {
    let (client, server) = tokio::io::duplex(1024);
    let (mut reader, _w) = Connection::new(server, memory_info(), ConnLimits::default()).split();
    let soon = tokio::time::Instant::now() + Duration::from_secs(60);
    assert!(matches!(reader.fill(soon).await, Err(ReadError::Timeout)));
    drop(client);
    assert!(matches!(reader.fill(later()).await, Err(ReadError::Eof)));
}

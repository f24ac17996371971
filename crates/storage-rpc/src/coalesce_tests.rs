use std::io::Read;
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Coalesced, GATHER_LIMIT};

/// How long a test waits before it calls a stuck stream a failure.
const GUARD: std::time::Duration = std::time::Duration::from_secs(10);
use crate::quiet_stream::QuietStream;

/// How many times the peer's reads found data: one per system call that
/// wrote (the writes below are far smaller than the socket's buffer).
fn reads_until(peer: &mut UnixStream, want: usize) -> (Vec<u8>, usize) {
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 65536];
    while got.len() < want {
        let n = peer.read(&mut buf).expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    (got, reads)
}

#[tokio::test]
async fn two_flushes_in_one_turn_go_out_in_one_write() {
    let (ours, mut peer) = QuietStream::with_peer().expect("pair");
    let mut ours = Coalesced::new(ours);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let message = vec![b'm'; 600];
    let trailers = b"trailers".to_vec();
    let mut pinned = std::pin::Pin::new(&mut ours);
    assert!(matches!(
        pinned.as_mut().poll_write(&mut cx, &message),
        Poll::Ready(Ok(600))
    ));
    // The first flush is put off: nothing reached the socket yet.
    assert!(matches!(
        pinned.as_mut().poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
    peer.set_nonblocking(true).expect("nonblocking");
    let mut probe = [0u8; 1];
    assert_eq!(
        peer.read(&mut probe).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    assert!(matches!(
        pinned.as_mut().poll_write(&mut cx, &trailers),
        Poll::Ready(Ok(8))
    ));
    assert!(matches!(
        pinned.as_mut().poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
    peer.set_nonblocking(false).expect("blocking");
    let (got, reads) = reads_until(&mut peer, 608);
    assert_eq!(reads, 1);
    assert_eq!(&got[..600], &message[..]);
    assert_eq!(&got[600..], b"trailers");
}

/// A flush put off (a big frame) and no second flush: what waits goes out
/// when the connection reads next, not later.
#[tokio::test]
async fn a_put_off_flush_goes_out_at_the_next_read() {
    let (ours, mut peer) = QuietStream::with_peer().expect("pair");
    let mut ours = Coalesced::new(ours);
    let message = vec![b'm'; 600];
    ours.write_all(&message).await.expect("write");
    ours.flush().await.expect("flush put off");
    peer.set_nonblocking(true).expect("nonblocking");
    let mut probe = [0u8; 1];
    assert_eq!(
        peer.read(&mut probe).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "sent before the next turn"
    );
    peer.set_nonblocking(false).expect("blocking");
    // The peer answers once it has the message: the read that waits for
    // the answer is what sends it.
    let answering = tokio::task::spawn_blocking(move || {
        let (got, _) = reads_until(&mut peer, 600);
        std::io::Write::write_all(&mut peer, b"pong").expect("answer");
        got
    });
    let mut answer = [0u8; 4];
    // Bounded only so that a message left waiting fails instead of hanging.
    tokio::time::timeout(GUARD, ours.read_exact(&mut answer))
        .await
        .expect("the message was left waiting")
        .expect("read the answer");
    assert_eq!(&answer, b"pong");
    assert_eq!(answering.await.expect("peer"), message);
}

#[tokio::test]
async fn a_write_past_the_limit_sends_what_waits_first_and_keeps_the_order() {
    let (ours, mut peer) = QuietStream::with_peer().expect("pair");
    let mut ours = Coalesced::new(ours);
    ours.write_all(b"head").await.expect("small");
    let big = vec![b'b'; GATHER_LIMIT + 1];
    let sending = async {
        ours.write_all(&big).await.expect("big");
        ours.shutdown().await.expect("shutdown sends the rest");
    };
    let reading = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        peer.read_to_end(&mut all).expect("read");
        all
    });
    sending.await;
    let all = reading.await.expect("reader");
    assert_eq!(all.len(), 4 + GATHER_LIMIT + 1);
    assert_eq!(&all[..4], b"head");
    assert!(all[4..].iter().all(|&c| c == b'b'));
}

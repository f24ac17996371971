use std::io::Read;
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Coalesced, GATHER_LIMIT};
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

#[tokio::test]
async fn a_put_off_flush_goes_out_at_the_next_read() {
    let (a, b) = QuietStream::pair().expect("pair");
    let mut a = Coalesced::new(a);
    let mut b = Coalesced::new(b);
    a.write_all(b"ping").await.expect("write");
    a.flush().await.expect("flush put off");
    // The next turn reads first: that sends the ping, and b answers.
    let answer = async {
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.expect("b reads");
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").await.expect("b writes");
        b.flush().await.expect("b flush");
        b.flush().await.expect("b flush again");
    };
    let mut got = [0u8; 4];
    let ask = a.read_exact(&mut got);
    let (asked, ()) = tokio::join!(ask, answer);
    asked.expect("a reads");
    assert_eq!(&got, b"pong");
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

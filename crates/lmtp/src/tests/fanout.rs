use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mailkeep_frontend::{AnyConnector, AuthLink, Clock, ConnectError, Connector, Storage};
use mailkeep_plugin_api::ProtocolPlugins;
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;

use super::*;
use crate::address::Recipient;
use crate::trace::Transaction;

/// A connector that counts the storage connections asked of it and
/// makes none.
#[derive(Clone)]
struct Counting(Arc<AtomicUsize>);

impl Connector for Counting {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        Err(ConnectError::unavailable("no auth in this test"))
    }

    async fn storage(&self, _: &str, _: &str) -> Result<LeasedChannel, ConnectError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(ConnectError::unavailable("no storage in this test"))
    }
}

fn mailbox(asked: &Arc<AtomicUsize>) -> Mailbox {
    let auth = Arc::new(AuthLink::new(AnyConnector::new(Counting(asked.clone()))));
    let clock = Clock::manual(Arc::new(std::sync::atomic::AtomicI64::new(1000)));
    let storage = Storage::for_delivery(
        auth,
        "alice",
        zeroize::Zeroizing::new("ticket".into()),
        i64::MAX,
        clock,
    );
    Mailbox {
        recipient: Recipient::parse("alice@example.org", "+"),
        user: "alice".into(),
        owner: "alice".into(),
        folder: "INBOX".into(),
        storage,
    }
}

fn transaction() -> Transaction<'static> {
    Transaction {
        from: "sender@example.org",
        lhlo: "client.example.org",
        peer: "127.0.0.1",
        hostname: "mx.example.org",
        id: "T1",
        date: "Tue, 01 Dec 2026 03:00:00 +0000",
    }
}

/// A delivery to one recipient whose storage connections `asked` counts.
fn fanout_to(asked: &Arc<AtomicUsize>) -> Fanout {
    Fanout::start(
        &[mailbox(asked)],
        &transaction(),
        ProtocolPlugins::new(Vec::new()),
    )
}

/// Lets every other task of this (one-thread) runtime run as far as it
/// can.
async fn let_others_run() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_small_message_reaches_storage_only_once_it_has_ended() {
    let asked = Arc::new(AtomicUsize::new(0));
    let mut fanout = fanout_to(&asked);
    fanout
        .write(b"Subject: hi\r\n\r\nless than a chunk\r\n")
        .await;
    let_others_run().await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "no Append call before the message's first chunk is complete"
    );
    let (replies, delivered) = fanout.commit().await;
    assert!(delivered.is_empty(), "nothing was stored");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one call at the end");
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].is_temporary(),
        "storage unreachable: {:?}",
        replies[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_big_message_starts_its_call_with_its_first_chunk() {
    let asked = Arc::new(AtomicUsize::new(0));
    let mut fanout = fanout_to(&asked);
    fanout.write(&vec![b'a'; CHUNK_SIZE + 1]).await;
    let_others_run().await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "streaming from the first chunk"
    );
    // Later chunks go to the same call, which keeps its answer.
    fanout.write(&vec![b'a'; 2 * CHUNK_SIZE]).await;
    let_others_run().await;
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one call for the message");
    assert!(
        matches!(fanout.appends[0].call, Call::Started(_)),
        "the call is kept for its answer"
    );
    drop(fanout);
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_broken_off_before_its_first_chunk_makes_no_call() {
    let asked = Arc::new(AtomicUsize::new(0));
    let mut fanout = fanout_to(&asked);
    fanout.write(b"Subject: hi\r\n").await;
    drop(fanout);
    let_others_run().await;
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

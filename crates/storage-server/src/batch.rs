//! Items of a streamed answer (Fetch, Maildrop.Retrieve) on their way to
//! the client, sent in batches of about [`CHUNK_SIZE`] bytes: one stream
//! message, one HTTP/2 frame and one wake-up per batch rather than per
//! item.

use mailkeep_storage_rpc::CHUNK_SIZE;
use tokio::sync::mpsc;
use tonic::Status;

/// Items per batch at most, whatever their size.
const BATCH_ITEMS: usize = 512;

/// An item of a streamed answer: what it weighs in a stream message, and
/// the stream message that carries a batch of them.
pub(crate) trait Batched: Sized {
    /// The stream message of a batch.
    type Response;
    /// About how many bytes the item adds to a stream message.
    fn weight(&self) -> usize;
    /// The stream message carrying `items`.
    fn response(items: Vec<Self>) -> Self::Response;
}

/// Where a streamed answer's messages go.
pub(crate) type Sender<I> = mpsc::Sender<Result<<I as Batched>::Response, Status>>;

/// The items waiting to be sent.
pub(crate) struct Batch<'a, I: Batched> {
    tx: &'a Sender<I>,
    items: Vec<I>,
    bytes: usize,
}

impl<'a, I: Batched> Batch<'a, I> {
    /// An empty batch for `tx`.
    pub(crate) fn new(tx: &'a Sender<I>) -> Batch<'a, I> {
        Batch {
            tx,
            items: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds `item`, sending the batch once it is full; `false` when the
    /// client has gone away.
    pub(crate) fn push(&mut self, item: I) -> bool {
        self.bytes += item.weight();
        self.items.push(item);
        if self.bytes >= CHUNK_SIZE || self.items.len() >= BATCH_ITEMS {
            return self.flush();
        }
        true
    }

    /// Sends what is waiting; `false` when the client has gone away.
    pub(crate) fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::take(&mut self.items);
        self.bytes = 0;
        self.tx.blocking_send(Ok(I::response(items))).is_ok()
    }
}

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

/// The items waiting to be sent to the client from a store thread (which
/// waits while the client is behind, counted as waiting, not working):
/// Maildrop.Retrieve's answer. (A Fetch's is made a piece at a time and
/// waits on no thread, see `fetch_producer`.)
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
        if full(self.bytes, self.items.len()) {
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
        crate::client_wait::send_waiting(self.tx, Ok(I::response(items)))
    }
}

/// Whether a batch of `items` items weighing `bytes` is to be sent.
pub(crate) fn full(bytes: usize, items: usize) -> bool {
    bytes >= CHUNK_SIZE || items >= BATCH_ITEMS
}

/// `items` cut into the stream messages [`Batch`] would send, for an
/// answer that is whole in memory before it is sent.
pub(crate) fn batches<I: Batched>(items: impl IntoIterator<Item = I>) -> Vec<I::Response> {
    let mut out = Vec::new();
    let (mut batch, mut bytes) = (Vec::new(), 0);
    for item in items {
        bytes += item.weight();
        batch.push(item);
        if full(bytes, batch.len()) {
            out.push(I::response(std::mem::take(&mut batch)));
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        out.push(I::response(batch));
    }
    out
}

/// An answer whole in memory, as a stream (a channel that holds it all,
/// filled at once, so no task needs to feed it).
pub(crate) fn queued<T>(
    answer: Vec<Result<T, Status>>,
) -> tokio_stream::wrappers::ReceiverStream<Result<T, Status>> {
    let (tx, rx) = mpsc::channel(answer.len().max(1));
    for item in answer {
        // Room for every one was made above, and the receiver is here.
        if tx.try_send(item).is_err() {
            break;
        }
    }
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item of a given weight; a batch is the weights it carries.
    struct Weighing(usize);

    impl Batched for Weighing {
        type Response = Vec<usize>;

        fn weight(&self) -> usize {
            self.0
        }

        fn response(items: Vec<Self>) -> Vec<usize> {
            items.into_iter().map(|w| w.0).collect()
        }
    }

    #[test]
    fn an_answer_in_memory_is_cut_where_a_streamed_batch_would_be_sent() {
        // Heavy items: a batch ends with the item that reaches CHUNK_SIZE.
        let half = CHUNK_SIZE / 2;
        let heavy = batches((0..5).map(|_| Weighing(half)));
        assert_eq!(heavy, vec![vec![half, half], vec![half, half], vec![half]]);
        // Light items: a batch ends at BATCH_ITEMS items.
        let light = batches((0..BATCH_ITEMS * 2 + 3).map(|_| Weighing(1)));
        let sizes: Vec<usize> = light.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![BATCH_ITEMS, BATCH_ITEMS, 3]);
        // Nothing: no stream message at all.
        assert!(batches(std::iter::empty::<Weighing>()).is_empty());
    }

    #[test]
    fn a_streamed_batch_sends_what_an_answer_in_memory_holds() {
        let half = CHUNK_SIZE / 2;
        let (tx, mut rx) = mpsc::channel(8);
        let mut batch = Batch::new(&tx);
        for _ in 0..5 {
            assert!(batch.push(Weighing(half)));
        }
        assert!(batch.flush());
        drop(batch);
        drop(tx);
        let mut sent = Vec::new();
        while let Ok(response) = rx.try_recv() {
            sent.push(response.expect("a batch"));
        }
        assert_eq!(sent, batches((0..5).map(|_| Weighing(half))));
    }
}

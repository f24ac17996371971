//! Items of a streamed answer (Fetch, Maildrop.Retrieve) on their way to
//! the client, sent in batches of about [`CHUNK_SIZE`] bytes: one stream
//! message, one HTTP/2 frame and one wake-up per batch rather than per
//! item. A streamed answer is made a piece at a time on store threads
//! while the client has room ([`send_piecewise`]): no thread waits for a
//! slow client.

use std::collections::VecDeque;

use mailkeep_storage_rpc::CHUNK_SIZE;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tonic::Status;

use crate::convert::{server_bug, status_of};
use crate::gate::Gate;

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

/// A streamed answer's stream messages made and not sent yet, for an
/// answer made a piece at a time on store threads that never wait for the
/// client (Fetch, Maildrop.Retrieve): items are gathered into stream
/// messages, full ones wait here, and [`Outbox::send`] hands over what
/// the client has room for. At most one piece's batches wait when its maker
/// asks for room before making the next piece.
pub(crate) struct Outbox<I: Batched> {
    batch: Vec<I>,
    bytes: usize,
    ready: VecDeque<I::Response>,
    /// What ends the stream after `ready` (what came before an error is
    /// the client's too).
    failed: Option<Status>,
    /// Nothing more will be added.
    closed: bool,
}

/// How a hand-over of [`Outbox::send`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handed {
    /// All that waited went out; more may be made.
    All,
    /// The client is behind: hand over again once it has taken some.
    Full,
    /// The answer was sent whole (or the client went away).
    Done,
}

impl<I: Batched> Outbox<I> {
    /// An empty outbox.
    pub(crate) fn new() -> Outbox<I> {
        Outbox {
            batch: Vec::new(),
            bytes: 0,
            ready: VecDeque::new(),
            failed: None,
            closed: false,
        }
    }

    /// Adds `item` to the stream message being filled, which waits to be
    /// sent once full.
    pub(crate) fn push(&mut self, item: I) {
        self.bytes += item.weight();
        self.batch.push(item);
        if full(self.bytes, self.batch.len()) {
            self.flush();
        }
    }

    /// Ends the answer: what is being filled waits to be sent, nothing
    /// more comes.
    pub(crate) fn close(&mut self) {
        self.flush();
        self.closed = true;
    }

    /// Ends the answer with `status`, after what was made before it.
    pub(crate) fn fail(&mut self, status: Status) {
        self.close();
        self.failed = Some(status);
    }

    /// Whether the answer was ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Hands over to `tx` what waits, while it has room.
    pub(crate) fn send(&mut self, tx: &Sender<I>) -> Handed {
        while let Some(response) = self.ready.pop_front() {
            match tx.try_send(Ok(response)) {
                Ok(()) => {}
                Err(TrySendError::Full(back)) => {
                    if let Ok(response) = back {
                        self.ready.push_front(response);
                    }
                    return Handed::Full;
                }
                Err(TrySendError::Closed(_)) => return Handed::Done,
            }
        }
        if let Some(status) = self.failed.take() {
            return match tx.try_send(Err(status)) {
                Err(TrySendError::Full(back)) => {
                    self.failed = back.err();
                    Handed::Full
                }
                Ok(()) | Err(TrySendError::Closed(_)) => Handed::Done,
            };
        }
        if self.closed {
            Handed::Done
        } else {
            Handed::All
        }
    }

    /// The whole answer, once closed, its error (if any) last.
    pub(crate) fn into_answer(mut self) -> Vec<Result<I::Response, Status>> {
        self.flush();
        let mut answer: Vec<_> = self.ready.drain(..).map(Ok).collect();
        answer.extend(self.failed.take().map(Err));
        answer
    }

    /// Lets the stream message being filled go out as it is, not full.
    pub(crate) fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.ready
                .push_back(I::response(std::mem::take(&mut self.batch)));
            self.bytes = 0;
        }
    }
}

/// An answer made a piece at a time into an [`Outbox`] (see
/// [`send_piecewise`]).
pub(crate) trait Piecewise: Send + 'static {
    /// The items of its stream messages.
    type Item: Batched;
    /// Where the pieces made wait to be sent.
    fn outbox(&mut self) -> &mut Outbox<Self::Item>;
    /// Makes the next piece into the outbox, or closes or fails it.
    fn step(&mut self);
    /// Makes the answer and hands it to `tx` while it has room, never
    /// waiting for the client: [`Handed::Full`] or [`Handed::Done`].
    fn fill(&mut self, tx: &Sender<Self::Item>) -> Handed {
        loop {
            match self.outbox().send(tx) {
                Handed::All => self.step(),
                handed => return handed,
            }
        }
    }
}

/// Sends a streamed answer to `tx`: the producer `make` gives (on a store
/// thread, as it may read or parse) fills the queue on store threads
/// while the client has room, and waits on none while it has not, until
/// half the queue is free: a client that keeps up costs a visit to a
/// store thread per few stream messages, a slow one holds no thread.
pub(crate) async fn send_piecewise<P: Piecewise>(
    gate: &Gate,
    owner: &str,
    tx: &Sender<P::Item>,
    make: impl FnOnce() -> Result<P, Status> + Send + 'static,
) where
    <P::Item as Batched>::Response: Send,
{
    let refill = (tx.max_capacity() / 2).max(1);
    let mut producer: Option<P> = None;
    let mut make = Some(make);
    loop {
        let queue = tx.clone();
        let (made, start) = (producer.take(), make.take());
        let visit = gate
            .run_store(owner, move || {
                let mut producer = match (made, start) {
                    (Some(producer), _) => producer,
                    (None, Some(start)) => match start() {
                        Ok(producer) => producer,
                        Err(status) => return Ok(Err(status)),
                    },
                    (None, None) => return Ok(Err(server_bug("a stream with no producer"))),
                };
                let handed = producer.fill(&queue);
                Ok(Ok((producer, handed)))
            })
            .await;
        let last = match visit {
            Ok(Ok(Ok((_, Handed::Done)))) => return,
            Ok(Ok(Ok((back, _)))) => {
                producer = Some(back);
                // On no thread until the client has taken some.
                if tx.reserve_many(refill).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Ok(Err(status))) | Err(status) => status,
            Ok(Err(e)) => status_of(e),
        };
        // The client may be gone already; nothing more to do then.
        let _ = tx.send(Err(last)).await;
        return;
    }
}

/// Whether a batch of `items` items weighing `bytes` is to be sent.
fn full(bytes: usize, items: usize) -> bool {
    bytes >= CHUNK_SIZE || items >= BATCH_ITEMS
}

/// `items` cut into the stream messages an [`Outbox`] sends, for an
/// answer that is whole in memory before it is sent.
pub(crate) fn batches<I: Batched>(items: impl IntoIterator<Item = I>) -> Vec<I::Response> {
    let mut out = Outbox::new();
    for item in items {
        out.push(item);
    }
    out.flush();
    out.ready.into()
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
    fn an_outbox_hands_over_what_an_answer_in_memory_holds() {
        let half = CHUNK_SIZE / 2;
        let (tx, mut rx) = mpsc::channel(2);
        let mut out = Outbox::new();
        for _ in 0..5 {
            out.push(Weighing(half));
        }
        out.close();
        // Room for two of the three stream messages: the third waits.
        assert_eq!(out.send(&tx), Handed::Full);
        let mut sent = Vec::new();
        while let Ok(response) = rx.try_recv() {
            sent.push(response.expect("a batch"));
        }
        assert_eq!(out.send(&tx), Handed::Done);
        while let Ok(response) = rx.try_recv() {
            sent.push(response.expect("a batch"));
        }
        assert_eq!(sent, batches((0..5).map(|_| Weighing(half))));
        // A failure goes last, after what came before it.
        let mut out = Outbox::new();
        out.push(Weighing(1));
        out.fail(Status::data_loss("cut short"));
        let answer = out.into_answer();
        assert_eq!(answer.len(), 2);
        assert!(answer[1].is_err());
    }
}

//! RETR and TOP: `+OK`, the message's bytes as storage serves them (CRLF
//! line ends), dot-stuffed, and the final dot.
//!
//! A poller retrieves one message after another. So a RETR asks storage
//! for its message *and every live message after it* in one streamed
//! Fetch, sends its own, and keeps the stream: the next RETR, if it asks
//! for the next message, reads on instead of making a call of its own
//! (one storage round trip per session instead of one per message). The
//! stream is flow-controlled, so storage reads only a few chunks ahead; a
//! RETR out of order, a TOP, or a client idle for [`IDLE_AHEAD`] drops it.

use std::io;
use std::time::Duration;

use mailkeep_frontend::{ConnWriter, Retry, StorageError};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::fetch_item::Item;

use super::{Entry, MAILBOX, Maildrop, fetch_failed};
use crate::reply::{DotStuffer, Reply, TopCut};
use crate::session::Flow;

/// How long a stream of messages ahead is kept for a client that asks
/// for nothing.
pub(crate) const IDLE_AHEAD: Duration = Duration::from_millis(250);

/// A Fetch stream positioned at the start of a message's item.
pub(crate) struct ReadAhead {
    stream: FetchItems,
}

/// How a message's bytes begin to come.
enum Opened {
    /// The stream, after the message's item; its size.
    Streaming(Box<FetchItems>, u64),
    /// The message is no longer in the mailbox.
    Gone,
    /// Storage failed before anything was sent.
    Failed(StorageError),
}

impl Maildrop {
    /// RETR (whole message) or TOP (`cut`). A failure after the `+OK`
    /// cannot be told to the client: the session closes.
    pub(crate) async fn retrieve(
        &mut self,
        n: u32,
        cut: Option<TopCut>,
        out: &ConnWriter,
    ) -> io::Result<Flow> {
        let (uid, size) = match self.entry(n) {
            Ok(Entry { uid, size, .. }) => (*uid, *size),
            Err(reply) => {
                out.write(&reply.encode()).await?;
                return Ok(Flow::Continue);
            }
        };
        let ahead = self.ahead.take();
        let opened = match ahead {
            Some(ahead) if cut.is_none() => match ahead.next(uid).await {
                Some((stream, served)) => Opened::Streaming(Box::new(stream), served),
                None => self.fetch_from(n, uid, true).await,
            },
            _ => self.fetch_from(n, uid, cut.is_none()).await,
        };
        let (mut stream, served) = match opened {
            Opened::Streaming(stream, served) => (stream, served),
            Opened::Gone => {
                let reply = Reply::err(format!("Message {n} was removed by another session"));
                out.write(&reply.encode()).await?;
                return Ok(Flow::Continue);
            }
            Opened::Failed(e) => {
                out.write(&fetch_failed(&e).encode()).await?;
                return Ok(Flow::Continue);
            }
        };
        let mut guard = out.lock().await;
        let head = match cut {
            None => Reply::ok(format!("{size} octets")),
            Some(_) => Reply::ok("Top of message follows"),
        };
        guard.write(&head.encode()).await?;
        let mut cut = cut;
        let mut stuffer = DotStuffer::default();
        let mut piece = Vec::new();
        let mut left = served;
        while left > 0 {
            let chunk = match stream.next().await {
                Ok(Some(Item::BodyChunk(chunk))) => chunk,
                other => {
                    tracing::warn!(uid, left, outcome = ?other.map(|_| ()), "message stream broke after +OK");
                    self.storage.forget_channel(self.storage.user());
                    return Ok(Flow::Close);
                }
            };
            left = left.saturating_sub(chunk.len() as u64);
            let keep = cut.as_mut().map_or(chunk.len(), |c| c.keep(&chunk));
            piece.clear();
            stuffer.push(&chunk[..keep], &mut piece);
            guard.write(&piece).await?;
            if cut.as_ref().is_some_and(TopCut::done) {
                // The rest is not wanted: dropping the stream cancels it.
                break;
            }
        }
        piece.clear();
        stuffer.finish(&mut piece);
        guard.write(&piece).await?;
        if cut.is_none() && left == 0 {
            self.ahead = Some(ReadAhead { stream: *stream });
        }
        Ok(Flow::Continue)
    }

    /// A Fetch of message `n` (UID `uid`) and, with `onward`, every live
    /// message after it, read up to the first message's item.
    async fn fetch_from(&self, n: u32, uid: u32, onward: bool) -> Opened {
        let owner = self.storage.user().to_owned();
        let uidvalidity = self.uidvalidity;
        let uids = if onward {
            self.live_ranges_from(n)
        } else {
            vec![pb::UidRange {
                first: uid,
                last: uid,
            }]
        };
        let stream = self
            .storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(pb::FetchRequest {
                    owner: owner.clone(),
                    mailbox: MAILBOX.into(),
                    uidvalidity,
                    uids: uids.clone(),
                    body: true,
                    cuts: Vec::new(),
                    ..Default::default()
                });
                async move { rpc.storage().fetch(request).await }
            })
            .await;
        let mut stream = match stream {
            Ok(stream) => FetchItems::new(stream),
            Err(e) => return Opened::Failed(e),
        };
        match stream.next().await {
            Ok(Some(Item::Message(m))) if m.uid == uid => {
                Opened::Streaming(Box::new(stream), m.size)
            }
            // Another first message: this one was expunged meanwhile.
            Ok(_) => Opened::Gone,
            Err(status) => Opened::Failed(StorageError::Status(status)),
        }
    }

    /// The UIDs of message `n` and the live messages after it, as ranges
    /// of consecutive UIDs.
    fn live_ranges_from(&self, n: u32) -> Vec<pb::UidRange> {
        let from = usize::try_from(n).unwrap_or(usize::MAX).saturating_sub(1);
        let mut ranges: Vec<pb::UidRange> = Vec::new();
        for e in self.messages.iter().skip(from).filter(|e| !e.deleted) {
            match ranges.last_mut() {
                Some(r) if r.last.checked_add(1) == Some(e.uid) => r.last = e.uid,
                _ => ranges.push(pb::UidRange {
                    first: e.uid,
                    last: e.uid,
                }),
            }
        }
        ranges
    }
}

impl ReadAhead {
    /// The stream after the next message's item, and its size, if that message is
    /// `uid`; `None` (the stream is dropped) otherwise, or at its end.
    async fn next(mut self, uid: u32) -> Option<(FetchItems, u64)> {
        match self.stream.next().await {
            Ok(Some(Item::Message(m))) if m.uid == uid => Some((self.stream, m.size)),
            _ => None,
        }
    }
}

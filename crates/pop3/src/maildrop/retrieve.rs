//! RETR and TOP: `+OK`, the message's bytes as storage serves them (CRLF
//! line ends), dot-stuffed, and the final dot.
//!
//! A poller retrieves one message after another. So a RETR asks storage
//! (Maildrop.Retrieve) for its message *and every live message after it*
//! in one stream, sends its own, and keeps the stream: the next RETR, if
//! it asks for the next message, reads on instead of making a call of its
//! own (one storage round trip per session instead of one per message).
//! The stream is flow-controlled, so storage reads only a few batches
//! ahead; a RETR out of order, a TOP, or a client idle for [`IDLE_AHEAD`]
//! drops it.

use std::io;
use std::io::Write;
use std::time::Duration;

use mailkeep_frontend::{ConnWriter, Retry, StorageError};
use mailkeep_storage_rpc::fetch_items::BatchedItems;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::retrieve_maildrop_item::Item;
use tonic::Status;

use super::{Entry, MAILBOX, Maildrop, fetch_failed};
use crate::reply::{DotStuffer, Reply, TopCut};
use crate::session::Flow;

/// How long a stream of messages ahead is kept for a client that asks
/// for nothing.
pub(crate) const IDLE_AHEAD: Duration = Duration::from_millis(250);

/// A Retrieve stream read item by item, whatever batches storage grouped
/// the items in.
pub(crate) type Items = BatchedItems<pb::RetrieveMaildropResponse>;

/// The start of the next message of `items` if it is `uid`: its size and
/// first bytes; `None` for another message, the end, or an error.
async fn start_of(items: &mut Items, uid: u32) -> Result<Option<(u64, Vec<u8>)>, Status> {
    match items.next().await? {
        Some(Item::Message(m)) if m.uid == uid => Ok(Some((m.size, m.data))),
        _ => Ok(None),
    }
}

/// A Retrieve stream positioned at the start of a message's item.
pub(crate) struct ReadAhead {
    items: Items,
}

/// How a message's bytes begin to come.
enum Opened {
    /// The stream after the message's first item: its size and the
    /// bytes that item carried.
    Streaming(Box<Items>, u64, Vec<u8>),
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
            Some(mut ahead) if cut.is_none() => match start_of(&mut ahead.items, uid).await {
                Ok(Some((served, first))) => {
                    Opened::Streaming(Box::new(ahead.items), served, first)
                }
                // Out of order, or the stream ended: a call of its own.
                _ => self.retrieve_from(n, uid, true).await,
            },
            _ => self.retrieve_from(n, uid, cut.is_none()).await,
        };
        let (mut items, served, first) = match opened {
            Opened::Streaming(items, served, first) => (items, served, first),
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
        let mut cut = cut;
        let mut stuffer = DotStuffer::default();
        let mut left = served.saturating_sub(first.len() as u64);
        let mut guard = out.lock().await;
        // The status line and the stuffed bytes go straight into the
        // connection's output buffer (no buffer of their own, no copy):
        // for most messages the whole reply leaves in one write.
        guard
            .append(|buf| {
                buf.reserve(first.len() + first.len() / 64 + 48);
                match cut {
                    None => {
                        // Writing to a Vec cannot fail.
                        let _ = write!(buf, "+OK {size} octets\r\n");
                    }
                    Some(_) => buf.extend_from_slice(b"+OK Top of message follows\r\n"),
                }
                let keep = cut.as_mut().map_or(first.len(), |c| c.keep(&first));
                stuffer.push(&first[..keep], buf);
            })
            .await?;
        while left > 0 && !cut.as_ref().is_some_and(TopCut::done) {
            let chunk = match items.next().await {
                Ok(Some(Item::More(chunk))) => chunk,
                other => {
                    tracing::warn!(uid, left, outcome = ?other.map(|_| ()), "message stream broke after +OK");
                    self.storage.forget_channel(self.storage.user());
                    return Ok(Flow::Close);
                }
            };
            left = left.saturating_sub(chunk.len() as u64);
            let keep = cut.as_mut().map_or(chunk.len(), |c| c.keep(&chunk));
            guard
                .append(|buf| stuffer.push(&chunk[..keep], buf))
                .await?;
        }
        // A TOP done early drops the stream, which cancels the rest.
        guard.append(|buf| stuffer.finish(buf)).await?;
        if cut.is_none() && left == 0 {
            self.ahead = Some(ReadAhead { items: *items });
        }
        Ok(Flow::Continue)
    }

    /// A Retrieve of message `n` (UID `uid`) and, with `onward`, every
    /// live message after it, read up to the first message's item.
    async fn retrieve_from(&self, n: u32, uid: u32, onward: bool) -> Opened {
        let owner = self.storage.user().to_owned();
        let uidvalidity = self.uidvalidity;
        let uids = if onward {
            self.live_uids_from(n)
        } else {
            vec![uid]
        };
        let stream = self
            .storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(pb::RetrieveMaildropRequest {
                    owner: owner.clone(),
                    mailbox: MAILBOX.into(),
                    uidvalidity,
                    uids: uids.clone(),
                });
                async move { rpc.maildrop().retrieve(request).await }
            })
            .await;
        let mut items = match stream {
            Ok(stream) => Items::new(stream),
            Err(e) => return Opened::Failed(e),
        };
        match start_of(&mut items, uid).await {
            Ok(Some((served, first))) => Opened::Streaming(Box::new(items), served, first),
            // Another first message, or none: this one was expunged
            // meanwhile.
            Ok(None) => Opened::Gone,
            Err(status) => Opened::Failed(StorageError::Status(status)),
        }
    }

    /// The UIDs of message `n` and the live messages after it.
    fn live_uids_from(&self, n: u32) -> Vec<u32> {
        let from = usize::try_from(n).unwrap_or(usize::MAX).saturating_sub(1);
        self.messages
            .iter()
            .skip(from)
            .filter(|e| !e.deleted)
            .map(|e| e.uid)
            .collect()
    }
}

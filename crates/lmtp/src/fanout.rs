//! One message streamed to every recipient as it arrives: an Append stream
//! per recipient is opened when DATA (or the first BDAT chunk) starts, each
//! decoded chunk is handed to all of them (one read of the data, fanned
//! out), and only the end of the message commits. Memory per connection is
//! bounded by the chunk size times the queue depth times the recipients,
//! whatever the message size.
//!
//! A message refused once it has ended (too big, bare LF, a loop for one
//! recipient) is never committed: an Append stream that ends without its
//! commit part stores nothing (storage.proto), so nothing is half-delivered.

use mailkeep_frontend::StorageError;
use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::{AppendHeader, AppendRequest, AppendResponse};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use mailkeep_plugin_api::ProtocolPlugins;

use crate::deliver::{Mailbox, refusal};
use crate::reply::Reply;
use crate::trace::{self, Transaction};

/// Chunks queued per recipient before reading the client waits for its
/// storage process (backpressure instead of buffering).
const QUEUE: usize = 4;

/// The most of the message's start kept for the Delivered-To loop check;
/// a header section longer than this is checked on this much.
const HEAD_LIMIT: usize = 64 * 1024;

/// The message on its way to every accepted recipient.
pub struct Fanout {
    appends: Vec<Append>,
    /// Bytes not yet sent (less than a chunk).
    pending: Vec<u8>,
    /// The plugins, for their replies to refusals they know.
    plugins: ProtocolPlugins,
    /// The start of the message, for the loop check.
    head: Vec<u8>,
}

/// One recipient's Append stream.
struct Append {
    mailbox: Mailbox,
    /// `None` once the stream refused more (its task has the reason).
    parts: Option<mpsc::Sender<AppendRequest>>,
    /// The message already went through this recipient (Delivered-To).
    looped: bool,
    /// The trace fields for this recipient, until they go out with the
    /// first chunk.
    prefix: Option<Vec<u8>>,
    call: Call,
}

/// An Append call: not started until the message's first chunk is
/// queued behind its header, so that a small message (one chunk) goes to
/// the storage process whole — header, chunk, commit and the stream's
/// end in one write, read there in one wakeup — instead of its header
/// first and the rest once the client has sent it.
enum Call {
    /// Not started: what the call will read its parts from.
    Waiting(ReceiverStream<AppendRequest>),
    Started(JoinHandle<Result<AppendResponse, StorageError>>),
    /// Never started, and never will be (broken off before its first
    /// chunk).
    Gone,
}

impl Fanout {
    /// Opens an Append stream for each of `recipients`, starting with the
    /// trace fields for that recipient.
    pub fn start(
        recipients: &[Mailbox],
        transaction: &Transaction<'_>,
        plugins: ProtocolPlugins,
    ) -> Fanout {
        let appends = recipients
            .iter()
            .map(|mailbox| {
                let prefix = trace::prefix(transaction, &mailbox.recipient);
                Append::open(mailbox.clone(), prefix)
            })
            .collect();
        Fanout {
            appends,
            pending: Vec::with_capacity(CHUNK_SIZE),
            head: Vec::new(),
            plugins,
        }
    }

    /// Takes `bytes` of the message; a full chunk goes out to every
    /// recipient, waiting while their queues are full.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.head.len() < HEAD_LIMIT {
            let room = HEAD_LIMIT - self.head.len();
            self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= CHUNK_SIZE {
            let rest = self.pending.split_off(CHUNK_SIZE);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.send(chunk).await;
        }
    }

    async fn send(&mut self, chunk: Vec<u8>) {
        for append in &mut self.appends {
            let part = match append.prefix.take() {
                // The trace fields and the message's first chunk in one
                // part: a small message goes as one chunk.
                Some(mut prefix) => {
                    prefix.extend_from_slice(&chunk);
                    prefix
                }
                None => chunk.clone(),
            };
            append.send(Part::Chunk(part)).await;
        }
    }

    /// The message ended and is taken: sends what is left and commits each
    /// recipient's copy (except where it would loop); one reply per
    /// recipient, in RCPT order, each given only once that copy is durable,
    /// and the copies stored, to be logged once the replies are written.
    pub async fn commit(mut self) -> (Vec<Reply>, Vec<Delivered>) {
        let last = std::mem::take(&mut self.pending);
        // An empty message still gets its trace fields.
        if !last.is_empty() || self.appends.iter().any(|a| a.prefix.is_some()) {
            self.send(last).await;
        }
        let delivered_to = trace::delivered_to(&self.head);
        for append in &mut self.appends {
            if delivered_to
                .iter()
                .any(|v| append.mailbox.recipient.is_named_by(v))
            {
                // Ends without its commit part: nothing is stored.
                append.looped = true;
                append.parts = None;
                append.abort();
            } else {
                append.send(Part::Commit(Default::default())).await;
                append.parts = None;
            }
        }
        let mut replies = Vec::with_capacity(self.appends.len());
        let mut delivered = Vec::with_capacity(self.appends.len());
        for append in &mut self.appends {
            let (reply, stored) = append.reply(&self.plugins).await;
            replies.push(reply);
            delivered.extend(stored);
        }
        (replies, delivered)
    }
}

/// A recipient's copy stored. Its log line is written once the replies
/// are: the line goes through the master (a pipe and a wake-up of
/// another process), which would otherwise stand between the commit and
/// the client's `250` (by hand, one connection: 0.68 ms a delivery with
/// the line before the reply, 0.60 without any line).
pub struct Delivered {
    user: String,
    owner: String,
    folder: String,
    uid: u32,
}

impl Delivered {
    /// Logs the delivery.
    pub fn log(&self) {
        tracing::info!(user = ?self.user, owner = ?self.owner,
            folder = ?self.folder, uid = self.uid, "delivered");
    }
}

impl Drop for Fanout {
    /// A message not committed (refused, or the client left) stores
    /// nothing: every Append stream is broken off without its commit.
    fn drop(&mut self) {
        for append in &mut self.appends {
            append.abort();
        }
    }
}

impl Append {
    fn open(mailbox: Mailbox, prefix: Vec<u8>) -> Append {
        let (parts, queue) = mpsc::channel(QUEUE);
        let header = AppendHeader {
            owner: mailbox.owner.clone(),
            mailbox: mailbox.folder.clone(),
            size_unknown: true,
            ..AppendHeader::default()
        };
        // The queue is empty: the header fits without waiting.
        let opened = parts
            .try_send(AppendRequest {
                part: Some(Part::Header(header)),
            })
            .is_ok();
        Append {
            mailbox,
            parts: opened.then_some(parts),
            looped: false,
            prefix: Some(prefix),
            call: Call::Waiting(ReceiverStream::new(queue)),
        }
    }

    /// Starts the call with the parts queued so far (see [`Call`]).
    fn start(&mut self) {
        let parts = match std::mem::replace(&mut self.call, Call::Gone) {
            Call::Waiting(parts) => parts,
            started_or_gone => {
                self.call = started_or_gone;
                return;
            }
        };
        let storage = self.mailbox.storage.clone();
        // The owner's storage process, reached with the recipient's
        // deliver ticket (another owner's admits it where it may post).
        let owner = self.mailbox.owner.clone();
        self.call = Call::Started(tokio::spawn(async move {
            let rpc = storage.rpc(&owner).await?;
            let request = rpc.request(parts);
            match rpc.storage().append(request).await {
                Ok(done) => Ok(done.into_inner()),
                Err(status) => {
                    let e = StorageError::from(status);
                    if e.reason() == ErrorReason::Unavailable {
                        storage.forget_channel(&owner);
                    }
                    Err(e)
                }
            }
        }));
    }

    /// Breaks the call off without its commit part: nothing is stored.
    fn abort(&mut self) {
        match std::mem::replace(&mut self.call, Call::Gone) {
            Call::Started(call) => call.abort(),
            Call::Waiting(_) | Call::Gone => {}
        }
    }

    /// Queues `part`; the first chunk starts the call.
    async fn send(&mut self, part: Part) {
        let chunk = matches!(part, Part::Chunk(_));
        if let Some(parts) = &self.parts
            && parts
                .send(AppendRequest { part: Some(part) })
                .await
                .is_err()
        {
            // The call ended early (an error): its reply says why.
            self.parts = None;
        }
        if chunk {
            self.start();
        }
    }

    /// This recipient's reply once its call ended, and the copy if it was
    /// stored.
    async fn reply(&mut self, plugins: &ProtocolPlugins) -> (Reply, Option<Delivered>) {
        let mailbox = &self.mailbox;
        if self.looped {
            tracing::warn!(user = ?mailbox.user, "mail loop refused");
            return (Reply::mail_loop(), None);
        }
        let call = match &mut self.call {
            Call::Started(call) => call,
            Call::Waiting(_) | Call::Gone => {
                let reply = Reply::temporary("Temporary storage failure, try again later");
                return (reply, None);
            }
        };
        match call.await {
            Ok(Ok(done)) => {
                let reply = Reply::ok("2.0.0", format!("<{}> Saved", mailbox.recipient.given));
                let stored = Delivered {
                    user: mailbox.user.clone(),
                    owner: mailbox.owner.clone(),
                    folder: mailbox.folder.clone(),
                    uid: done.uid,
                };
                (reply, Some(stored))
            }
            Ok(Err(e)) => {
                tracing::warn!(user = ?mailbox.user, owner = ?mailbox.owner,
                    folder = ?mailbox.folder, error = %e, "delivery failed");
                (refusal(&e, plugins), None)
            }
            Err(_) => (
                Reply::temporary("Temporary storage failure, try again later"),
                None,
            ),
        }
    }
}

#[cfg(test)]
#[path = "tests/fanout.rs"]
mod tests;

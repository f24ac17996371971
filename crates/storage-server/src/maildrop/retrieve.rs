//! Maildrop.Retrieve: the bytes of a POP3 session's messages, one after
//! another in one stream. The files come from one index read for the
//! whole list ([`Store::maildrop_files`]); each is read on store threads
//! as the client takes them (bounded channel, no thread waiting for a
//! slow client) with CRLF line ends, and
//! the items go out in batches of about [`CHUNK_SIZE`] bytes. A message
//! up to a chunk long (most mail) is read whole in one go; a bigger one
//! streams in chunks, never held whole.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::retrieve_maildrop_item::Item;
use mailkeep_store::{CrlfReader, MaildropFile, Store, StoreError, to_crlf};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::batch::{Batched, Outbox, Piecewise, Sender, send_piecewise};
use crate::body::{IndexedMessage, Unsent};
use crate::convert::status_of;
use crate::gate::Gate;

/// How many batches may wait for the client.
const QUEUE: usize = 4;

/// The stream of a Retrieve call.
pub(crate) type Retrieved = ReceiverStream<Result<pb::RetrieveMaildropResponse, Status>>;

/// Serves one admitted Retrieve: the list is read first, and its failure
/// (no such mailbox, another UIDVALIDITY) is the call's status; the
/// bytes then stream, made a piece at a time on store threads while the
/// client has room (a slow one holds no thread), and a failure while
/// streaming ends the stream. The first message goes out alone and before
/// the call is answered: its bytes leave in the same write as the
/// response's headers (the caller wakes once, not twice), and a RETR 1
/// waits for one file, not a batch of them.
pub(crate) async fn retrieve(
    gate: &Arc<Gate>,
    owner: &str,
    store: Store,
    req: pb::RetrieveMaildropRequest,
) -> Result<Retrieved, Status> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (listed_tx, listed_rx) = oneshot::channel();
    let queue = tx.clone();
    let make = move || {
        let files = match store.maildrop_files(&req.mailbox, req.uidvalidity, &req.uids) {
            Ok(files) => files,
            Err(e) => {
                let status = status_of(e);
                let _ = listed_tx.send(Err(status.clone()));
                return Err(status);
            }
        };
        let mut retriever = Retriever {
            store,
            mailbox: req.mailbox,
            files: files.into(),
            big: None,
            started: 0,
            out: Outbox::new(),
        };
        // The call is answered once the first message waits in the queue;
        // the same visit goes on with the rest.
        retriever.first(&queue);
        let _ = listed_tx.send(Ok(()));
        Ok(retriever)
    };
    let (gate, owner) = (Arc::clone(gate), owner.to_owned());
    tokio::spawn(async move {
        send_piecewise(&gate, &owner, &tx, make).await;
    });
    match listed_rx.await {
        Ok(Ok(())) => Ok(ReceiverStream::new(rx)),
        Ok(Err(status)) => Err(status),
        Err(_) => Err(crate::convert::server_bug(
            "the retrieval stopped before it began",
        )),
    }
}

/// A Retrieve's answer still to be made and sent.
struct Retriever {
    store: Store,
    mailbox: String,
    /// Messages not started yet.
    files: VecDeque<MaildropFile>,
    /// A message bigger than a chunk whose bytes are being sent.
    big: Option<Big>,
    /// Messages started (their first bytes made).
    started: usize,
    out: Outbox<Item>,
}

/// A big message's bytes still to be sent.
struct Big {
    unsent: Unsent,
    /// None sent yet: the first chunk goes in the message's item.
    first: bool,
}

impl Retriever {
    /// Makes the first message's item (the whole message, or a big one's
    /// first chunk) and hands it over alone.
    fn first(&mut self, tx: &Sender<Item>) {
        while self.started == 0 && !self.out.is_closed() {
            self.next_piece();
        }
        self.out.flush();
        self.out.send(tx);
    }

    /// Makes the next piece: a chunk of the big message being sent, or the
    /// next message (a small one whole); closes the answer when nothing is
    /// left, or ends it with a failure. A message gone since the maildrop
    /// was opened is left out (the session tells its client so).
    fn next_piece(&mut self) {
        if let Some(big) = &mut self.big {
            let chunk = big.unsent.next_chunk(&self.mailbox);
            let first = std::mem::take(&mut big.first);
            let item = |data| {
                if first {
                    Item::Message(pb::RetrievedMessage {
                        uid: big.unsent.uid,
                        size: big.unsent.size,
                        data,
                    })
                } else {
                    Item::More(data)
                }
            };
            let item = match chunk {
                Ok(Some(data)) => Some(item(data)),
                Ok(None) => None,
                Err(status) => return self.fail(status),
            };
            if big.unsent.is_done() {
                self.big = None;
            }
            if let Some(item) = item {
                self.out.push(item);
            }
            return;
        }
        let Some(listed) = self.files.pop_front() else {
            return self.out.close();
        };
        let file = match self.store.open_maildrop_file(&self.mailbox, &listed) {
            Ok(file) => file,
            Err(
                StoreError::Expunged { .. }
                | StoreError::NotFound { .. }
                | StoreError::MessageFileMissing { .. },
            ) => return,
            Err(e) => return self.fail(status_of(e)),
        };
        self.started += 1;
        if let Err(status) = self.start(file, &listed) {
            self.fail(status);
        }
    }

    /// A message up to a chunk long (most mail) read whole in one go; a
    /// bigger one set to stream in chunks. DATA_LOSS when the file's size
    /// is not the index's.
    fn start(&mut self, mut file: File, listed: &MaildropFile) -> Result<(), Status> {
        let message = IndexedMessage {
            mailbox: &self.mailbox,
            uid: listed.uid,
            size: listed.size,
        };
        let size = usize::try_from(listed.size).unwrap_or(usize::MAX);
        if size > CHUNK_SIZE {
            self.big = Some(Big {
                unsent: Unsent::new(CrlfReader::new(file), listed.uid, listed.size),
                first: true,
            });
            return Ok(());
        }
        // The whole file in one read (it is no bigger than its CRLF size),
        // made CRLF only if it has bare LFs.
        let raw = read_small(&mut file, size + 1).map_err(|e| message.io_error(e))?;
        let data = match to_crlf(&raw) {
            Cow::Borrowed(_) => raw,
            Cow::Owned(crlf) => crlf,
        };
        if data.len() != size {
            return Err(message.data_loss(if data.len() < size {
                "shorter"
            } else {
                "longer"
            }));
        }
        self.out.push(Item::Message(pb::RetrievedMessage {
            uid: listed.uid,
            size: listed.size,
            data,
        }));
        Ok(())
    }

    /// Ends the answer with `status`, after what was made before it.
    fn fail(&mut self, status: Status) {
        self.big = None;
        self.out.fail(status);
    }
}

impl Piecewise for Retriever {
    type Item = Item;

    fn outbox(&mut self) -> &mut Outbox<Item> {
        &mut self.out
    }

    fn step(&mut self) {
        self.next_piece();
    }
}

/// The first `limit` bytes of `file`, a regular file, or all of it when
/// it is shorter: one read for a message smaller than `limit`. A read of
/// a regular file that returns fewer bytes than asked for has reached its
/// end (the kernel fills a read up to the end of the file), so the read
/// that would return nothing is not made: a retrieval reads each of its
/// files with one system call instead of two.
fn read_small(file: &mut File, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut raw = vec![0; limit];
    let mut got = 0;
    while got < limit {
        match file.read(&mut raw[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if got < limit {
                    break; // A short read: the end.
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    raw.truncate(got);
    Ok(raw)
}

impl Batched for Item {
    type Response = pb::RetrieveMaildropResponse;

    fn weight(&self) -> usize {
        16 + match self {
            Item::Message(m) => m.data.len(),
            Item::More(data) => data.len(),
        }
    }

    fn response(items: Vec<Item>) -> pb::RetrieveMaildropResponse {
        pb::RetrieveMaildropResponse {
            items: items
                .into_iter()
                .map(|item| pb::RetrieveMaildropItem { item: Some(item) })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::read_small;

    /// A file shorter than the limit comes whole (one read), one as long
    /// or longer comes cut at the limit, so that the caller sees it is
    /// longer than the index says.
    #[test]
    fn a_small_read_takes_the_whole_file_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (len, limit) in [(0, 6), (5, 6), (6, 6), (9, 6)] {
            let path = dir.path().join(format!("m{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| b'a' + i).collect();
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(&bytes))
                .expect("writing the file");
            let mut file = std::fs::File::open(&path).expect("opening the file");
            let read = read_small(&mut file, limit).expect("reading");
            assert_eq!(read, bytes[..len.min(limit as u8) as usize], "{len} bytes");
        }
    }
}

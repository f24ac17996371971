//! Maildrop.Retrieve: the bytes of a POP3 session's messages, one after
//! another in one stream. The files come from one index read for the
//! whole list ([`Store::maildrop_files`]); each is read on a store thread
//! as the client takes them (bounded channel) with CRLF line ends, and
//! the items go out in batches of about [`CHUNK_SIZE`] bytes. A message
//! up to a chunk long (most mail) is read whole in one go; a bigger one
//! streams in chunks, never held whole.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::retrieve_maildrop_item::Item;
use mailkeep_store::{CrlfReader, MaildropFile, Store, StoreError, to_crlf};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::convert::status_of;
use crate::gate::Gate;

/// How many batches may wait for the client.
const QUEUE: usize = 4;

/// The stream of a Retrieve call.
pub(crate) type Retrieved = ReceiverStream<Result<pb::RetrieveMaildropResponse, Status>>;

type Sender = mpsc::Sender<Result<pb::RetrieveMaildropResponse, Status>>;

/// Serves one admitted Retrieve: the list is read first, and its failure
/// (no such mailbox, another UIDVALIDITY) is the call's status; the
/// bytes then stream, and a failure while streaming ends the stream.
pub(crate) async fn retrieve(
    gate: &Gate,
    owner: &str,
    store: Store,
    req: pb::RetrieveMaildropRequest,
) -> Result<Retrieved, Status> {
    let (listed_tx, listed_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(QUEUE);
    gate.spawn(owner, move || {
        let files = match store.maildrop_files(&req.mailbox, req.uidvalidity, &req.uids) {
            Ok(files) => files,
            Err(e) => {
                let _ = listed_tx.send(Err(status_of(e)));
                return;
            }
        };
        if listed_tx.send(Ok(())).is_err() {
            return; // The call was given up meanwhile.
        }
        let mut batch = Batch::new(&tx);
        let streamed = stream_files(&store, &req.mailbox, &files, &mut batch);
        // What came before an error is the client's too.
        batch.flush();
        if let Err(status) = streamed {
            let _ = tx.blocking_send(Err(status));
        }
    })?;
    match listed_rx.await {
        Ok(Ok(())) => Ok(ReceiverStream::new(rx)),
        Ok(Err(status)) => Err(status),
        Err(_) => Err(crate::convert::server_bug(
            "the retrieval stopped before it began",
        )),
    }
}

/// Sends every listed message that is still there.
fn stream_files(
    store: &Store,
    mailbox: &str,
    files: &[MaildropFile],
    batch: &mut Batch<'_>,
) -> Result<(), Status> {
    for listed in files {
        let file = match store.open_maildrop_file(mailbox, listed) {
            Ok(file) => file,
            // Gone since the maildrop was opened: left out, and the
            // session tells its client so.
            Err(
                StoreError::Expunged { .. }
                | StoreError::NotFound { .. }
                | StoreError::MessageFileMissing { .. },
            ) => continue,
            Err(e) => return Err(status_of(e)),
        };
        if !send_message(batch, file, mailbox, listed)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Streams one message (its item with the first bytes, then the rest);
/// `Ok(false)` when the client has gone away, DATA_LOSS when the file's
/// size is not the index's.
fn send_message(
    batch: &mut Batch<'_>,
    mut file: File,
    mailbox: &str,
    listed: &MaildropFile,
) -> Result<bool, Status> {
    let data_loss = |what: &str| {
        let message = format!(
            "message UID {} in {mailbox:?}: file is {what} than the index's {} bytes (with CRLF line ends)",
            listed.uid, listed.size
        );
        tracing::error!(error = %message, "index and Maildir disagree");
        Status::data_loss(message)
    };
    let io_error = |e| {
        status_of(StoreError::io(
            format!("reading UID {} in {mailbox:?}", listed.uid),
            e,
        ))
    };
    let size = usize::try_from(listed.size).unwrap_or(usize::MAX);
    if size <= CHUNK_SIZE {
        // Most mail: the whole file in one read (it is no bigger than its
        // CRLF size), made CRLF only if it has bare LFs.
        let mut raw = Vec::with_capacity(size + 1);
        (&mut file)
            .take(listed.size + 1)
            .read_to_end(&mut raw)
            .map_err(io_error)?;
        let data = match to_crlf(&raw) {
            Cow::Borrowed(_) => raw,
            Cow::Owned(crlf) => crlf,
        };
        if data.len() != size {
            return Err(data_loss(if data.len() < size {
                "shorter"
            } else {
                "longer"
            }));
        }
        return Ok(batch.push(Item::Message(pb::RetrievedMessage {
            uid: listed.uid,
            size: listed.size,
            data,
        })));
    }
    let mut file = CrlfReader::new(file);
    let mut left = listed.size;
    let mut first = true;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK_SIZE).min(CHUNK_SIZE);
        let mut buf = Vec::with_capacity(want);
        let n = (&mut file)
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(io_error)?;
        if n < want {
            return Err(data_loss("shorter"));
        }
        left -= n as u64;
        let item = if first {
            first = false;
            Item::Message(pb::RetrievedMessage {
                uid: listed.uid,
                size: listed.size,
                data: buf,
            })
        } else {
            Item::More(buf)
        };
        if !batch.push(item) {
            return Ok(false);
        }
    }
    let mut probe = [0u8; 1];
    match file.read(&mut probe) {
        Ok(0) => Ok(true),
        Ok(_) => Err(data_loss("longer")),
        Err(e) => Err(io_error(e)),
    }
}

/// Items on their way to the client, sent in batches of about
/// [`CHUNK_SIZE`] bytes.
struct Batch<'a> {
    tx: &'a Sender,
    items: Vec<pb::RetrieveMaildropItem>,
    bytes: usize,
}

impl<'a> Batch<'a> {
    fn new(tx: &'a Sender) -> Batch<'a> {
        Batch {
            tx,
            items: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds `item`, sending the batch once it is full; `false` when the
    /// client has gone away.
    fn push(&mut self, item: Item) -> bool {
        self.bytes += 16
            + match &item {
                Item::Message(m) => m.data.len(),
                Item::More(data) => data.len(),
            };
        self.items
            .push(pb::RetrieveMaildropItem { item: Some(item) });
        if self.bytes >= CHUNK_SIZE {
            return self.flush();
        }
        true
    }

    /// Sends what is waiting; `false` when the client has gone away.
    fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::take(&mut self.items);
        self.bytes = 0;
        self.tx
            .blocking_send(Ok(pb::RetrieveMaildropResponse { items }))
            .is_ok()
    }
}

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

use crate::batch::{Batch, Batched};
use crate::body::IndexedMessage;
use crate::convert::status_of;
use crate::gate::Gate;

/// How many batches may wait for the client.
const QUEUE: usize = 4;

/// The stream of a Retrieve call.
pub(crate) type Retrieved = ReceiverStream<Result<pb::RetrieveMaildropResponse, Status>>;

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
        let mut answer = Answer(Some(listed_tx));
        let mut batch = Batch::new(&tx);
        let streamed = stream_files(&store, &req.mailbox, &files, &mut batch, &mut answer);
        // What came before an error is the client's too.
        batch.flush();
        // Nothing was sent (every message gone, or a failure first): the
        // call is answered now, and a failure ends its stream.
        if !answer.give() {
            return; // The call was given up meanwhile.
        }
        if let Err(status) = streamed {
            let _ = crate::client_wait::send_waiting(&tx, Err(status));
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

/// The call's answer (its stream may be read from then on), until it is
/// given.
struct Answer(Option<oneshot::Sender<Result<(), Status>>>);

impl Answer {
    /// Answers the call if it is not answered yet; `false` when it was
    /// given up meanwhile.
    fn give(&mut self) -> bool {
        match self.0.take() {
            Some(listed) => listed.send(Ok(())).is_ok(),
            None => true,
        }
    }
}

/// Sends every listed message that is still there. The first goes out
/// alone and before the call is answered, when it fits in one batch: its
/// bytes then leave in the same write as the response's headers (the
/// caller wakes once, not twice), and a RETR 1 waits for one file, not a
/// batch of them. A bigger one is answered first: its chunks could fill
/// the queue before anybody reads it.
fn stream_files(
    store: &Store,
    mailbox: &str,
    files: &[MaildropFile],
    batch: &mut Batch<'_, Item>,
    answer: &mut Answer,
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
        let alone = usize::try_from(listed.size).is_ok_and(|size| size <= CHUNK_SIZE);
        if !alone && !answer.give() {
            return Ok(());
        }
        if !send_message(batch, file, mailbox, listed)? {
            return Ok(());
        }
        if answer.0.is_some() && !(batch.flush() && answer.give()) {
            return Ok(());
        }
    }
    Ok(())
}

/// Streams one message (its item with the first bytes, then the rest);
/// `Ok(false)` when the client has gone away, DATA_LOSS when the file's
/// size is not the index's.
fn send_message(
    batch: &mut Batch<'_, Item>,
    mut file: File,
    mailbox: &str,
    listed: &MaildropFile,
) -> Result<bool, Status> {
    let message = IndexedMessage {
        mailbox,
        uid: listed.uid,
        size: listed.size,
    };
    let size = usize::try_from(listed.size).unwrap_or(usize::MAX);
    if size <= CHUNK_SIZE {
        // Most mail: the whole file in one read (it is no bigger than its
        // CRLF size), made CRLF only if it has bare LFs.
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
        return Ok(batch.push(Item::Message(pb::RetrievedMessage {
            uid: listed.uid,
            size: listed.size,
            data,
        })));
    }
    // A bigger one: its first chunk in the message's item, the rest as
    // more of it.
    let mut file = CrlfReader::new(file);
    let mut first = true;
    message.stream(&mut file, listed.size, |data| {
        let item = if std::mem::take(&mut first) {
            Item::Message(pb::RetrievedMessage {
                uid: listed.uid,
                size: listed.size,
                data,
            })
        } else {
            Item::More(data)
        };
        batch.push(item)
    })
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

//! Fetch: streams each requested message's metadata and, if asked, its
//! bytes in `CHUNK_SIZE` chunks, read from the file on a blocking thread
//! as the client takes them (bounded channel: no whole-message buffering).
//! Bytes are served with CRLF line ends whatever the file has, and the
//! size announced is that of the CRLF form (the index's size).

use std::io::Read;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::fetch_response::Item;
use mailkeep_store::{CrlfReader, MessageMeta, Store, StoreError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status};

use crate::convert::{fetched_msg, ranges, status_of};
use crate::gate::Gate;

/// How many stream items may wait for the client.
const QUEUE: usize = 4;

type Sender = mpsc::Sender<Result<pb::FetchResponse, Status>>;

/// Serves one admitted Fetch. Index errors (no such mailbox, stale
/// UIDVALIDITY) are the call's status; errors while streaming end the
/// stream with a status (DATA_LOSS when a file's size is not the index's).
pub(crate) async fn fetch(
    gate: &Gate,
    store: Store,
    req: pb::FetchRequest,
) -> Result<Response<ReceiverStream<Result<pb::FetchResponse, Status>>>, Status> {
    let uids = ranges(&req.uids);
    let lookup = store.clone();
    let mailbox = req.mailbox.clone();
    let owner = req.owner.clone();
    let metas = gate
        .run(&owner, move || {
            lookup.fetch(&mailbox, req.uidvalidity, &uids)
        })
        .await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let with_body = req.body;
    gate.spawn(&owner, move || {
        if let Err(status) = stream_messages(&store, &req.mailbox, metas, with_body, &tx) {
            // The client may be gone already; nothing more to do then.
            let _ = tx.blocking_send(Err(status));
        }
    })?;
    Ok(Response::new(ReceiverStream::new(rx)))
}

/// Sends `item`; `Ok(false)` when the client has gone away.
fn send(tx: &Sender, item: Item) -> bool {
    tx.blocking_send(Ok(pb::FetchResponse { item: Some(item) }))
        .is_ok()
}

fn stream_messages(
    store: &Store,
    mailbox: &str,
    metas: Vec<MessageMeta>,
    with_body: bool,
    tx: &Sender,
) -> Result<(), Status> {
    for meta in metas {
        if !with_body {
            if !send(tx, Item::Message(fetched_msg(&meta))) {
                return Ok(());
            }
            continue;
        }
        let (mut file, meta) = match store.open_message(mailbox, meta.uid) {
            Ok((file, meta)) => (CrlfReader::new(file), meta),
            // Expunged since the lookup: it is simply not there any more.
            Err(StoreError::Expunged { .. } | StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(status_of(e)),
        };
        if !send(tx, Item::Message(fetched_msg(&meta))) {
            return Ok(());
        }
        let mut left = meta.size;
        let data_loss = |what: &str| {
            let message = format!(
                "message UID {} in {mailbox:?}: file is {what} than the index's {} bytes (with CRLF line ends)",
                meta.uid, meta.size
            );
            tracing::error!(error = %message, "index and Maildir disagree");
            Status::data_loss(message)
        };
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(CHUNK_SIZE).min(CHUNK_SIZE);
            let mut buf = vec![0u8; want];
            let n = read_full(&mut file, &mut buf).map_err(|e| {
                status_of(StoreError::io(
                    format!("reading UID {} in {mailbox:?}", meta.uid),
                    e,
                ))
            })?;
            if n == 0 {
                return Err(data_loss("shorter"));
            }
            buf.truncate(n);
            left -= n as u64;
            if !send(tx, Item::BodyChunk(buf)) {
                return Ok(());
            }
        }
        let mut probe = [0u8; 1];
        match file.read(&mut probe) {
            Ok(0) => {}
            Ok(_) => return Err(data_loss("longer")),
            Err(e) => {
                return Err(status_of(StoreError::io(
                    format!("reading UID {} in {mailbox:?}", meta.uid),
                    e,
                )));
            }
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

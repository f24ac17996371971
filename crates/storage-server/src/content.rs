//! The Content gRPC service (issue 3, item 1): the envelope, body
//! structure and preview of messages as typed values, and body sections,
//! computed by the store on a blocking thread after the call is admitted
//! by the [`Gate`]. A large body section is read from its file as the
//! client takes it (at most [`QUEUE`] chunks wait), not held whole.

use std::sync::Arc;

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::content_server::{Content, ContentServer};
use mailkeep_store::{OpenedSection, SectionReader};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::batch::queued;
use crate::body::IndexedMessage;
use crate::convert::{cut_spec, ranges};
use crate::gate::{Admitted, Gate};
use crate::structure::Wanted;

/// Section data cut in memory is sent in chunks of this size.
const CHUNK: usize = 256 * 1024;

/// How many chunks of a section read from its file may wait for the
/// client: the memory a large section holds while it is sent.
const QUEUE: usize = 4;

/// How much of the queue a streamed section's client must have taken
/// before its file is read on.
const REFILL: usize = QUEUE / 2;

/// The Content service, for registration in the storage server.
pub(crate) fn server(gate: Arc<Gate>) -> ContentServer<ContentService> {
    ContentServer::new(ContentService { gate })
}

/// The Content service over the stores of the owners this process serves.
pub(crate) struct ContentService {
    gate: Arc<Gate>,
}

type ItemStream = tokio_stream::Iter<std::vec::IntoIter<Result<pb::StructureItem, Status>>>;
type ChunkStream = ReceiverStream<Result<pb::SectionChunk, Status>>;

#[tonic::async_trait]
impl Content for ContentService {
    type FetchStructureStream = ItemStream;
    type FetchSectionStream = ChunkStream;

    async fn fetch_structure(
        &self,
        request: Request<pb::FetchStructureRequest>,
    ) -> Result<Response<ItemStream>, Status> {
        let items = self
            .gate
            .serve(request, "FetchStructure", |store, r| {
                let metas = store.fetch(&r.mailbox, r.uidvalidity, &ranges(&r.uids))?;
                let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
                let mut items = Vec::with_capacity(uids.len());
                let wanted = Wanted {
                    envelope: r.want_envelope,
                    body_structure: r.want_body_structure,
                    preview: r.want_preview,
                };
                for (uid, s) in store.message_structures(&r.mailbox, r.uidvalidity, &uids)? {
                    items.push(Ok(wanted.item(uid, s)));
                }
                Ok(items)
            })
            .await?;
        Ok(Response::new(tokio_stream::iter(items)))
    }

    async fn fetch_section(
        &self,
        request: Request<pb::FetchSectionRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let Admitted {
            owner,
            store,
            req: r,
            ..
        } = self.gate.admit_call(request, "FetchSection").await?;
        let size_only = r.size_only;
        let cut = cut_spec(&pb::SectionCut {
            parts: r.parts.clone(),
            text: r.text,
            header_names: r.header_names.clone(),
            binary: r.binary,
            partial: r.partial,
            partial_offset: r.partial_offset,
            partial_count: r.partial_count,
            size_only,
        });
        let (mailbox, uid) = (r.mailbox.clone(), r.uid);
        let opened = self
            .gate
            .run(&owner, move || {
                store.open_section(&r.mailbox, r.uidvalidity, r.uid, cut)
            })
            .await?
            .map_err(|e| errors::status(ErrorReason::UnknownCte, e.to_string()))?;
        let reader = match opened {
            OpenedSection::Cut(data) => return Ok(Response::new(in_memory(data, size_only))),
            OpenedSection::Streamed(reader) => reader,
        };
        let first = pb::SectionChunk {
            total_size: reader.total(),
            data: Vec::new(),
            contains_nul: reader.contains_nul(),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        // Room for it was made, and the receiver is here.
        let _ = tx.try_send(Ok(first));
        if !size_only {
            let gate = Arc::clone(&self.gate);
            tokio::spawn(async move {
                send_from_file(&gate, &owner, reader, &tx, &mailbox, uid).await;
            });
        }
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// A section cut in memory as its chunks (only its size when that is all
/// that is wanted).
fn in_memory(data: Vec<u8>, size_only: bool) -> ChunkStream {
    let total_size = data.len() as u64;
    let contains_nul = data.contains(&0);
    let chunks: Vec<_> = if size_only || data.is_empty() {
        vec![pb::SectionChunk {
            total_size,
            data: Vec::new(),
            contains_nul,
        }]
    } else {
        data.chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| pb::SectionChunk {
                total_size: if i == 0 { total_size } else { 0 },
                data: c.to_vec(),
                contains_nul: i == 0 && contains_nul,
            })
            .collect()
    };
    queued(chunks.into_iter().map(Ok).collect())
}

/// Sends a streamed section's bytes as the client takes them. A store
/// thread reads chunk after chunk into the queue while the client keeps
/// up; when the queue is full it hands the reader back and is free, and
/// this task waits (on no thread) for the client to take one before the
/// next visit. So a slow client holds no store thread (it would count as
/// work and keep settled reads of every session off the calling thread),
/// while a fast one is sent to as before. A file that ends early ends the
/// stream with DATA_LOSS.
async fn send_from_file(
    gate: &Gate,
    owner: &str,
    mut reader: SectionReader,
    tx: &mpsc::Sender<Result<pb::SectionChunk, Status>>,
    mailbox: &str,
    uid: u32,
) {
    let message = IndexedMessage {
        mailbox,
        uid,
        size: reader.message_size(),
    };
    loop {
        let queue = tx.clone();
        let visit = gate
            .run_store(owner, move || {
                let step = fill(&mut reader, &queue);
                Ok((reader, step))
            })
            .await;
        let last = match visit {
            Ok(Ok((back, Visit::Full(chunk)))) => {
                // Waits for the client, on no thread, then reads on once
                // there is room for a few chunks (a visit per chunk would
                // cost a thread hand-over each while a client keeps up).
                reader = back;
                if tx.send(chunk).await.is_err() || tx.reserve_many(REFILL).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Ok((_, Visit::Ended))) => return,
            Ok(Ok((_, Visit::Unreadable(e)))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(message.data_loss("shorter"))
            }
            Ok(Ok((_, Visit::Unreadable(e)))) => Err(message.io_error(e)),
            Ok(Err(e)) => Err(crate::convert::status_of(e)),
            Err(status) => Err(status),
        };
        let _ = tx.send(last).await;
        return;
    }
}

/// How a store thread's visit to a streamed section ended.
enum Visit {
    /// The queue was full: this chunk waits for room.
    Full(Result<pb::SectionChunk, Status>),
    /// The section was sent whole, or the client went away.
    Ended,
    /// The file could not be read on.
    Unreadable(std::io::Error),
}

/// Reads `reader`'s chunks into `queue` while it has room (on a store
/// thread, never waiting).
fn fill(
    reader: &mut SectionReader,
    queue: &mpsc::Sender<Result<pb::SectionChunk, Status>>,
) -> Visit {
    loop {
        let data = match reader.next_chunk() {
            Ok(Some(data)) => data,
            Ok(None) => return Visit::Ended,
            Err(e) => return Visit::Unreadable(e),
        };
        let chunk = Ok(pb::SectionChunk {
            total_size: 0,
            data,
            contains_nul: false,
        });
        match queue.try_send(chunk) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(chunk)) => return Visit::Full(chunk),
            Err(mpsc::error::TrySendError::Closed(_)) => return Visit::Ended,
        }
    }
}

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

/// Sends a streamed section's bytes as the client takes them: each chunk
/// is read on a store thread only once the client has room for it, so a
/// slow client holds no store thread while it takes its time (it would
/// count as work and keep settled reads of every session off the calling
/// thread). A file that ends early ends the stream with DATA_LOSS.
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
        let Ok(room) = tx.reserve().await else {
            // The client has gone away.
            return;
        };
        // As many chunks as there is room for now, in one visit to a store
        // thread (this task is the channel's only sender, so the room
        // stays): a client that keeps up costs a visit per queue, not per
        // chunk.
        let wanted = 1 + tx.capacity();
        let read = gate
            .run_store(owner, move || {
                let mut chunks = Vec::with_capacity(wanted);
                let end = loop {
                    match reader.next_chunk() {
                        Ok(Some(data)) => {
                            chunks.push(data);
                            if chunks.len() == wanted {
                                break Ok(false);
                            }
                        }
                        Ok(None) => break Ok(true),
                        Err(e) => break Err(e),
                    }
                };
                Ok((reader, chunks, end))
            })
            .await;
        let (chunks, end) = match read {
            Ok(Ok((back, chunks, end))) => {
                reader = back;
                (chunks, end)
            }
            Ok(Err(e)) => return room.send(Err(crate::convert::status_of(e))),
            Err(status) => return room.send(Err(status)),
        };
        let mut room = Some(room);
        let finished = !matches!(end, Ok(false));
        let failure = match end {
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Some(message.data_loss("shorter"))
            }
            Err(e) => Some(message.io_error(e)),
        };
        let items = chunks
            .into_iter()
            .map(|data| {
                Ok(pb::SectionChunk {
                    total_size: 0,
                    data,
                    contains_nul: false,
                })
            })
            .chain(failure.map(Err));
        for item in items {
            match room.take() {
                Some(permit) => permit.send(item),
                // Room was there when the chunks were asked for.
                None => {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
            }
        }
        if finished {
            return;
        }
    }
}

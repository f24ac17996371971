//! The Content gRPC service (issue 3, item 1): the envelope, body
//! structure and preview of messages as typed values, and body sections,
//! computed by the store on a blocking thread after the call is admitted
//! by the [`Gate`]. A large body section is read from its file as the
//! client takes it (at most [`QUEUE`] chunks wait), not held whole.

use std::sync::Arc;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::content_server::{Content, ContentServer};
use mailkeep_store::{OpenedSection, SectionReader};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::batch::{Batched, Outbox, Piecewise, queued, send_piecewise};
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
            // Read as the client takes it, on store threads that never
            // wait for it (a slow client holds none).
            let gate = Arc::clone(&self.gate);
            let section = SectionFromFile {
                reader,
                mailbox,
                uid,
                out: Outbox::new(),
            };
            tokio::spawn(async move {
                send_piecewise(&gate, &owner, &tx, move || Ok(section)).await;
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

/// A section read from its file, a chunk at a time (see
/// [`send_piecewise`]); a file that ends early ends the stream with
/// DATA_LOSS.
struct SectionFromFile {
    reader: SectionReader,
    mailbox: String,
    uid: u32,
    out: Outbox<SectionPiece>,
}

impl Piecewise for SectionFromFile {
    type Item = SectionPiece;

    fn outbox(&mut self) -> &mut Outbox<SectionPiece> {
        &mut self.out
    }

    fn step(&mut self) {
        match self.reader.next_chunk() {
            Ok(Some(data)) => self.out.push(SectionPiece(data)),
            Ok(None) => self.out.close(),
            Err(e) => {
                let message = IndexedMessage {
                    mailbox: &self.mailbox,
                    uid: self.uid,
                    size: self.reader.message_size(),
                };
                let status = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    message.data_loss("shorter")
                } else {
                    message.io_error(e)
                };
                self.out.fail(status);
            }
        }
    }
}

/// A chunk of a streamed section: a stream message of its own (it
/// outweighs a batch).
struct SectionPiece(Vec<u8>);

impl Batched for SectionPiece {
    type Response = pb::SectionChunk;

    fn weight(&self) -> usize {
        self.0.len().max(CHUNK_SIZE)
    }

    fn response(pieces: Vec<SectionPiece>) -> pb::SectionChunk {
        let mut pieces = pieces.into_iter();
        let mut data = pieces.next().map(|p| p.0).unwrap_or_default();
        for piece in pieces {
            data.extend(piece.0);
        }
        pb::SectionChunk {
            total_size: 0,
            data,
            contains_nul: false,
        }
    }
}

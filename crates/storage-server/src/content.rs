//! The Content gRPC service (issue 3, item 1): the envelope, body
//! structure and preview of messages as typed values, and body sections,
//! computed by the store on a blocking thread after the call is admitted
//! by the [`Gate`].

use std::sync::Arc;

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::content_server::{Content, ContentServer};
use tonic::{Request, Response, Status};

use crate::convert::{cut_spec, ranges};
use crate::gate::{Admitted, Gate};
use crate::structure::Wanted;

/// Section data is sent in chunks of this size.
const CHUNK: usize = 256 * 1024;

/// The Content service, for registration in the storage server.
pub(crate) fn server(gate: Arc<Gate>) -> ContentServer<ContentService> {
    ContentServer::new(ContentService { gate })
}

/// The Content service over the stores of the owners this process serves.
pub(crate) struct ContentService {
    gate: Arc<Gate>,
}

type ItemStream = tokio_stream::Iter<std::vec::IntoIter<Result<pb::StructureItem, Status>>>;
type ChunkStream = tokio_stream::Iter<std::vec::IntoIter<Result<pb::SectionChunk, Status>>>;

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
        let data = self
            .gate
            .run(&owner, move || {
                if cut.binary {
                    store.binary_section(&r.mailbox, r.uidvalidity, r.uid, &cut.section)
                } else {
                    store
                        .section(&r.mailbox, r.uidvalidity, r.uid, &cut.section)
                        .map(Ok)
                }
            })
            .await?
            .map_err(|e| errors::status(ErrorReason::UnknownCte, e.to_string()))?;
        let total_size = data.len() as u64;
        let contains_nul = data.contains(&0);
        let mut chunks = Vec::with_capacity(data.len() / CHUNK + 1);
        if size_only || data.is_empty() {
            chunks.push(Ok(pb::SectionChunk {
                total_size,
                data: Vec::new(),
                contains_nul,
            }));
        } else {
            for (i, c) in data.chunks(CHUNK).enumerate() {
                chunks.push(Ok(pb::SectionChunk {
                    total_size: if i == 0 { total_size } else { 0 },
                    data: c.to_vec(),
                    contains_nul: i == 0 && contains_nul,
                }));
            }
        }
        Ok(Response::new(tokio_stream::iter(chunks)))
    }
}

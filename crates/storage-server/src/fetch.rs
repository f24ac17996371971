//! Fetch: streams each requested message's metadata, the sections asked
//! of every message and, if asked, its bytes in `CHUNK_SIZE` chunks, read
//! from the file on store threads as the client takes them (bounded
//! channel: no whole-message buffering, and no thread waits for a slow
//! client, see `fetch_producer`; a cut is made in memory). A small
//! Fetch of a settled mailbox whose structures are cached is answered
//! whole on the async thread instead (see [`INLINE_READ_BYTES`]).
//! Bytes are served with CRLF line ends whatever the file has, and the
//! size announced is that of the CRLF form (the index's size).

use std::collections::VecDeque;
use std::sync::Arc;

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_store::{MessageMeta, Store, Structure};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status};

use crate::batch::{Batched, queued, send_piecewise};
use crate::convert::{fetched_msg, ranges, status_of};
use crate::fetch_producer::{Cuts, Parts, Producer};
use crate::gate::Gate;
use crate::guest::Actor;
use crate::structure::Wanted;

/// How many stream items may wait for the client.
const QUEUE: usize = 4;

/// The most message bytes (bodies, or whole messages read for their
/// sections) a settled Fetch may read on the async thread: the three
/// bodies or twenty header sections of a mail client's usual fetches, a
/// few hundred microseconds of the one thread that decodes every call;
/// more goes to a store thread.
const INLINE_READ_BYTES: u64 = 256 * 1024;

/// Serves one admitted Fetch. Index errors (no such mailbox, stale
/// UIDVALIDITY) are the call's status; errors while streaming end the
/// stream with a status (DATA_LOSS when a file's size is not the index's).
/// The flags sent are those `actor` sees (a guest's own `\Seen`); a
/// settled read, which shows the owner's, serves the owner only.
pub(crate) async fn fetch(
    gate: &Arc<Gate>,
    store: Store,
    actor: Actor,
    req: pb::FetchRequest,
) -> Result<Response<ReceiverStream<Result<pb::FetchResponse, Status>>>, Status> {
    let uids = ranges(&req.uids);
    let lookup = store.clone();
    let mailbox = req.mailbox.clone();
    let owner = req.owner.clone();
    let with_body = req.body;
    let cuts = Cuts::new(&req.cuts);
    let wanted = Wanted {
        envelope: req.want_envelope,
        body_structure: req.want_body_structure,
        preview: req.want_preview,
    };
    let only_index = !with_body && cuts.specs.is_empty() && !wanted.any();
    let settled = match actor {
        Actor::Owner if wanted.any() => gate.run_settled(|| {
            store.fetch_with_structures_if_settled(&mailbox, req.uidvalidity, &uids)
        })?,
        Actor::Owner => gate
            .run_settled(|| store.fetch_if_settled(&mailbox, req.uidvalidity, &uids))?
            .map(|metas| (metas, None)),
        _ => None,
    };
    let metas = match settled {
        // A settled read is of a small mailbox: its answer is made here.
        Some((metas, _)) if only_index => {
            return Ok(Response::new(index_only(answer_of(&metas))));
        }
        Some((metas, cached)) => {
            let reads = if with_body || !cuts.specs.is_empty() {
                metas.iter().map(|m| m.size).sum()
            } else {
                0
            };
            // Small, and every structure wanted is cached: made here too
            // (the settled read ran here, so a core is free for it),
            // saving the hand-over to a store thread and the
            // wake-ups of its batches.
            // Every file there: a message appended moments ago gets its
            // file from the append journal under the write lock, which
            // this thread (every session's) must not wait for.
            let needs_files = reads > 0;
            if reads <= INLINE_READ_BYTES
                && (cached.is_some() || !wanted.any())
                && (!needs_files || store.files_present(&req.mailbox, &metas))
            {
                let parts = Parts {
                    with_body,
                    cuts,
                    wanted,
                };
                let structures = cached.unwrap_or_default().into();
                let producer = Producer::new(store, req.mailbox, metas, parts, structures);
                return Ok(Response::new(queued(producer.all())));
            }
            metas
        }
        None if only_index => {
            // Any number of messages: the answer is made on the store
            // thread, not on the process's one async thread.
            let answer = gate
                .run(&owner, move || {
                    lookup
                        .fetch_as(&mailbox, req.uidvalidity, &uids, actor.viewer())
                        .map(|metas| answer_of(&metas))
                })
                .await?;
            return Ok(Response::new(index_only(answer)));
        }
        None => {
            gate.run(&owner, move || {
                lookup.fetch_as(&mailbox, req.uidvalidity, &uids, actor.viewer())
            })
            .await?
        }
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let gate = Arc::clone(gate);
    tokio::spawn(async move {
        let parts = Parts {
            with_body,
            cuts,
            wanted,
        };
        let (uidvalidity, mailbox) = (req.uidvalidity, req.mailbox);
        send_piecewise(&gate, &owner, &tx, move || {
            let structures = structures(wanted, &store, &mailbox, uidvalidity, &metas)?;
            Ok(Producer::new(store, mailbox, metas, parts, structures))
        })
        .await;
    });
    Ok(Response::new(ReceiverStream::new(rx)))
}

/// The answer to a Fetch of index data alone (flags, sizes, dates,
/// MODSEQ, object ids: no bytes, sections or structures) about `metas`.
fn answer_of(metas: &[MessageMeta]) -> Vec<pb::FetchResponse> {
    crate::batch::batches(metas.iter().map(|m| Item::Message(fetched_msg(m))))
}

/// The answer to a Fetch of index data alone, as a stream. It is whole in
/// memory already, so it is queued at once instead of from a store thread:
/// a `FETCH 1:* (FLAGS)` costs no hand-over to a thread and back.
fn index_only(
    responses: Vec<pb::FetchResponse>,
) -> ReceiverStream<Result<pb::FetchResponse, Status>> {
    queued(responses.into_iter().map(Ok).collect())
}

impl Batched for Item {
    type Response = pb::FetchResponse;

    fn weight(&self) -> usize {
        match self {
            Item::BodyChunk(data) | Item::CutChunk(data) => data.len(),
            Item::Message(m) => 64 + m.flags.iter().map(String::len).sum::<usize>(),
            Item::CutStart(_) | Item::CutFailed(_) => 16,
            Item::Structure(_) => 512,
        }
    }

    fn response(items: Vec<Item>) -> pb::FetchResponse {
        pb::FetchResponse {
            items: items
                .into_iter()
                .map(|item| pb::FetchItem { item: Some(item) })
                .collect(),
        }
    }
}

/// The structures of `metas` when any part is `wanted` (cached ones in
/// one read, the rest parsed once), in the order of `metas` (a message
/// gone meanwhile has none).
fn structures(
    wanted: Wanted,
    store: &Store,
    mailbox: &str,
    uidvalidity: u32,
    metas: &[MessageMeta],
) -> Result<VecDeque<(u32, Structure)>, Status> {
    if !wanted.any() {
        return Ok(VecDeque::new());
    }
    let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
    let found = store
        .message_structures(mailbox, uidvalidity, &uids)
        .map_err(status_of)?;
    Ok(found.into_iter().collect())
}

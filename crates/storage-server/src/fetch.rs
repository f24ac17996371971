//! Fetch: streams each requested message's metadata, the sections asked
//! of every message and, if asked, its bytes in `CHUNK_SIZE` chunks, read
//! from the file on a blocking thread as the client takes them (bounded
//! channel: no whole-message buffering; a cut is made in memory). A small
//! Fetch of a settled mailbox whose structures are cached is answered
//! whole on the async thread instead (see [`INLINE_READ_BYTES`]).
//! Bytes are served with CRLF line ends whatever the file has, and the
//! size announced is that of the CRLF form (the index's size).

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use std::collections::VecDeque;

use mailkeep_store::{
    CrlfReader, CutSpec, ListedCut, MessageMeta, Store, StoreError, Structure, UnknownCte,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status};

use crate::batch::{Batch, Batched, queued};
use crate::body::IndexedMessage;
use crate::convert::{cut_spec, fetched_msg, ranges, status_of};
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

type Sender = crate::batch::Sender<Item>;

/// Serves one admitted Fetch. Index errors (no such mailbox, stale
/// UIDVALIDITY) are the call's status; errors while streaming end the
/// stream with a status (DATA_LOSS when a file's size is not the index's).
/// The flags sent are those `actor` sees (a guest's own `\Seen`); a
/// settled read, which shows the owner's, serves the owner only.
pub(crate) async fn fetch(
    gate: &Gate,
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
            if reads <= INLINE_READ_BYTES && (cached.is_some() || !wanted.any()) {
                let parts = Parts {
                    with_body,
                    cuts: &cuts,
                    wanted,
                };
                let structures = cached.unwrap_or_default().into();
                let mut batch = Batch::in_memory();
                let streamed =
                    stream_batched(&store, &req.mailbox, metas, &parts, structures, &mut batch);
                let mut answer: Vec<_> = batch.into_responses().into_iter().map(Ok).collect();
                if let Err(status) = streamed {
                    answer.push(Err(status));
                }
                return Ok(Response::new(queued(answer)));
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
    gate.spawn(&owner, move || {
        let parts = Parts {
            with_body,
            cuts: &cuts,
            wanted,
        };
        let streamed = structures(wanted, &store, &req.mailbox, req.uidvalidity, &metas).and_then(
            |structures| stream_messages(&store, &req.mailbox, metas, &parts, structures, &tx),
        );
        if let Err(status) = streamed {
            // The client may be gone already; nothing more to do then.
            let _ = crate::client_wait::send_waiting(&tx, Err(status));
        }
    })?;
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

/// What a Fetch sends of every message besides its metadata.
struct Parts<'a> {
    with_body: bool,
    cuts: &'a Cuts,
    wanted: Wanted,
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

fn stream_messages(
    store: &Store,
    mailbox: &str,
    metas: Vec<MessageMeta>,
    parts: &Parts<'_>,
    structures: VecDeque<(u32, Structure)>,
    tx: &Sender,
) -> Result<(), Status> {
    let mut batch = Batch::new(tx);
    let streamed = stream_batched(store, mailbox, metas, parts, structures, &mut batch);
    // What came before an error is the client's too.
    batch.flush();
    streamed
}

/// Adds each message's items to `batch` (see [`stream_messages`]).
fn stream_batched(
    store: &Store,
    mailbox: &str,
    metas: Vec<MessageMeta>,
    parts: &Parts<'_>,
    mut structures: VecDeque<(u32, Structure)>,
    batch: &mut Batch<'_, Item>,
) -> Result<(), Status> {
    let (with_body, cuts) = (parts.with_body, parts.cuts);
    for meta in metas {
        let cut = if cuts.specs.is_empty() {
            None
        } else {
            match store.cut_listed(mailbox, &meta, &cuts.specs, &cuts.size_only) {
                Ok(cut) => Some(cut),
                // Expunged since the lookup: it is simply not there any more.
                Err(StoreError::Expunged { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(status_of(e)),
            }
        };
        let (body, meta) = if with_body {
            match store.open_listed(mailbox, &meta) {
                Ok((file, meta)) => (Some(CrlfReader::new(file)), meta),
                Err(StoreError::Expunged { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(status_of(e)),
            }
        } else {
            (None, meta)
        };
        if !batch.push(Item::Message(fetched_msg(&meta))) {
            return Ok(());
        }
        if let Some(s) = next_structure(&mut structures, meta.uid)
            && !batch.push(Item::Structure(parts.wanted.item(meta.uid, s)))
        {
            return Ok(());
        }
        if let Some(cut) = cut
            && !send_cuts(batch, cut, &cuts.size_only)
        {
            return Ok(());
        }
        if let Some(file) = body
            && !send_body(batch, file, mailbox, &meta)?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// The structure of message `uid` from `structures` (in the order of the
/// messages streamed, so it is at the front; those of messages passed
/// over are dropped), without a map of them all.
fn next_structure(structures: &mut VecDeque<(u32, Structure)>, uid: u32) -> Option<Structure> {
    loop {
        match structures.front().map(|(u, _)| *u) {
            Some(u) if u < uid => drop(structures.pop_front()),
            Some(u) if u == uid => return structures.pop_front().map(|(_, s)| s),
            _ => return None,
        }
    }
}

/// The cuts every message of a Fetch is asked for.
struct Cuts {
    specs: Vec<CutSpec>,
    /// Per cut: only its size is wanted (BINARY.SIZE).
    size_only: Vec<bool>,
}

impl Cuts {
    fn new(cuts: &[pb::SectionCut]) -> Cuts {
        Cuts {
            specs: cuts.iter().map(cut_spec).collect(),
            size_only: cuts.iter().map(|c| c.size_only).collect(),
        }
    }
}

/// Sends one message's cuts (sizes, then data unless only the size is
/// wanted) or why they could not be made; `false` when the client has
/// gone away.
fn send_cuts(
    batch: &mut Batch<'_, Item>,
    cut: Result<Vec<ListedCut>, UnknownCte>,
    size_only: &[bool],
) -> bool {
    let cuts = match cut {
        Ok(cuts) => cuts,
        Err(e) => {
            return batch.push(Item::CutFailed(pb::CutFailed {
                reason: ErrorReason::UnknownCte as i32,
                message: e.to_string(),
            }));
        }
    };
    for (cut, &size_only) in cuts.into_iter().zip(size_only) {
        let (start, data) = match cut {
            ListedCut::Bytes(data) => (
                pb::CutStart {
                    total_size: data.len() as u64,
                    contains_nul: data.contains(&0),
                },
                data,
            ),
            ListedCut::Measured {
                total,
                contains_nul,
            } => (
                pb::CutStart {
                    total_size: total,
                    contains_nul,
                },
                Vec::new(),
            ),
        };
        if !batch.push(Item::CutStart(start)) {
            return false;
        }
        if size_only {
            continue;
        }
        for chunk in data.chunks(CHUNK_SIZE) {
            if !batch.push(Item::CutChunk(chunk.to_vec())) {
                return false;
            }
        }
    }
    true
}

/// Streams one message's bytes (CRLF) in chunks; `Ok(false)` when the
/// client has gone away, DATA_LOSS when the file's size is not the
/// index's.
fn send_body(
    batch: &mut Batch<'_, Item>,
    mut file: CrlfReader<std::fs::File>,
    mailbox: &str,
    meta: &MessageMeta,
) -> Result<bool, Status> {
    let message = IndexedMessage {
        mailbox,
        uid: meta.uid,
        size: meta.size,
    };
    message.stream(&mut file, meta.size, |chunk| {
        batch.push(Item::BodyChunk(chunk))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn structure(n: u32) -> Structure {
        mailkeep_store::parse_structure(format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes())
    }

    #[test]
    fn each_message_gets_its_own_structure_or_none() {
        let mut queue: VecDeque<(u32, Structure)> = [1, 3, 5, 7]
            .into_iter()
            .map(|u| (u, structure(u)))
            .collect();
        let subject = |s: Option<Structure>| s.and_then(|s| s.envelope.subject);
        assert_eq!(subject(next_structure(&mut queue, 1)), Some(b"1".to_vec()));
        // A message without one (gone before it was parsed).
        assert_eq!(subject(next_structure(&mut queue, 2)), None);
        assert_eq!(subject(next_structure(&mut queue, 3)), Some(b"3".to_vec()));
        // Message 5 was passed over (expunged while streaming): 7 still
        // gets its own.
        assert_eq!(subject(next_structure(&mut queue, 7)), Some(b"7".to_vec()));
        assert!(queue.is_empty());
        assert_eq!(subject(next_structure(&mut queue, 9)), None);
    }
}

//! A Fetch's answer made a piece at a time: each message's metadata,
//! structure and cuts, then its bytes chunk by chunk, batched into stream
//! messages (see `batch`). A streamed answer is made on a store thread
//! while the client has room for it and put aside when it has none
//! ([`Piecewise::fill`]): the thread is then free, and the next visit goes
//! on where this one stopped, so a slow client holds no store thread. A
//! small answer is made whole at once ([`Producer::all`]).

use std::collections::VecDeque;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_store::{
    CrlfReader, CutSpec, ListedCut, MessageMeta, Store, StoreError, Structure, UnknownCte,
};
use tonic::Status;

use crate::batch::{Outbox, Piecewise};
use crate::body::{IndexedMessage, Unsent};
use crate::convert::{cut_spec, fetched_msg, status_of};
use crate::structure::Wanted;

/// The cuts every message of a Fetch is asked for.
pub(crate) struct Cuts {
    pub(crate) specs: Vec<CutSpec>,
    /// Per cut: only its size is wanted (BINARY.SIZE).
    pub(crate) size_only: Vec<bool>,
}

impl Cuts {
    pub(crate) fn new(cuts: &[pb::SectionCut]) -> Cuts {
        Cuts {
            specs: cuts.iter().map(cut_spec).collect(),
            size_only: cuts.iter().map(|c| c.size_only).collect(),
        }
    }
}

/// What a Fetch sends of every message besides its metadata.
pub(crate) struct Parts {
    pub(crate) with_body: bool,
    pub(crate) cuts: Cuts,
    pub(crate) wanted: Wanted,
}

/// A Fetch's answer still to be made and sent.
pub(crate) struct Producer {
    store: Store,
    mailbox: String,
    /// Messages not started yet.
    metas: VecDeque<MessageMeta>,
    parts: Parts,
    /// The wanted structures, in the order of `metas`.
    structures: VecDeque<(u32, Structure)>,
    /// The message whose bytes are being sent.
    body: Option<Unsent>,
    out: Outbox<Item>,
}

impl Producer {
    /// The answer about `metas` (in UID order) of `mailbox`, with
    /// `structures` (those wanted, in the same order; a message without
    /// one gets none).
    pub(crate) fn new(
        store: Store,
        mailbox: String,
        metas: Vec<MessageMeta>,
        parts: Parts,
        structures: VecDeque<(u32, Structure)>,
    ) -> Producer {
        Producer {
            store,
            mailbox,
            metas: metas.into(),
            parts,
            structures,
            body: None,
            out: Outbox::new(),
        }
    }

    /// The whole answer, its error (if any) last.
    pub(crate) fn all(mut self) -> Vec<Result<pb::FetchResponse, Status>> {
        while !self.out.is_closed() {
            self.next_piece();
        }
        self.out.into_answer()
    }

    /// Makes the next piece: a chunk of the bytes being sent, or the next
    /// message's items; closes the answer when nothing is left to make, or
    /// ends it with a failure.
    fn next_piece(&mut self) {
        if let Some(body) = &mut self.body {
            match body.next_chunk(&self.mailbox) {
                Ok(Some(data)) => self.out.push(Item::BodyChunk(data)),
                Ok(None) => {}
                Err(status) => return self.fail(status),
            }
            if body.is_done() {
                self.body = None;
            }
            return;
        }
        let Some(meta) = self.metas.pop_front() else {
            return self.out.close();
        };
        if let Err(status) = self.start(meta) {
            self.fail(status);
        }
    }

    /// One message's metadata, structure and cuts, and its file to send
    /// (with the body); nothing for a message expunged meanwhile.
    fn start(&mut self, meta: MessageMeta) -> Result<(), Status> {
        let Parts {
            with_body, cuts, ..
        } = &self.parts;
        let cut = if cuts.specs.is_empty() {
            None
        } else {
            match self
                .store
                .cut_listed(&self.mailbox, &meta, &cuts.specs, &cuts.size_only)
            {
                Ok(cut) => Some(cut),
                // Expunged since the lookup: it is simply not there any more.
                Err(StoreError::Expunged { .. } | StoreError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(status_of(e)),
            }
        };
        let (file, meta) = if *with_body {
            match self.store.open_listed(&self.mailbox, &meta) {
                Ok((file, meta)) => (Some(CrlfReader::new(file)), meta),
                Err(StoreError::Expunged { .. } | StoreError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(status_of(e)),
            }
        } else {
            (None, meta)
        };
        self.out.push(Item::Message(fetched_msg(&meta)));
        if let Some(s) = next_structure(&mut self.structures, meta.uid) {
            let item = self.parts.wanted.item(meta.uid, s);
            self.out.push(Item::Structure(item));
        }
        if let Some(cut) = cut {
            self.push_cuts(cut);
        }
        if let Some(mut file) = file {
            if meta.size == 0 {
                let message = IndexedMessage {
                    mailbox: &self.mailbox,
                    uid: meta.uid,
                    size: 0,
                };
                message.check_ends(&mut file)?;
            } else {
                self.body = Some(Unsent::new(file, meta.uid, meta.size));
            }
        }
        Ok(())
    }

    /// One message's cuts (sizes, then data unless only the size is
    /// wanted), or why they could not be made.
    fn push_cuts(&mut self, cut: Result<Vec<ListedCut>, UnknownCte>) {
        let cuts = match cut {
            Ok(cuts) => cuts,
            Err(e) => {
                return self.out.push(Item::CutFailed(pb::CutFailed {
                    reason: ErrorReason::UnknownCte as i32,
                    message: e.to_string(),
                }));
            }
        };
        let size_only = self.parts.cuts.size_only.clone();
        for (cut, size_only) in cuts.into_iter().zip(size_only) {
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
            self.out.push(Item::CutStart(start));
            if size_only {
                continue;
            }
            for chunk in data.chunks(CHUNK_SIZE) {
                self.out.push(Item::CutChunk(chunk.to_vec()));
            }
        }
    }

    /// Ends the answer with `status`, after what was made before it.
    fn fail(&mut self, status: Status) {
        self.body = None;
        self.out.fail(status);
    }
}

impl Piecewise for Producer {
    type Item = Item;

    fn outbox(&mut self) -> &mut Outbox<Item> {
        &mut self.out
    }

    fn step(&mut self) {
        self.next_piece();
    }
}

/// The structure of message `uid` from `structures` (in the order of the
/// messages streamed, so it is at the front; those of messages passed
/// over are dropped), without a map of them all.
pub(crate) fn next_structure(
    structures: &mut VecDeque<(u32, Structure)>,
    uid: u32,
) -> Option<Structure> {
    loop {
        match structures.front().map(|(u, _)| *u) {
            Some(u) if u < uid => drop(structures.pop_front()),
            Some(u) if u == uid => return structures.pop_front().map(|(_, s)| s),
            _ => return None,
        }
    }
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

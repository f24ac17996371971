//! Reading a Fetch stream one item at a time, whatever batches storage
//! grouped the items in (see `FetchResponse` in storage.proto).

use std::collections::VecDeque;

use tonic::{Status, Streaming};

use crate::storage::{FetchResponse, StructureItem, fetch_item::Item};

/// A Fetch stream as the sequence of its items, in order.
pub struct FetchItems {
    stream: Streaming<FetchResponse>,
    queue: VecDeque<Item>,
}

impl FetchItems {
    /// Reads `stream` item by item.
    pub fn new(stream: Streaming<FetchResponse>) -> FetchItems {
        FetchItems {
            stream,
            queue: VecDeque::new(),
        }
    }

    /// The next item; `None` at the end of the stream, the call's status
    /// when storage ended it with an error.
    pub async fn next(&mut self) -> Result<Option<Item>, Status> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            match self.stream.message().await? {
                None => return Ok(None),
                Some(batch) => self
                    .queue
                    .extend(batch.items.into_iter().filter_map(|i| i.item)),
            }
        }
    }

    /// The structure of message `uid`, when storage sent one right after
    /// the message's metadata (a Fetch that asked for structure parts);
    /// otherwise `None`, and the next item stays for [`FetchItems::next`].
    pub async fn structure_of(&mut self, uid: u32) -> Result<Option<StructureItem>, Status> {
        while self.queue.is_empty() {
            match self.stream.message().await? {
                None => return Ok(None),
                Some(batch) => self
                    .queue
                    .extend(batch.items.into_iter().filter_map(|i| i.item)),
            }
        }
        match self.queue.front() {
            Some(Item::Structure(s)) if s.uid == uid => match self.queue.pop_front() {
                Some(Item::Structure(s)) => Ok(Some(s)),
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }
}

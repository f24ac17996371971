//! Reading a Fetch stream one item at a time, whatever batches storage
//! grouped the items in (see `FetchResponse` in storage.proto).

use std::collections::VecDeque;

use tonic::{Status, Streaming};

use crate::storage::{FetchResponse, fetch_item::Item};

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
}

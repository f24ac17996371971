//! Reading a streamed answer one item at a time, whatever batches storage
//! grouped the items in (see `FetchResponse` in storage.proto and
//! `RetrieveMaildropResponse` in maildrop.proto).

use std::collections::VecDeque;

use tonic::{Status, Streaming};

use crate::storage::{
    FetchResponse, RetrieveMaildropResponse, StructureItem, fetch_item::Item,
    retrieve_maildrop_item,
};

/// A stream message that carries a batch of items.
pub trait ItemBatch {
    /// One item of the batch.
    type Item;
    /// The batch's items, in order.
    fn into_items(self) -> impl Iterator<Item = Self::Item>;
}

impl ItemBatch for FetchResponse {
    type Item = Item;

    fn into_items(self) -> impl Iterator<Item = Item> {
        self.items.into_iter().filter_map(|i| i.item)
    }
}

impl ItemBatch for RetrieveMaildropResponse {
    type Item = retrieve_maildrop_item::Item;

    fn into_items(self) -> impl Iterator<Item = retrieve_maildrop_item::Item> {
        self.items.into_iter().filter_map(|i| i.item)
    }
}

/// A streamed answer as the sequence of its items, in order.
pub struct BatchedItems<B: ItemBatch> {
    stream: Streaming<B>,
    queue: VecDeque<B::Item>,
}

impl<B: ItemBatch> BatchedItems<B> {
    /// Reads `stream` item by item.
    pub fn new(stream: Streaming<B>) -> BatchedItems<B> {
        BatchedItems {
            stream,
            queue: VecDeque::new(),
        }
    }

    /// The next item; `None` at the end of the stream, the call's status
    /// when storage ended it with an error.
    pub async fn next(&mut self) -> Result<Option<B::Item>, Status> {
        self.fill().await?;
        Ok(self.queue.pop_front())
    }

    /// Takes the next item if `wanted` says so (it stays for
    /// [`BatchedItems::next`] otherwise).
    pub async fn next_if(
        &mut self,
        wanted: impl FnOnce(&B::Item) -> bool,
    ) -> Result<Option<B::Item>, Status> {
        self.fill().await?;
        Ok(self.queue.pop_front_if(|item| wanted(item)))
    }

    /// Reads batches until an item waits or the stream ends.
    async fn fill(&mut self) -> Result<(), Status> {
        while self.queue.is_empty() {
            match self.stream.message().await? {
                None => return Ok(()),
                Some(batch) => self.queue.extend(batch.into_items()),
            }
        }
        Ok(())
    }
}

/// A Fetch stream as the sequence of its items, in order.
pub struct FetchItems {
    items: BatchedItems<FetchResponse>,
}

impl FetchItems {
    /// Reads `stream` item by item.
    pub fn new(stream: Streaming<FetchResponse>) -> FetchItems {
        FetchItems {
            items: BatchedItems::new(stream),
        }
    }

    /// The next item; `None` at the end of the stream, the call's status
    /// when storage ended it with an error.
    pub async fn next(&mut self) -> Result<Option<Item>, Status> {
        self.items.next().await
    }

    /// The structure of message `uid`, when storage sent one right after
    /// the message's metadata (a Fetch that asked for structure parts);
    /// otherwise `None`, and the next item stays for [`FetchItems::next`].
    pub async fn structure_of(&mut self, uid: u32) -> Result<Option<StructureItem>, Status> {
        let taken = self
            .items
            .next_if(|item| matches!(item, Item::Structure(s) if s.uid == uid))
            .await?;
        Ok(match taken {
            Some(Item::Structure(s)) => Some(s),
            _ => None,
        })
    }
}

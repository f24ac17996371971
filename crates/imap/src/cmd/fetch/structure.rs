//! ENVELOPE, BODY, BODYSTRUCTURE and PREVIEW from the Content service's
//! structure stream, joined to the Fetch stream by UID (both come in UID
//! order, skipping UIDs that do not exist).

use mailkeep_imap_proto::FetchResponse;
use mailkeep_storage_rpc::storage::StructureItem;
use tonic::{Status, Streaming};

use super::plan::Item;

/// The structure stream of one FETCH.
pub(super) struct Structures {
    stream: Streaming<StructureItem>,
    /// An item read ahead (for a UID later than the one asked).
    ahead: Option<StructureItem>,
}

impl Structures {
    /// Wraps the stream.
    pub(super) fn new(stream: Streaming<StructureItem>) -> Structures {
        Structures {
            stream,
            ahead: None,
        }
    }

    /// The structure of message `uid`, if storage sent one.
    pub(super) async fn take(&mut self, uid: u32) -> Result<Option<StructureItem>, Status> {
        loop {
            let item = match self.ahead.take() {
                Some(item) => item,
                None => match self.stream.message().await? {
                    Some(item) => item,
                    None => return Ok(None),
                },
            };
            if item.uid == uid {
                return Ok(Some(item));
            }
            if item.uid > uid {
                self.ahead = Some(item);
                return Ok(None);
            }
        }
    }
}

/// Adds a structure item to the response (NIL when storage had none).
pub(super) fn write(response: &mut FetchResponse, item: &Item, structure: Option<&StructureItem>) {
    match (item, structure) {
        (Item::Envelope, Some(s)) => {
            response.envelope(&s.envelope);
        }
        (Item::Body, Some(s)) => {
            response.body(&s.body);
        }
        (Item::BodyStructure, Some(s)) => {
            response.body_structure(&s.bodystructure);
        }
        (Item::Preview, Some(s)) => {
            response.preview(Some(&s.preview));
        }
        (Item::Preview, None) => {
            response.preview(None);
        }
        (Item::Envelope, None) => {
            response.nil("ENVELOPE");
        }
        (Item::Body, None) => {
            response.nil("BODY");
        }
        (Item::BodyStructure, None) => {
            response.nil("BODYSTRUCTURE");
        }
        _ => {}
    }
}

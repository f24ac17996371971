//! FETCH and UID FETCH: flags, UID, size, internal date and whole-message
//! bodies streamed from storage to the client chunk by chunk.

use mailkeep_imap_proto::{DateTime, FetchAttribute, FetchResponse, SequenceSet};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::{
    FetchRequest, FetchedMessage, StoreFlagsRequest, StoreMode, fetch_response,
};
use tonic::Streaming;

use crate::backend::Backend;
use crate::errors::{Context, ImapError, Reply, call_reply};
use crate::mailbox::{ranges, set_reply};
use crate::session::Session;

/// One item of a FETCH plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// FLAGS
    Flags,
    /// UID
    Uid,
    /// RFC822.SIZE
    Size,
    /// INTERNALDATE
    Date,
    /// MODSEQ
    ModSeq,
    /// The whole message or a byte range of it, under a response name.
    Body {
        /// `BODY[]`, `BODY[]<0>` or `RFC822`.
        name: String,
        /// `<offset.count>`.
        partial: Option<(u64, u64)>,
    },
}

/// What a FETCH will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Items in response order.
    pub items: Vec<Item>,
    /// Set \Seen on the messages first.
    pub set_seen: bool,
}

impl Plan {
    /// How many body items the plan has.
    fn bodies(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i, Item::Body { .. }))
            .count()
    }
}

/// Turns the requested attributes into a plan; `Err` names what is not
/// supported yet.
pub(crate) fn plan(
    attributes: &[FetchAttribute],
    uid: bool,
    read_only: bool,
    modseq: bool,
) -> Result<Plan, &'static str> {
    let mut items = Vec::new();
    let mut set_seen = false;
    if uid {
        items.push(Item::Uid);
    }
    for attribute in attributes {
        let item = match attribute {
            FetchAttribute::Flags => Item::Flags,
            FetchAttribute::Uid => Item::Uid,
            FetchAttribute::Rfc822Size => Item::Size,
            FetchAttribute::InternalDate => Item::Date,
            FetchAttribute::ModSeq => Item::ModSeq,
            FetchAttribute::Rfc822 => {
                set_seen = true;
                Item::Body {
                    name: "RFC822".into(),
                    partial: None,
                }
            }
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            } if section.part.is_empty() && section.text.is_none() => {
                set_seen |= !peek;
                let name = match partial {
                    Some((offset, _)) => format!("BODY[]<{offset}>"),
                    None => "BODY[]".to_string(),
                };
                Item::Body {
                    name,
                    partial: *partial,
                }
            }
            FetchAttribute::Envelope => return Err("ENVELOPE"),
            FetchAttribute::Body | FetchAttribute::BodyStructure => return Err("BODYSTRUCTURE"),
            FetchAttribute::Rfc822Header | FetchAttribute::Rfc822Text => {
                return Err("RFC822.HEADER and RFC822.TEXT");
            }
            FetchAttribute::BodySection { .. } => return Err("body sections"),
            FetchAttribute::BinarySection { .. } | FetchAttribute::BinarySize { .. } => {
                return Err("BINARY");
            }
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if modseq && !items.contains(&Item::ModSeq) {
        items.push(Item::ModSeq);
    }
    let set_seen = set_seen && !read_only;
    if set_seen && !items.contains(&Item::Flags) {
        items.push(Item::Flags);
    }
    Ok(Plan { items, set_seen })
}

/// The byte range `[start, start+len)` a partial fetch sends of a message
/// of `size` bytes.
pub(crate) fn window(partial: Option<(u64, u64)>, size: u64) -> (u64, u64) {
    match partial {
        None => (0, size),
        Some((offset, count)) => {
            let start = offset.min(size);
            (start, count.min(size - start))
        }
    }
}

/// The part of a chunk at stream offset `at` that falls in the window.
pub(crate) fn clip(chunk: &[u8], at: u64, (start, len): (u64, u64)) -> &[u8] {
    let end = start + len;
    let chunk_end = at + chunk.len() as u64;
    let from = start.max(at);
    let to = end.min(chunk_end);
    if from >= to {
        return &[];
    }
    let (a, b) = ((from - at) as usize, (to - at) as usize);
    &chunk[a..b]
}

impl<B: Backend> Session<B> {
    /// FETCH / UID FETCH.
    pub async fn fetch(
        &mut self,
        set: &SequenceSet,
        attributes: &[FetchAttribute],
        uid: bool,
        changed_since: Option<u64>,
    ) -> Result<Reply, ImapError> {
        let Some(view) = &self.view else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let plan = match plan(attributes, uid, view.read_only, changed_since.is_some()) {
            Ok(plan) => plan,
            Err(what) => return Ok(Reply::no(&format!("FETCH of {what} is not supported yet"))),
        };
        let uids = match view.resolve(set, uid) {
            Ok(uids) => uids,
            Err(e) => return Ok(set_reply(e)),
        };
        if uids.is_empty() {
            return Ok(Reply::ok("Fetch completed."));
        }
        let (mailbox, uidvalidity) = (view.mailbox.clone(), view.uidvalidity);
        let owner = self.owner();
        if plan.set_seen {
            let unseen: Vec<u32> = uids
                .iter()
                .copied()
                .filter(|&u| {
                    !view
                        .flags_of(u)
                        .is_some_and(|f| f.iter().any(|x| x.eq_ignore_ascii_case("\\Seen")))
                })
                .collect();
            if !unseen.is_empty() {
                let request = StoreFlagsRequest {
                    owner: owner.clone(),
                    mailbox: mailbox.clone(),
                    uidvalidity,
                    uids: ranges(&unseen),
                    mode: StoreMode::Add as i32,
                    flags: vec!["\\Seen".into()],
                    unchanged_since: 0,
                };
                let result = self
                    .call(true, |mut client, ticket| {
                        let request = with_ticket(request.clone(), ticket);
                        async move { client.store_flags(request).await }
                    })
                    .await;
                match result {
                    Ok(response) => {
                        if let Some(view) = self.view.as_mut() {
                            for m in response.updated {
                                view.set_flags(m.uid, m.flags);
                            }
                        }
                    }
                    Err(e) => return Ok(call_reply(&e, Context::Other)),
                }
            }
        }
        let body = plan.bodies() > 0;
        let request = FetchRequest {
            owner,
            mailbox,
            uidvalidity,
            uids: ranges(&uids),
            body,
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.fetch(request).await }
            })
            .await;
        let mut stream = match result {
            Ok(stream) => stream,
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        loop {
            let message = match stream.message().await {
                Ok(Some(response)) => match response.item {
                    Some(fetch_response::Item::Message(message)) => message,
                    _ => return Err(ImapError::Broken("body chunk without a message".into())),
                },
                Ok(None) => break,
                Err(status) => return Ok(crate::errors::status_reply(&status, Context::Other)),
            };
            self.fetch_one(&plan, message, body, changed_since, &mut stream)
                .await?;
        }
        Ok(Reply::ok("Fetch completed."))
    }

    /// Sends one message's FETCH response, reading its body from `stream`
    /// (always all `size` bytes when `body`, so the stream stays in step).
    async fn fetch_one(
        &mut self,
        plan: &Plan,
        message: FetchedMessage,
        body: bool,
        changed_since: Option<u64>,
        stream: &mut Streaming<mailkeep_storage_rpc::storage::FetchResponse>,
    ) -> Result<(), ImapError> {
        let seq = self.view.as_ref().and_then(|v| v.seq_of(message.uid));
        let skip = seq.is_none() || changed_since.is_some_and(|c| message.modseq <= c);
        let Some(seq) = seq.filter(|_| !skip) else {
            if body {
                let mut left = message.size;
                while left > 0 {
                    let chunk = next_chunk(stream, left).await?;
                    left -= chunk.len() as u64;
                }
            }
            return Ok(());
        };
        if plan.items.contains(&Item::Flags)
            && let Some(view) = self.view.as_mut()
        {
            view.set_flags(message.uid, message.flags.clone());
        }
        // With several body items the body is held once; with one it streams.
        let mut held: Option<Vec<u8>> = None;
        if plan.bodies() > 1 {
            let mut all =
                Vec::with_capacity(usize::try_from(message.size).unwrap_or(0).min(1 << 26));
            while (all.len() as u64) < message.size {
                let chunk = next_chunk(stream, message.size - all.len() as u64).await?;
                all.extend_from_slice(&chunk);
            }
            held = Some(all);
        }
        let mut response = FetchResponse::new(seq);
        for item in &plan.items {
            match item {
                Item::Uid => {
                    response.uid(message.uid);
                }
                Item::Flags => {
                    response.flags(&message.flags);
                }
                Item::Size => {
                    response.rfc822_size(message.size);
                }
                Item::Date => {
                    response.internal_date(DateTime {
                        unix: message.internal_date,
                        offset_minutes: message.internal_date_offset_minutes,
                    });
                }
                Item::ModSeq => {
                    response.modseq(message.modseq);
                }
                Item::Body { name, partial } => {
                    let (start, len) = window(*partial, message.size);
                    response.literal_header(name, len);
                    let head = response.take();
                    self.send(&head).await?;
                    match &held {
                        Some(all) => {
                            let slice = clip(all, 0, (start, len));
                            self.send(slice).await?;
                        }
                        None => {
                            let mut at = 0u64;
                            while at < message.size {
                                let chunk = next_chunk(stream, message.size - at).await?;
                                self.conn.write(clip(&chunk, at, (start, len))).await?;
                                at += chunk.len() as u64;
                            }
                        }
                    }
                }
            }
        }
        let tail = response.finish();
        self.send(&tail).await
    }
}

/// The next body chunk of a message with `left` bytes still to come. Any
/// other answer breaks the response being sent, so the connection ends.
async fn next_chunk(
    stream: &mut Streaming<mailkeep_storage_rpc::storage::FetchResponse>,
    left: u64,
) -> Result<Vec<u8>, ImapError> {
    match stream.message().await {
        Ok(Some(mailkeep_storage_rpc::storage::FetchResponse {
            item: Some(fetch_response::Item::BodyChunk(chunk)),
        })) if !chunk.is_empty() && chunk.len() as u64 <= left => Ok(chunk),
        Ok(_) => Err(ImapError::Broken(
            "message body shorter or longer than its size".into(),
        )),
        Err(status) => Err(ImapError::Broken(format!("fetch stream failed: {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailkeep_imap_proto::Section;

    fn body(peek: bool, partial: Option<(u64, u64)>) -> FetchAttribute {
        FetchAttribute::BodySection {
            peek,
            section: Section::default(),
            partial,
        }
    }

    #[test]
    fn uid_fetch_always_includes_uid() {
        let p =
            plan(&[FetchAttribute::Flags], true, false, false).unwrap_or_else(|_| panic!("plan"));
        assert_eq!(p.items, vec![Item::Uid, Item::Flags]);
        let p = plan(
            &[FetchAttribute::Uid, FetchAttribute::Flags],
            true,
            false,
            false,
        )
        .unwrap_or_else(|_| panic!());
        assert_eq!(p.items, vec![Item::Uid, Item::Flags]);
    }

    #[test]
    fn non_peek_body_sets_seen_and_adds_flags() {
        let p = plan(&[body(false, None)], false, false, false).unwrap_or_else(|_| panic!());
        assert!(p.set_seen);
        assert_eq!(
            p.items,
            vec![
                Item::Body {
                    name: "BODY[]".into(),
                    partial: None
                },
                Item::Flags
            ]
        );
        let p = plan(&[body(true, None)], false, false, false).unwrap_or_else(|_| panic!());
        assert!(!p.set_seen);
        let p = plan(&[FetchAttribute::Rfc822], false, true, false).unwrap_or_else(|_| panic!());
        assert!(!p.set_seen, "read-only never sets \\Seen");
        let p =
            plan(&[body(true, Some((10, 5)))], false, false, false).unwrap_or_else(|_| panic!());
        assert_eq!(
            p.items,
            vec![Item::Body {
                name: "BODY[]<10>".into(),
                partial: Some((10, 5))
            }]
        );
    }

    #[test]
    fn unsupported_items_are_named() {
        assert!(plan(&[FetchAttribute::Envelope], false, false, false).is_err());
        assert!(plan(&[FetchAttribute::BodyStructure], false, false, false).is_err());
        let section = Section {
            part: vec![1],
            text: None,
        };
        assert!(
            plan(
                &[FetchAttribute::BodySection {
                    peek: true,
                    section,
                    partial: None
                }],
                false,
                false,
                false
            )
            .is_err()
        );
    }

    #[test]
    fn partial_windows_and_clipping() {
        assert_eq!(window(None, 100), (0, 100));
        assert_eq!(window(Some((10, 20)), 100), (10, 20));
        assert_eq!(window(Some((90, 20)), 100), (90, 10));
        assert_eq!(window(Some((200, 20)), 100), (100, 0));
        let w = (3, 4); // bytes 3..7
        assert_eq!(clip(b"abcde", 0, w), b"de");
        assert_eq!(clip(b"fghij", 5, w), b"fg");
        assert_eq!(clip(b"klmno", 10, w), b"");
    }
}

//! FETCH answered without storage: what a message list asks of the
//! messages it shows (RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE,
//! header fields) comes from the process's [`FetchCache`] once a FETCH
//! brought it, and FLAGS from the session's view, brought up to date with
//! what the watch told first, as a FETCH of FLAGS alone is (`from_view`).
//! A message another session expunged is left out (`OK
//! [EXPUNGEISSUED]`, RFC 2180 §4.1), as storage would leave it out. When
//! most of the messages are known, storage is asked for the others only
//! (a list's page after new mail), and the whole answer comes from the
//! cache. A guest in another owner's mailbox is always answered by
//! storage.
//!
//! [`FetchCache`]: super::cache::FetchCache

use std::sync::Arc;

use mailkeep_imap_proto::{DateTime, FetchResponse};
use mailkeep_storage_rpc::storage::{SectionTextKind, fetch_item};

use super::cache::{Known, Learned, MailboxKey};
use super::from_view::answer_locally;
use super::plan::{Cut, Item, Plan};
use super::respond::{keep_cut, read_stream_cuts};
use super::structure::Structure;
use crate::cmd::Cx;
use crate::cmd::fetch::Fetched;
use crate::cmd::fetch::call_fetch;
use crate::errors::ImapError;
use crate::session::enabled::Enabled;
use crate::session::state::Selected;

/// Whether the cache keeps `cut`'s bytes: a header section as it is
/// (no BINARY decoding, no partial range, not just a size).
pub(super) fn keeps_cut(cut: &Cut) -> bool {
    matches!(
        cut.text,
        SectionTextKind::Header
            | SectionTextKind::HeaderFields
            | SectionTextKind::HeaderFieldsNot
            | SectionTextKind::Mime
    ) && !cut.binary
        && cut.partial.is_none()
        && !cut.size_only
}

/// Whether `plan` could be answered from the cache: nothing but what it
/// keeps and what the view holds, something of the cache among it, and no
/// MODSEQ, CHANGEDSINCE or `\Seen` to set.
pub(super) fn answers_from_cache(plan: &Plan, changed_since: Option<u64>) -> bool {
    let cached = |item: &Item| matches!(item, Item::Size | Item::Date) || learned_from(item);
    changed_since.is_none()
        && !plan.set_seen
        && plan.items.iter().any(cached)
        && plan
            .items
            .iter()
            .all(|item| matches!(item, Item::Flags | Item::Uid) || cached(item))
}

/// Whether a FETCH of `plan` from storage brings something the cache
/// keeps.
pub(super) fn worth_keeping(plan: &Plan) -> bool {
    plan.items.iter().any(learned_from)
}

/// Whether the cache learns `item` from an answer that carries it (size
/// and date come with every message, whatever was asked).
fn learned_from(item: &Item) -> bool {
    match item {
        Item::Envelope | Item::Body | Item::BodyStructure => true,
        Item::Cut { cut, .. } => keeps_cut(cut),
        _ => false,
    }
}

/// Whether `known` holds every item of `plan`.
fn serves(plan: &Plan, known: &Known) -> bool {
    plan.items.iter().all(|item| match item {
        Item::Envelope => known.envelope.is_some(),
        Item::Body | Item::BodyStructure => known.body.is_some(),
        Item::Cut { cut, .. } => known.cut(cut).is_some(),
        _ => true,
    })
}

/// Answers for `uids` from the cache and the view; `None` when a message
/// is not known well enough (or the mailbox is gone), so that storage is
/// asked. Only in the user's own mailboxes: a guest's right to read
/// another owner's mailbox is the owner's storage's to check at every
/// call (the owner may take it back while the guest has it selected).
pub(super) async fn fetch_from_cache(
    cx: &Cx,
    state: &Selected,
    plan: &Plan,
    uids: &[u32],
    enabled: Enabled,
) -> Result<Option<Fetched>, ImapError> {
    if state.owner() != state.authed.user() {
        return Ok(None);
    }
    let mailbox = &state.mailbox;
    let key = MailboxKey::new(state.owner(), mailbox.name(), mailbox.uidvalidity);
    let cache = &cx.process.fetch_cache;
    let known = match cache.lookup(&key, uids, |k| serves(plan, k)) {
        Ok(known) => known,
        // A page of a message list after new mail: storage is asked for
        // the new messages only, and the page answered whole from the
        // cache. Mostly unknown messages are fetched as they are.
        Err(missing) if missing.len() * 2 <= uids.len() => {
            fill(state, cx, plan, &key, &missing).await;
            match cache.lookup(&key, uids, |k| serves(plan, k)) {
                Ok(known) => known,
                Err(_) => return Ok(None),
            }
        }
        Err(_) => return Ok(None),
    };
    answer_locally(cx, state, plan, uids, &known, enabled).await
}

/// Asks storage for what `plan` needs of the messages `missing` and keeps
/// it, sending nothing to the client. A refusal or a broken stream only
/// leaves them unknown: the FETCH then goes to storage whole, which
/// answers with the reason (an expunged message is simply not sent).
async fn fill(state: &Selected, cx: &Cx, plan: &Plan, key: &Arc<MailboxKey>, missing: &[u32]) {
    let Ok(mut messages) = call_fetch(state, plan, missing).await else {
        return;
    };
    while let Ok(Some(fetch_item::Item::Message(message))) = messages.next().await {
        let structure = if plan.structure() {
            match messages.structure_of(message.uid).await {
                Ok(structure) => structure,
                Err(_) => break,
            }
        } else {
            None
        };
        let Ok(Ok(cuts)) = read_stream_cuts(plan, &mut messages).await else {
            break;
        };
        let mut learned = Learned::default();
        let mut structure = Structure::new(structure);
        structure.convert_for(plan);
        structure.learned_into(&mut learned);
        for (cut, opened) in plan.stream_cuts().zip(&cuts) {
            keep_cut(&mut learned, cut, opened);
        }
        let date = DateTime {
            unix: message.internal_date,
            offset_minutes: message.internal_date_offset_minutes,
        };
        cx.process
            .fetch_cache
            .learn(key, message.uid, message.size, date, learned);
    }
    // Read to its end: a stream dropped early is reset, and frames that
    // still come for a reset stream count against the connection every
    // session shares with the storage process.
    while let Ok(Some(_)) = messages.next().await {}
}

/// Adds `item` of a message to its response from what the cache knows of
/// it; a header section's literal goes into `bytes` with the response
/// so far.
pub(super) fn write_known(
    response: &mut FetchResponse,
    bytes: &mut Vec<u8>,
    item: &Item,
    known: &Known,
) {
    match item {
        Item::Size => {
            response.rfc822_size(known.size);
        }
        Item::Date => {
            response.internal_date(known.date);
        }
        Item::Envelope => {
            if let Some(envelope) = &known.envelope {
                response.envelope(envelope);
            }
        }
        Item::Body => {
            if let Some(body) = &known.body {
                response.body(body);
            }
        }
        Item::BodyStructure => {
            if let Some(body) = &known.body {
                response.body_structure(body);
            }
        }
        Item::Cut { name, cut } => {
            if let Some(kept) = known.cut(cut) {
                response.literal_header(name, kept.bytes.len() as u64);
                bytes.extend_from_slice(&response.take());
                bytes.extend_from_slice(&kept.bytes);
            }
        }
        _ => {}
    }
}

//! One message's `* n FETCH (...)`: the cuts it needs are opened first (so
//! that a refusal becomes a NO before anything of the message was sent),
//! then the items are written in order, literals streamed chunk by chunk.

use std::collections::VecDeque;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::DateTime;
use mailkeep_storage_rpc::errors;
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::storage::{FetchedMessage, SectionChunk, StructureItem, fetch_item};
use tonic::Streaming;

use super::cache::{CUT_KEPT_MAX, KnownCut, Learned};
use super::from_cache::keeps_cut;
use super::plan::{Cut, Item, Plan};
use super::structure;
use crate::cmd::Cx;
use crate::errors::{ImapError, Target, storage_reply};
use crate::io::OutputGuard;
use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::state::Selected;
use crate::updates::fetch_head;

/// A cut opened in storage: its size and the stream of its bytes.
pub(super) struct Opened {
    total: u64,
    /// The cut holds a NUL byte (storage said so with its size).
    contains_nul: bool,
    /// The first chunk's data, already read (all of it for a cut that came
    /// in the Fetch stream).
    first: Vec<u8>,
    /// The rest of a cut read by its own call.
    rest: Option<Streaming<SectionChunk>>,
}

/// The most a cut's announced size reserves in advance.
const MAX_RESERVE: usize = 1 << 20;

/// Sends one message's FETCH response; `Err(reply)` when storage refused a
/// cut before anything of this message was sent. Reads the whole body from
/// `messages` when it was streamed, so the stream stays in step. With
/// `learned`, what the fetch cache keeps of what was sent is put there.
#[allow(clippy::too_many_arguments)]
pub(super) async fn respond(
    cx: &Cx,
    state: &Selected,
    plan: &Plan,
    message: FetchedMessage,
    structure: Option<StructureItem>,
    messages: &mut FetchItems,
    changed_since: Option<u64>,
    enabled: Enabled,
    mut learned: Option<&mut Learned>,
) -> Result<Result<(), Reply>, ImapError> {
    let mailbox = &state.mailbox;
    let mut structure = structure::Structure::new(structure);
    let streamed = read_stream_cuts(plan, messages).await?;
    let seq = mailbox.view().seq_of(message.uid);
    let skip = changed_since.is_some_and(|c| message.modseq <= c);
    let Some(seq) = seq.filter(|_| !skip) else {
        if plan.whole_body() {
            skip_body(messages, message.size).await?;
        }
        return Ok(Ok(()));
    };
    // Open every cut first: a refusal (UNKNOWN-CTE, a vanished message)
    // must come before any byte of this response.
    let opened = match open_all(state, plan, message.uid, streamed).await? {
        Ok(opened) => opened,
        Err(reply) => {
            if plan.whole_body() {
                skip_body(messages, message.size).await?;
            }
            return Ok(Err(reply));
        }
    };
    let mut head = Vec::new();
    let mut recent = false;
    if plan.items.contains(&Item::Flags) {
        mailbox.announce_keywords(&message.flags, &mut head);
        let mut view = mailbox.view();
        view.set_flags(message.uid, message.flags.clone());
        view.held(message.modseq);
        recent = view.is_recent(message.uid);
    }
    let mut out = cx.out.lock().await;
    if !head.is_empty() {
        out.write(&head).await?;
    }
    // UID FETCH puts UID first through the plan, so it is not added here.
    let mut response = fetch_head(enabled, seq, message.uid, false);
    let mut opened = opened.into_iter();
    let mut body_sent = false;
    for item in &plan.items {
        match item {
            Item::Uid => {
                // UIDONLY's UIDFETCH response carries the UID in its head,
                // and the item only when nothing else was asked for (a
                // response's item list may not be empty).
                if !enabled.uidonly || plan.uid_alone() {
                    response.uid(message.uid);
                }
            }
            Item::Flags => {
                response.flags_recent(&message.flags, recent);
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
            Item::SaveDate => {
                response.save_date((message.save_date != 0).then_some(DateTime {
                    unix: message.save_date,
                    offset_minutes: 0,
                }));
            }
            Item::EmailId => {
                response.email_id(&message.email_id);
            }
            Item::ThreadId => {
                response.thread_id((!message.thread_id.is_empty()).then_some(&*message.thread_id));
            }
            Item::Envelope | Item::Body | Item::BodyStructure | Item::Preview => {
                structure.write(&mut response, item);
            }
            Item::Whole { name } => {
                response.literal_header(name, message.size);
                out.write(&response.take()).await?;
                if body_sent {
                    return Err(ImapError::Broken("the whole body was asked twice".into()));
                }
                copy_body(&mut out, messages, message.size).await?;
                body_sent = true;
            }
            Item::Cut { name, cut } => {
                let Some(o) = opened.next() else {
                    return Err(ImapError::Broken("a cut was not opened".into()));
                };
                // A literal8 only where a literal cannot carry the bytes
                // (RFC 3516 allows either): clients that do not read
                // literal8 (Python's IMAPClient) still read BINARY of text,
                // as they do from Dovecot.
                if cut.binary && o.contains_nul {
                    response.literal8_header(name, o.total);
                } else {
                    response.literal_header(name, o.total);
                }
                if let Some(learned) = learned.as_deref_mut() {
                    keep_cut(learned, cut, &o);
                }
                out.write(&response.take()).await?;
                copy_cut(&mut out, o, cut.binary).await?;
            }
            Item::BinarySize { name, .. } => {
                let Some(o) = opened.next() else {
                    return Err(ImapError::Broken("a cut was not opened".into()));
                };
                response.number(name, o.total);
            }
        }
    }
    if plan.whole_body() && !body_sent {
        skip_body(messages, message.size).await?;
    }
    out.write(&response.finish()).await?;
    if let Some(learned) = learned {
        structure.learned_into(learned);
    }
    Ok(Ok(()))
}

/// Puts a header section the fetch cache keeps, whole as it came, into
/// `learned`, as the client gets it.
pub(super) fn keep_cut(learned: &mut Learned, cut: &Cut, opened: &Opened) {
    let whole = opened.rest.is_none() && opened.first.len() as u64 == opened.total;
    if !whole || opened.first.len() > CUT_KEPT_MAX || !keeps_cut(cut) {
        return;
    }
    let mut bytes = opened.first.clone();
    without_nul(&mut bytes);
    learned.cuts.push(KnownCut {
        cut: cut.clone(),
        bytes: bytes.into(),
    });
}

/// Reads the cuts of one message that came in the Fetch stream, in plan
/// order; `Err(reply)` when storage could not make them.
pub(super) async fn read_stream_cuts(
    plan: &Plan,
    messages: &mut FetchItems,
) -> Result<Result<VecDeque<Opened>, Reply>, ImapError> {
    let mut cuts = VecDeque::new();
    for cut in plan.stream_cuts() {
        let (total, contains_nul) = match next_item(messages).await? {
            fetch_item::Item::CutStart(start) => (start.total_size, start.contains_nul),
            fetch_item::Item::CutFailed(failed) => {
                let status = errors::status(failed.reason(), failed.message);
                return Ok(Err(storage_reply(&status.into(), Target::Other)));
            }
            _ => return Err(ImapError::Broken("a cut's size was not sent".into())),
        };
        let mut data = Vec::with_capacity(usize::try_from(total).unwrap_or(0).min(MAX_RESERVE));
        while !cut.size_only && (data.len() as u64) < total {
            match next_item(messages).await? {
                fetch_item::Item::CutChunk(chunk)
                    if !chunk.is_empty() && data.len() as u64 + chunk.len() as u64 <= total =>
                {
                    data.extend_from_slice(&chunk);
                }
                _ => {
                    return Err(ImapError::Broken(
                        "a cut shorter or longer than its size".into(),
                    ));
                }
            }
        }
        cuts.push_back(Opened {
            total,
            contains_nul,
            first: data,
            rest: None,
        });
    }
    Ok(Ok(cuts))
}

/// The next item of the Fetch stream, which must come.
async fn next_item(messages: &mut FetchItems) -> Result<fetch_item::Item, ImapError> {
    match messages.next().await {
        Ok(Some(item)) => Ok(item),
        Ok(_) => Err(ImapError::Broken("the fetch stream ended early".into())),
        Err(status) => Err(ImapError::Broken(format!("fetch stream failed: {status}"))),
    }
}

/// Every cut of the response in order: those that came in the Fetch
/// stream, and the others opened by a call each.
async fn open_all(
    state: &Selected,
    plan: &Plan,
    uid: u32,
    streamed: Result<VecDeque<Opened>, Reply>,
) -> Result<Result<Vec<Opened>, Reply>, ImapError> {
    let mut streamed = match streamed {
        Ok(streamed) => streamed,
        Err(reply) => return Ok(Err(reply)),
    };
    let mut opened = Vec::new();
    for cut in plan.cuts() {
        if cut.in_stream() {
            let Some(o) = streamed.pop_front() else {
                return Err(ImapError::Broken("a streamed cut is missing".into()));
            };
            opened.push(o);
        } else {
            match open(state, uid, cut).await {
                Ok(o) => opened.push(o),
                Err(reply) => return Ok(Err(reply)),
            }
        }
    }
    Ok(Ok(opened))
}

/// Opens a cut of message `uid` by its own call and reads its first chunk
/// (which carries the size).
async fn open(state: &Selected, uid: u32, cut: &Cut) -> Result<Opened, Reply> {
    let mailbox = &state.mailbox;
    let request = cut.section_request(
        state.owner().to_owned(),
        mailbox.name(),
        mailbox.uidvalidity,
        uid,
    );
    let mut stream = state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.content().fetch_section(request).await }
        })
        .await
        .map_err(|e| storage_reply(&e, Target::Other))?;
    match stream.message().await {
        Ok(Some(first)) => Ok(Opened {
            total: first.total_size,
            contains_nul: first.contains_nul,
            first: first.data,
            rest: Some(stream),
        }),
        Ok(None) => Ok(Opened {
            total: 0,
            contains_nul: false,
            first: Vec::new(),
            rest: Some(stream),
        }),
        Err(status) => Err(storage_reply(&status.into(), Target::Other)),
    }
}

/// Streams an opened cut: exactly `total` bytes, or the connection breaks.
/// The call's stream is read to its end (its status): one dropped before
/// it is reset, and HTTP/2 takes the end that still comes for a reset
/// stream it no longer remembers for the peer's mistake; enough of those
/// and it closes the connection every session shares with the storage
/// process.
async fn copy_cut(
    out: &mut OutputGuard<'_>,
    mut opened: Opened,
    binary: bool,
) -> Result<(), ImapError> {
    let mut sent = opened.first.len() as u64;
    if sent > opened.total {
        return Err(ImapError::Broken("section longer than its size".into()));
    }
    if !binary {
        without_nul(&mut opened.first);
    }
    out.write(&opened.first).await?;
    while sent < opened.total {
        let Some(rest) = opened.rest.as_mut() else {
            return Err(ImapError::Broken(
                "a streamed cut shorter than its size".into(),
            ));
        };
        match rest.message().await {
            Ok(Some(mut chunk))
                if !chunk.data.is_empty() && sent + chunk.data.len() as u64 <= opened.total =>
            {
                sent += chunk.data.len() as u64;
                if !binary {
                    without_nul(&mut chunk.data);
                }
                out.write(&chunk.data).await?;
            }
            Ok(_) => {
                return Err(ImapError::Broken(
                    "section shorter or longer than its size".into(),
                ));
            }
            Err(status) => {
                return Err(ImapError::Broken(format!(
                    "section stream failed: {status}"
                )));
            }
        }
    }
    if let Some(rest) = opened.rest.as_mut() {
        match rest.message().await {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(ImapError::Broken("section longer than its size".into()));
            }
            Err(status) => {
                return Err(ImapError::Broken(format!(
                    "section stream failed at its end: {status}"
                )));
            }
        }
    }
    Ok(())
}

/// Turns NUL bytes into 0x80, as Dovecot does: a literal (not a binary
/// literal) must not carry NUL (RFC 9051 §4.3), and a stored message may
/// hold some (APPEND and LMTP keep the bytes they were given).
fn without_nul(data: &mut [u8]) {
    if data.contains(&0) {
        for byte in data.iter_mut().filter(|b| **b == 0) {
            *byte = 0x80;
        }
    }
}

/// Streams a message body of `size` bytes from the Fetch stream.
async fn copy_body(
    out: &mut OutputGuard<'_>,
    messages: &mut FetchItems,
    size: u64,
) -> Result<(), ImapError> {
    let mut left = size;
    while left > 0 {
        let mut chunk = next_chunk(messages, left).await?;
        left -= chunk.len() as u64;
        without_nul(&mut chunk);
        out.write(&chunk).await?;
    }
    Ok(())
}

/// Reads and drops a message body the response does not use.
async fn skip_body(messages: &mut FetchItems, size: u64) -> Result<(), ImapError> {
    let mut left = size;
    while left > 0 {
        left -= next_chunk(messages, left).await?.len() as u64;
    }
    Ok(())
}

/// The next body chunk of a message with `left` bytes still to come. Any
/// other answer breaks the response being sent, so the connection ends.
async fn next_chunk(messages: &mut FetchItems, left: u64) -> Result<Vec<u8>, ImapError> {
    match messages.next().await {
        Ok(Some(fetch_item::Item::BodyChunk(chunk)))
            if !chunk.is_empty() && chunk.len() as u64 <= left =>
        {
            Ok(chunk)
        }
        Ok(_) => Err(ImapError::Broken(
            "message body shorter or longer than its size".into(),
        )),
        Err(status) => Err(ImapError::Broken(format!("fetch stream failed: {status}"))),
    }
}

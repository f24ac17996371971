//! FETCH of FLAGS alone (with UID at most): the flag resync every client
//! makes after SELECT and at each check (`UID FETCH 1:* (FLAGS)`). The
//! session's view holds every message's flags, so once it has taken the
//! changes the watch told of (storage is asked only when a change came
//! without its delta, or no watch runs) the answers come from it: storage
//! reads and streams no record per message, and the answers leave in
//! large writes.
//!
//! What the client gets is what a Fetch call would give: the flags as the
//! session knows them from its own commands and the watch (which tells of
//! every change made through any storage process of the owner, and of
//! messages another program delivers into the folder; flags another
//! program changes in the folder itself are seen at NOOP, CHECK or the
//! next SELECT, as they are read again then), FLAGS first for a keyword
//! not announced yet, and a message another session expunged is left out
//! (`OK [EXPUNGEISSUED]`, RFC 2180 §4.1); the expunge itself is told when
//! expunges may be (never inside a FETCH by sequence number).

use std::sync::Arc;

use super::cache::Known;
use super::from_cache::write_known;
use crate::cmd::Cx;
use crate::cmd::fetch::Fetched;
use crate::cmd::fetch::plan::{Item, Plan};
use crate::errors::ImapError;
use crate::session::enabled::Enabled;
use crate::session::mailbox::Synced;
use crate::session::state::Selected;
use crate::updates::fetch_head;

/// Answers are written in pieces of about this size, so that a resync of a
/// large mailbox does not build its whole answer first.
const WRITE_AT: usize = 64 * 1024;

/// Whether `plan` asks for nothing the view does not hold: FLAGS, with or
/// without UID, and no MODSEQ, CHANGEDSINCE or `\Seen` to set.
pub(super) fn answers_from_view(plan: &Plan, changed_since: Option<u64>) -> bool {
    changed_since.is_none()
        && !plan.set_seen
        && plan.items.contains(&Item::Flags)
        && plan
            .items
            .iter()
            .all(|item| matches!(item, Item::Flags | Item::Uid))
}

/// Brings the view up to storage and answers for `uids` from it; `None`
/// when the mailbox is gone (the Fetch call then answers, with the reason).
pub(super) async fn fetch_from_view(
    cx: &Cx,
    state: &Selected,
    plan: &Plan,
    uids: &[u32],
    enabled: Enabled,
) -> Result<Option<Fetched>, ImapError> {
    answer_locally(cx, state, plan, uids, &[], enabled).await
}

/// Brings the view up to storage and answers for `uids` from it, and from
/// `known` (what the fetch cache knows of each of `uids`, in order; empty
/// when the plan asks nothing of it) for what the view does not hold;
/// `None` when the mailbox is gone.
pub(super) async fn answer_locally(
    cx: &Cx,
    state: &Selected,
    plan: &Plan,
    uids: &[u32],
    known: &[Arc<Known>],
    enabled: Enabled,
) -> Result<Option<Fetched>, ImapError> {
    let mailbox = &state.mailbox;
    // Expunges wait: this FETCH may name messages by sequence number, and
    // the session tells them once no such command runs.
    if mailbox
        .catch_up_if_behind(&state.authed.storage, &cx.out, false, enabled)
        .await?
        == Synced::Lost
    {
        return Ok(None);
    }
    let flags_asked = plan.items.contains(&Item::Flags);
    let mut some_expunged = false;
    let mut bytes = Vec::new();
    // Sequence numbers are read while no other response can go out: an
    // EXPUNGE sent meanwhile would change them.
    let mut out = cx.out.lock().await;
    let mut rest = uids.iter().enumerate();
    loop {
        let mut full = false;
        // A piece of the answer is made under one hold of the view (not
        // across a write: the hold cannot wait), from its flags as they
        // are, without copying them.
        {
            let view = mailbox.view();
            for (i, &uid) in rest.by_ref() {
                let answer = if view.is_pending_expunge(uid) {
                    None
                } else {
                    view.seq_of(uid).zip(view.flags_of(uid))
                };
                let Some((seq, flags)) = answer else {
                    some_expunged = true;
                    continue;
                };
                if flags_asked {
                    mailbox.announce_keywords(flags, &mut bytes);
                }
                let mut response = fetch_head(enabled, seq, uid, false);
                for item in &plan.items {
                    match item {
                        // UIDONLY's UIDFETCH response carries the UID in
                        // its head (and the item alone when nothing else
                        // was asked for: the item list may not be empty).
                        Item::Uid if !enabled.uidonly || plan.uid_alone() => {
                            response.uid(uid);
                        }
                        Item::Flags => {
                            response.flags_recent(flags, view.is_recent(uid));
                        }
                        _ => {
                            if let Some(known) = known.get(i) {
                                write_known(&mut response, &mut bytes, item, known);
                            }
                        }
                    }
                }
                bytes.extend_from_slice(&response.finish());
                if bytes.len() >= WRITE_AT {
                    full = true;
                    break;
                }
            }
        }
        if !full {
            break;
        }
        out.write(&bytes).await?;
        bytes.clear();
    }
    if !bytes.is_empty() {
        out.write(&bytes).await?;
    }
    Ok(Some(if some_expunged {
        Fetched::SomeExpunged
    } else {
        Fetched::All
    }))
}

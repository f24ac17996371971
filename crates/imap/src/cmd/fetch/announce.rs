//! NOTIFY's MessageNew with fetch items (RFC 5465 §5.2): the client asked
//! to be told some items of every message that arrives in the selected
//! mailbox, right after its EXISTS, without asking with FETCH.

use std::sync::Arc;

use mailkeep_imap_proto::FetchAttribute;

use super::{fetch, from_view, plan::plan};
use crate::cmd::Cx;
use crate::errors::ImapError;
use crate::session::mailbox::Mailbox;
use crate::session::state::Selected;

/// The highest UID the client has heard of in `mailbox`: what arrives
/// later is new to it.
pub(crate) fn known_uid(mailbox: &Mailbox) -> u32 {
    mailbox.view().uids().last().copied().unwrap_or(0)
}

/// Sends `items` of the messages of the selected mailbox whose UID is above
/// `known`, as unsolicited FETCH responses. Nothing is marked `\Seen`: the
/// client did not ask to read these messages now. A storage refusal is
/// logged and left, as the EXISTS already told of the messages.
pub(crate) async fn announce_new(
    cx: &Cx,
    state: &Selected,
    items: Option<&Arc<[FetchAttribute]>>,
    known: u32,
) -> Result<(), ImapError> {
    let Some(items) = items else {
        return Ok(());
    };
    let uids: Vec<u32> = {
        let view = state.mailbox.view();
        let uids = view.uids();
        uids[uids.partition_point(|&u| u <= known)..].to_vec()
    };
    if uids.is_empty() {
        return Ok(());
    }
    let plan = plan(items, false, true, false);
    if from_view::answers_from_view(&plan, None)
        && from_view::fetch_from_view(cx, state, &plan, &uids, cx.enabled)
            .await?
            .is_some()
    {
        return Ok(());
    }
    if let Err(reply) = fetch(cx, state, &plan, &uids, None, cx.enabled).await? {
        tracing::info!(?reply, "NOTIFY could not fetch the new messages' items");
    }
    Ok(())
}

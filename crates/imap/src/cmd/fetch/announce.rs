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

/// A sync of the selected mailbox about to happen, for a client that asked
/// for `items` of new messages: what it knew before.
pub(crate) struct NewMessages {
    items: Arc<[FetchAttribute]>,
    /// The highest UID the client had heard of: what comes later is new.
    known: u32,
}

impl NewMessages {
    /// Taken before the sync; `None` (nothing to read, no lock taken) when
    /// no items are asked for.
    pub(crate) fn before(
        items: Option<Arc<[FetchAttribute]>>,
        mailbox: &Mailbox,
    ) -> Option<NewMessages> {
        let items = items?;
        let known = mailbox.view().uids().last().copied().unwrap_or(0);
        Some(NewMessages { items, known })
    }

    /// After the sync: the items of the messages it brought, as unsolicited
    /// FETCH responses. Nothing is marked `\Seen`: the client did not ask to
    /// read these messages now. A storage refusal is logged and left, as
    /// the EXISTS already told of the messages.
    pub(crate) async fn announce(self, cx: &Cx, state: &Selected) -> Result<(), ImapError> {
        let uids: Vec<u32> = {
            let view = state.mailbox.view();
            let uids = view.uids();
            uids[uids.partition_point(|&u| u <= self.known)..].to_vec()
        };
        if uids.is_empty() {
            return Ok(());
        }
        let plan = plan(&self.items, false, true, false);
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
}

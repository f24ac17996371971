//! COPY and MOVE into another owner's mailbox (out of a shared mailbox
//! into the user's own, say). Storage copies inside one owner's store
//! only, so the messages travel through this process: one Fetch stream of
//! the source (each message's flags, internal date and bytes) feeds one
//! Append stream into the target, message by message as they come (never
//! a whole message in memory), committed together at the end. MOVE then
//! marks the originals `\Deleted` and expunges exactly them.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::Code;
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::storage::{
    AppendHeader, ExpungeRequest, FetchRequest, MailboxAclRequest, StoreFlagsRequest, StoreMode,
    fetch_item,
};

use crate::cmd::append::{Call, abort};
use crate::cmd::common::ranges;
use crate::errors::{Target, storage_reply};
use crate::namespace::MailboxRef;
use crate::reply::Reply;
use crate::session::state::Selected;

/// What a copy across owners made.
pub(crate) struct Copied {
    /// The target's UIDVALIDITY.
    pub(crate) uidvalidity: u32,
    /// The source UIDs copied, in order (those expunged meanwhile are
    /// left out).
    pub(crate) source: Vec<u32>,
    /// Their new UIDs in the target, in the same order.
    pub(crate) new: Vec<u32>,
}

/// Copies messages `uids` of the selected mailbox into `target`, which
/// belongs to another owner.
pub(crate) async fn copy_across(
    state: &Selected,
    uids: &[u32],
    target: &MailboxRef,
) -> Result<Copied, Reply> {
    let mailbox = &state.mailbox;
    let request = FetchRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(uids),
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().fetch(request).await }
        })
        .await
        .map_err(|e| storage_reply(&e, Target::Other))?;
    let mut items = FetchItems::new(stream);
    let mut call = Call::open(&state.authed, &target.owner).await?;
    let mut source = Vec::new();
    loop {
        match items.next().await {
            Ok(Some(fetch_item::Item::Message(message))) => {
                source.push(message.uid);
                let flags = message
                    .flags
                    .into_iter()
                    .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                    .collect();
                call.header(AppendHeader {
                    owner: target.owner.clone(),
                    mailbox: target.name.clone(),
                    flags,
                    internal_date: message.internal_date,
                    internal_date_offset_minutes: message.internal_date_offset_minutes,
                    size: message.size,
                    replace: None,
                    // The message ends where the next one starts.
                    size_unknown: true,
                    // Recent to whichever session hears of it first.
                    claim_recent: false,
                })
                .await;
            }
            Ok(Some(fetch_item::Item::BodyChunk(data))) => call.chunk(data).await,
            // No cuts were asked for.
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(status) => {
                abort(Some(call)).await;
                return Err(storage_reply(&status.into(), Target::Other));
            }
        }
    }
    if source.is_empty() {
        // Every message was expunged meanwhile: nothing to store.
        abort(Some(call)).await;
        return Ok(Copied {
            uidvalidity: 0,
            source,
            new: Vec::new(),
        });
    }
    let response = call.commit(&state.authed).await?;
    Ok(Copied {
        uidvalidity: response.uidvalidity,
        source,
        new: response.uids,
    })
}

/// Before a MOVE across owners: whether the source's owner says the user
/// lacks what removing the originals needs (`t` and `e`), so that the
/// move is refused before anything is copied rather than left half done.
/// Storage still decides each call; an answer that does not come lets the
/// move go on.
pub(crate) async fn may_not_remove(state: &Selected) -> Option<Reply> {
    let request = MailboxAclRequest {
        owner: state.owner().to_owned(),
        mailbox: state.mailbox.name(),
    };
    let rights = state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.acl().my_rights(request).await }
        })
        .await
        .ok()?
        .rights;
    let lacking = !(rights.contains('t') && rights.contains('e'));
    lacking
        .then(|| Reply::no("No permission to remove messages from this mailbox").code(Code::NoPerm))
}

/// MOVE's second half: marks the copied originals `\Deleted` and expunges
/// exactly them; the UIDs expunged.
pub(crate) async fn remove_originals(state: &Selected, uids: &[u32]) -> Result<Vec<u32>, Reply> {
    let mailbox = &state.mailbox;
    let store = StoreFlagsRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(uids),
        mode: StoreMode::Add as i32,
        flags: vec!["\\Deleted".into()],
        unchanged_since: None,
    };
    let failed = |e| {
        let reply = storage_reply(&e, Target::Other);
        Reply {
            text: "Copied, but the originals could not be removed".into(),
            ..reply
        }
    };
    state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(store.clone());
            async move { rpc.storage().store_flags(request).await }
        })
        .await
        .map_err(failed)?;
    let expunge = ExpungeRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(uids),
    };
    let response = state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(expunge.clone());
            async move { rpc.storage().expunge(request).await }
        })
        .await
        .map_err(failed)?;
    Ok(response.expunged)
}

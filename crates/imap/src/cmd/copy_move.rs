//! COPY and MOVE, and their UID forms (RFC 9051 §6.4.7–6.4.8, RFC 6851,
//! COPYUID of RFC 4315): one storage call each, atomic there, when source
//! and target have one owner; through this process otherwise (see
//! `copy_across.rs`).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, CopyMove, SequenceSet, StatusKind, status_response};
use mailkeep_storage_rpc::storage::CopyRequest;

use crate::cmd::common::{ranges, resolve};
use crate::cmd::copy_across::{copy_across, may_not_remove, remove_originals};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::state::Selected;

/// MOVE: COPY, then expunge the originals, in one storage transaction.
pub(crate) struct Move(pub(crate) CopyMove);

impl From<CopyMove> for Move {
    fn from(args: CopyMove) -> Move {
        Move(args)
    }
}

impl Command for CopyMove {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "COPY",
        runs: Runs::Alone,
        capability: None,
    };

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        copy_or_move(self, false, cx, state).await
    }
}

impl Command for Move {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "MOVE",
        runs: Runs::Alone,
        capability: Some("MOVE"),
    };

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        copy_or_move(self.0, true, cx, state).await
    }
}

/// The reply when none of the messages asked for exists any more: another
/// session expunged them after this one last heard (as Dovecot answers).
fn all_expunged() -> Reply {
    Reply::no("Some of the requested messages no longer exist.").code(Code::ExpungeIssued)
}

/// COPY or MOVE.
async fn copy_or_move(
    args: CopyMove,
    moving: bool,
    cx: Cx,
    state: Selected,
) -> Result<Done, ImapError> {
    let mailbox = &state.mailbox;
    if moving && mailbox.read_only {
        return Ok(Done::reply(
            Reply::no("Mailbox is read-only").code(Code::Cannot),
        ));
    }
    let uids = match resolve(&mailbox.view(), &args.set, args.uid) {
        Ok(uids) => uids,
        Err(reply) => return Ok(Done::reply(reply)),
    };
    let verb = if moving { "Move" } else { "Copy" };
    if uids.is_empty() {
        return Ok(Done::reply(Reply::ok(format!("{verb} completed."))));
    }
    let target = match Names::new(&state.authed)
        .mailbox(&args.mailbox, Target::Destination)
        .await
    {
        Ok(target) => target,
        Err(reply) => return Ok(Done::reply(reply)),
    };
    if target.owner != state.owner() {
        return across(&cx, &state, &uids, &target, moving).await;
    }
    let request = CopyRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(&uids),
        target: target.name.clone(),
    };
    // Not repeated after a lost storage process: the copy may have been made.
    let result = state
        .call(Retry::Once, |rpc| {
            let request = rpc.request(request.clone());
            async move {
                if moving {
                    rpc.organize().r#move(request).await
                } else {
                    rpc.organize().copy(request).await
                }
            }
        })
        .await;
    let response = match result {
        Ok(response) => response,
        Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Destination))),
    };
    if response.source_uids.is_empty() {
        return Ok(Done::reply(all_expunged()));
    }
    let copyuid = Code::CopyUid {
        uidvalidity: response.uidvalidity,
        source: SequenceSet::from_numbers(response.source_uids.iter().copied()),
        destination: SequenceSet::from_numbers(response.new_uids.iter().copied()),
    };
    mailbox.added_to(&target, None);
    if !moving {
        return Ok(Done::reply(Reply::ok("Copy completed.").code(copyuid)));
    }
    // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
    let mut out = Vec::new();
    status_response(&mut out, None, StatusKind::Ok, Some(&copyuid), "Moved.");
    let updates = {
        let mut view = mailbox.view();
        view.held(response.source_highestmodseq);
        view.expunge(&response.source_uids)
    };
    mailbox.write_updates(&mut out, &updates, cx.enabled);
    cx.out.send(&out).await?;
    Ok(Done::reply(Reply::ok("Move completed.")))
}

/// COPY or MOVE into another owner's mailbox.
async fn across(
    cx: &Cx,
    state: &Selected,
    uids: &[u32],
    target: &MailboxRef,
    moving: bool,
) -> Result<Done, ImapError> {
    if moving && let Some(reply) = may_not_remove(state).await {
        return Ok(Done::reply(reply));
    }
    let copied = match copy_across(state, uids, target).await {
        Ok(copied) => copied,
        Err(reply) => return Ok(Done::reply(reply)),
    };
    if copied.source.is_empty() {
        return Ok(Done::reply(all_expunged()));
    }
    let copyuid = Code::CopyUid {
        uidvalidity: copied.uidvalidity,
        source: SequenceSet::in_order(copied.source.clone()),
        destination: SequenceSet::in_order(copied.new.clone()),
    };
    if !moving {
        return Ok(Done::reply(Reply::ok("Copy completed.").code(copyuid)));
    }
    let mut out = Vec::new();
    status_response(&mut out, None, StatusKind::Ok, Some(&copyuid), "Moved.");
    cx.out.send(&out).await?;
    out.clear();
    let expunged = match remove_originals(state, &copied.source).await {
        Ok(expunged) => expunged,
        Err(reply) => return Ok(Done::reply(reply)),
    };
    // Their MODSEQ is not known here: the next sync asks storage.
    state.mailbox.mark().force();
    let updates = state.mailbox.view().expunge(&expunged);
    state.mailbox.write_updates(&mut out, &updates, cx.enabled);
    cx.out.send(&out).await?;
    Ok(Done::reply(Reply::ok("Move completed.")))
}

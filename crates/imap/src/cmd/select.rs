//! SELECT and EXAMINE (RFC 9051 §6.3.2–6.3.3) with CONDSTORE and QRESYNC
//! (RFC 7162 §3.1.8, §3.2.5): load the whole view, then describe it.

use std::sync::Arc;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{
    Code, Select, SequenceSet, StatusKind, exists, recent, status_response, vanished,
};
use mailkeep_storage_rpc::storage::{ChangesRequest, RecentMode, SelectMailboxRequest};

use crate::cmd::common::my_rights;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::Names;
use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::mailbox::{Mailbox, Settable};
use crate::session::state::{Authed, Authenticated, Transition};
use crate::updates::fetch_head;
use crate::view::View;

/// EXAMINE: SELECT read-only.
pub(crate) struct Examine(pub(crate) Select);

impl From<Select> for Examine {
    fn from(select: Select) -> Examine {
        Examine(select)
    }
}

impl Command for Select {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "SELECT",
        runs: Runs::Alone,
        capability: None,
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        select(self, false, cx, state).await
    }
}

impl Command for Examine {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "EXAMINE",
        runs: Runs::Alone,
        capability: None,
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        select(self.0, true, cx, state).await
    }
}

/// SELECT or EXAMINE.
async fn select(
    args: Select,
    read_only: bool,
    cx: Cx,
    state: Authenticated,
) -> Result<Done, ImapError> {
    if args.qresync.is_some() && !cx.enabled.qresync {
        return Ok(Done::reply(Reply::bad("QRESYNC must be enabled first")));
    }
    let mut out = Vec::new();
    if state.selected.is_some() {
        // The previous mailbox is closed whatever happens next.
        status_response(
            &mut out,
            None,
            StatusKind::Ok,
            Some(&Code::Closed),
            "Previous mailbox closed.",
        );
        cx.out.send(&out).await?;
        out.clear();
    }
    let target = match Names::new(&state.authed)
        .mailbox(&args.mailbox, Target::Other)
        .await
    {
        Ok(target) => target,
        Err(reply) => return Ok(Done::reply(reply).with(Transition::Unselect)),
    };
    // IMAP4rev1's \Recent (RFC 3501 §2.3.2): a read-write SELECT claims
    // the messages no session has been told of; EXAMINE shows them as
    // recent and leaves them to the next.
    let recent_mode = if cx.enabled.rev2 {
        RecentMode::RecentNone
    } else if read_only {
        RecentMode::RecentPeek
    } else {
        RecentMode::RecentClaim
    };
    let request = SelectMailboxRequest {
        owner: target.owner.clone(),
        name: target.name.clone(),
        with_object_ids: false,
        recent: recent_mode as i32,
    };
    let result = state
        .authed
        .call(&target.owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().select_mailbox(request).await }
        })
        .await;
    let selected = match result {
        Ok(selected) => selected,
        Err(e) => {
            return Ok(Done::reply(storage_reply(&e, Target::Other)).with(Transition::Unselect));
        }
    };
    let status = selected.status.unwrap_or_default();
    let messages = selected
        .messages
        .into_iter()
        .map(|m| (m.uid, m.flags))
        .collect();
    let mut view = View::new(status.uidvalidity, status.highestmodseq, messages);
    if selected.first_recent_uid != 0 {
        view.mark_recent(selected.first_recent_uid, status.uidnext.saturating_sub(1));
    }
    let mut enabled = cx.enabled;
    if args.condstore {
        enabled = enabled.union(Enabled::condstore());
    }
    // A guest changes only the flags its rights allow (RFC 4314 §4).
    let rights = if target.owner == state.authed.user() {
        None
    } else {
        my_rights(&state.authed, &target).await
    };
    let settable = rights
        .as_deref()
        .map_or(Settable::ALL, Settable::from_rights);
    // RFC 4314 §5.2: a guest who may neither insert, expunge nor change a
    // flag has the mailbox read-only, and is told so. What it tries
    // anyway storage refuses with NOPERM, as for any guest.
    let changes_nothing = rights.is_some_and(|r| !r.contains(['i', 'e', 's', 'w', 't']));
    let settable = if selected.keywords_full {
        settable.without_new_keywords()
    } else {
        settable
    };
    let mailbox = Mailbox::new(target, read_only, settable, view, &selected.keywords);
    // The same mailbox selected again goes on with the stream that
    // follows it.
    let mailbox = Arc::new(match &state.selected {
        Some(earlier) => mailbox.following_on(earlier),
        None => mailbox,
    });
    mailbox.write_flags(&mut out);
    {
        let view = mailbox.view();
        exists(&mut out, view.exists());
        if !enabled.rev2 {
            recent(&mut out, view.recent_count());
            if let Some(unseen) = view.first_unseen() {
                ok_code(&mut out, Code::Unseen(unseen), "First unseen.");
            }
        }
    }
    ok_code(
        &mut out,
        Code::UidValidity(status.uidvalidity),
        "UIDs valid.",
    );
    ok_code(
        &mut out,
        Code::UidNext(status.uidnext),
        "Predicted next UID.",
    );
    ok_code(
        &mut out,
        Code::HighestModSeq(status.highestmodseq),
        "Highest modseq.",
    );
    if !status.mailbox_id.is_empty() {
        ok_code(
            &mut out,
            Code::MailboxId(status.mailbox_id.clone()),
            "Mailbox id.",
        );
    }
    cx.out.send(&out).await?;
    if let Some(qresync) = &args.qresync
        && qresync.uidvalidity == status.uidvalidity
    {
        resync(&cx, &state.authed, &mailbox, qresync.modseq, enabled).await?;
    }
    let reply = if read_only {
        Reply::ok("Examine completed.").code(Code::ReadOnly)
    } else if changes_nothing {
        Reply::ok("Select completed; your rights change nothing here.").code(Code::ReadOnly)
    } else {
        Reply::ok("Select completed.").code(Code::ReadWrite)
    };
    let done = Done::reply(reply).with(Transition::Select(mailbox));
    Ok(if enabled != cx.enabled {
        done.enabling(enabled)
    } else {
        done
    })
}

/// QRESYNC: what was expunged (VANISHED (EARLIER)) and what changed
/// (FETCH with MODSEQ) since the client's MODSEQ.
async fn resync(
    cx: &Cx,
    authed: &Authed,
    mailbox: &Mailbox,
    since: u64,
    enabled: Enabled,
) -> Result<(), ImapError> {
    let request = ChangesRequest {
        owner: mailbox.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        since_modseq: since,
    };
    let changes = match authed
        .call(mailbox.owner(), Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().changes(request).await }
        })
        .await
    {
        Ok(changes) => changes,
        Err(e) => {
            tracing::warn!(error = %e, "QRESYNC changes unavailable");
            return Ok(());
        }
    };
    let mut out = Vec::new();
    if !changes.vanished.is_empty() {
        let mut uids = changes.vanished.clone();
        uids.sort_unstable();
        vanished(&mut out, true, &SequenceSet::from_numbers(uids));
    }
    {
        let view = mailbox.view();
        for m in &changes.changed {
            if let Some(seq) = view.seq_of(m.uid) {
                let mut response = fetch_head(enabled, seq, m.uid, true);
                response.flags_recent(&m.flags, view.is_recent(m.uid));
                if enabled.condstore {
                    response.modseq(m.modseq);
                }
                out.extend_from_slice(&response.finish());
            }
        }
    }
    cx.out.send(&out).await?;
    Ok(())
}

/// Appends `* OK [code] text`.
fn ok_code(out: &mut Vec<u8>, code: Code, text: &str) {
    status_response(out, None, StatusKind::Ok, Some(&code), text);
}

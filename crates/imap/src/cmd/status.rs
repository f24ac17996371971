//! STATUS (RFC 9051 §6.3.11; STATUS=SIZE, APPENDLIMIT, OBJECTID, CONDSTORE
//! items), also used by LIST-STATUS.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Status, StatusItem, StatusValue, status_line};
use mailkeep_storage_rpc::storage::MailboxStatusRequest;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::mailbox::Mailbox;
use crate::session::state::{Authed, Authenticated};

impl Command for Status {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "STATUS",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let mut out = Vec::new();
        let target = match Names::new(&state.authed)
            .mailbox(&self.mailbox, Target::Other)
            .await
        {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let shown = state.authed.shown(&target);
        let selected = state.selected.as_deref();
        match write_status(
            &cx,
            &state.authed,
            selected,
            &target,
            &shown,
            &self.items,
            &mut out,
        )
        .await?
        {
            Ok(()) => {
                cx.out.send(&out).await?;
                Ok(Done::reply(Reply::ok("Status completed.")))
            }
            Err(reply) => Ok(Done::reply(reply)),
        }
    }
}

/// Asks `mailbox`'s owner's storage for its status and appends `* STATUS
/// shown (...)` (`shown`: the name as the client knows it); the reply when
/// storage refused. RECENT counts the messages no session has claimed
/// and, when `mailbox` is the session's `selected` one, those recent in
/// it (as Dovecot does; in a read-only session those are unclaimed ones,
/// so the larger count).
pub(crate) async fn write_status(
    cx: &Cx,
    authed: &Authed,
    selected: Option<&Mailbox>,
    mailbox: &MailboxRef,
    shown: &str,
    items: &[StatusItem],
    out: &mut Vec<u8>,
) -> Result<Result<(), Reply>, ImapError> {
    let request = MailboxStatusRequest {
        owner: mailbox.owner.clone(),
        name: mailbox.name.clone(),
        // IMAP4rev2 has no RECENT item: asked only in IMAP4rev1.
        with_recent: items.contains(&StatusItem::Recent),
    };
    let status = match authed
        .call(&mailbox.owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().mailbox_status(request).await }
        })
        .await
    {
        Ok(response) => response.status.unwrap_or_default(),
        Err(e) => return Ok(Err(storage_reply(&e, Target::Other))),
    };
    let values: Vec<StatusValue> = items
        .iter()
        .filter_map(|&item| {
            Some(match item {
                StatusItem::Messages => StatusValue::Messages(status.messages),
                StatusItem::Recent => StatusValue::Recent(match selected {
                    // A read-only session's recent messages are ones no
                    // session claimed: counted once.
                    Some(s) if s.is(mailbox) && s.read_only => {
                        s.view().recent_count().max(status.recent)
                    }
                    Some(s) if s.is(mailbox) => {
                        s.view().recent_count().saturating_add(status.recent)
                    }
                    _ => status.recent,
                }),
                StatusItem::UidNext => StatusValue::UidNext(status.uidnext),
                StatusItem::UidValidity => StatusValue::UidValidity(status.uidvalidity),
                StatusItem::Unseen => StatusValue::Unseen(status.unseen),
                StatusItem::Deleted => StatusValue::Deleted(status.deleted),
                StatusItem::Size => StatusValue::Size(status.size),
                StatusItem::HighestModSeq => StatusValue::HighestModSeq(status.highestmodseq),
                StatusItem::AppendLimit => {
                    StatusValue::AppendLimit(Some(cx.process.settings.limits.max_append))
                }
                StatusItem::MailboxId if !status.mailbox_id.is_empty() => {
                    StatusValue::MailboxId(status.mailbox_id.clone())
                }
                // RFC 9208 §4.3: in units of 1024 octets, as STORAGE.
                StatusItem::DeletedStorage => {
                    StatusValue::DeletedStorage(status.deleted_size / 1024)
                }
                StatusItem::MailboxId => return None,
            })
        })
        .collect();
    status_line(out, cx.enabled.encoder(), shown, &values);
    Ok(Ok(()))
}

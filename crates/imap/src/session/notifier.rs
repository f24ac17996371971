//! NOTIFY (RFC 5465): what the client asked to hear about, and turning the
//! owner's change stream (Watch over every mailbox) into unsolicited
//! responses: the selected mailbox's changes as usual (EXISTS, EXPUNGE or
//! VANISHED, FETCH), other mailboxes' as STATUS, and the mailbox list's as
//! LIST.

use std::collections::BTreeSet;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{
    ListItem, MailboxAttribute, NotifyEvent, NotifyMailboxes, NotifySet, StatusValue, list,
    status_line,
};
use mailkeep_storage_rpc::storage::{
    ListChangeKind, MailboxEvent, MailboxStatusRequest, WatchChangeKind, WatchRequest,
    mailbox_event,
};
use tonic::Streaming;

use crate::cmd::common::DELIMITER;
use crate::errors::ImapError;
use crate::io::Output;
use crate::session::enabled::Enabled;
use crate::session::state::Authed;

/// What one event means for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The selected mailbox changed: sync it.
    Selected,
    /// Another mailbox's messages changed: send its STATUS.
    Status(String),
    /// The mailbox list changed: send this LIST line.
    List(Vec<u8>),
    /// Nothing the client asked for.
    Nothing,
}

/// A session's active NOTIFY SET.
pub(crate) struct Notifier {
    set: NotifySet,
    watch: Streaming<MailboxEvent>,
    /// The owner's subscriptions, for SUBSCRIBED (kept current by events).
    subscribed: BTreeSet<String>,
}

impl Notifier {
    /// Starts watching every mailbox of the owner for `set`.
    pub(crate) async fn start(
        authed: &Authed,
        set: NotifySet,
        subscribed: BTreeSet<String>,
    ) -> Result<Notifier, crate::errors::ImapError> {
        let request = WatchRequest {
            owner: authed.user().to_owned(),
            mailbox: String::new(),
        };
        let watch = authed
            .call(authed.user(), Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.watch().watch(request).await }
            })
            .await
            .map_err(|e| ImapError::Broken(format!("no change stream for NOTIFY: {e}")))?;
        Ok(Notifier {
            set,
            watch,
            subscribed,
        })
    }

    /// The next event, or `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<MailboxEvent> {
        self.watch.message().await.ok().flatten()
    }

    /// Whether the selected mailbox's expunges wait for a command
    /// (SELECTED-DELAYED).
    pub(crate) fn delays_expunges(&self) -> bool {
        self.set
            .groups
            .iter()
            .any(|g| g.mailboxes == NotifyMailboxes::SelectedDelayed)
    }

    /// The mailboxes the STATUS option names now (NOTIFY SET STATUS).
    pub(crate) fn status_mailboxes(&self, all: &[String], selected: Option<&str>) -> Vec<String> {
        all.iter()
            .filter(|name| Some(name.as_str()) != selected)
            .filter(|name| self.events_for(name, false).is_some_and(|e| !e.is_empty()))
            .cloned()
            .collect()
    }

    /// The events asked for `mailbox` (the first group that names it
    /// decides, RFC 5465 §6), `None` when no group does.
    fn events_for(&self, mailbox: &str, selected: bool) -> Option<&[NotifyEvent]> {
        for group in &self.set.groups {
            let named = match &group.mailboxes {
                NotifyMailboxes::Selected | NotifyMailboxes::SelectedDelayed => selected,
                NotifyMailboxes::Inboxes => mailbox == "INBOX",
                NotifyMailboxes::Personal => true,
                NotifyMailboxes::Subscribed => self.subscribed.contains(mailbox),
                NotifyMailboxes::Subtree(roots) => roots.iter().any(|r| {
                    mailbox == r
                        || mailbox
                            .strip_prefix(r.as_str())
                            .is_some_and(|rest| rest.starts_with(DELIMITER))
                }),
                NotifyMailboxes::Mailboxes(names) => names.iter().any(|n| n == mailbox),
            };
            if named {
                return Some(group.events.as_deref().unwrap_or(&[]));
            }
        }
        None
    }

    /// What `event` means for a client with `selected` selected.
    pub(crate) fn notice(
        &mut self,
        event: &MailboxEvent,
        selected: Option<&str>,
        enabled: Enabled,
    ) -> Notice {
        match &event.event {
            Some(mailbox_event::Event::Changed(changed)) => {
                let is_selected = Some(changed.mailbox.as_str()) == selected;
                let Some(events) = self.events_for(&changed.mailbox, is_selected) else {
                    return Notice::Nothing;
                };
                let kind =
                    WatchChangeKind::try_from(changed.kind).unwrap_or(WatchChangeKind::Changed);
                let wanted = events.iter().any(|e| match (e, kind) {
                    (_, WatchChangeKind::Changed) => e.is_message_event(),
                    (NotifyEvent::MessageNew(_), WatchChangeKind::NewMessages) => true,
                    (NotifyEvent::MessageExpunge, WatchChangeKind::Expunge) => true,
                    (NotifyEvent::FlagChange, WatchChangeKind::Flags) => true,
                    _ => false,
                });
                match (wanted, is_selected) {
                    (false, _) => Notice::Nothing,
                    (true, true) => Notice::Selected,
                    (true, false) => Notice::Status(changed.mailbox.clone()),
                }
            }
            Some(mailbox_event::Event::List(change)) => {
                let kind = ListChangeKind::try_from(change.kind).unwrap_or(ListChangeKind::Created);
                match kind {
                    ListChangeKind::Subscribed => {
                        self.subscribed.insert(change.name.clone());
                    }
                    ListChangeKind::Unsubscribed => {
                        self.subscribed.remove(&change.name);
                    }
                    _ => {}
                }
                let name = if kind == ListChangeKind::Renamed {
                    &change.new_name
                } else {
                    &change.name
                };
                let event = match kind {
                    ListChangeKind::Subscribed | ListChangeKind::Unsubscribed => {
                        NotifyEvent::SubscriptionChange
                    }
                    _ => NotifyEvent::MailboxName,
                };
                let asked = self
                    .events_for(name, Some(name.as_str()) == selected)
                    .is_some_and(|events| events.contains(&event));
                if !asked {
                    return Notice::Nothing;
                }
                let mut item = ListItem::new(name.clone(), Some(DELIMITER));
                match kind {
                    ListChangeKind::Deleted => item.attributes.push(MailboxAttribute::NonExistent),
                    ListChangeKind::Renamed => item.old_name = Some(change.name.clone()),
                    ListChangeKind::Subscribed => {
                        item.attributes.push(MailboxAttribute::Subscribed)
                    }
                    ListChangeKind::Created | ListChangeKind::Unsubscribed => {}
                }
                let mut out = Vec::new();
                list(&mut out, enabled.encoder(), &item);
                Notice::List(out)
            }
            // Events were lost: the selected mailbox is synced; other
            // mailboxes' states are not resent (the client may STATUS).
            Some(mailbox_event::Event::Resync(_)) => {
                if selected.is_some() {
                    Notice::Selected
                } else {
                    Notice::Nothing
                }
            }
            None => Notice::Nothing,
        }
    }
}

/// Sends `* STATUS mailbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN
/// [HIGHESTMODSEQ])`, the form RFC 5465 §5.1 gives for changes in a
/// mailbox other than the selected one. A mailbox that cannot be asked is
/// skipped.
pub(crate) async fn send_status(
    authed: &Authed,
    out: &Output,
    mailbox: &str,
    enabled: Enabled,
) -> Result<(), ImapError> {
    let request = MailboxStatusRequest {
        owner: authed.user().to_owned(),
        name: mailbox.to_owned(),
    };
    let status = match authed
        .call(authed.user(), Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().mailbox_status(request).await }
        })
        .await
    {
        Ok(response) => response.status.unwrap_or_default(),
        Err(e) => {
            tracing::debug!(mailbox, error = %e, "no status for a notification");
            return Ok(());
        }
    };
    let mut values = vec![
        StatusValue::Messages(status.messages),
        StatusValue::UidNext(status.uidnext),
        StatusValue::UidValidity(status.uidvalidity),
        StatusValue::Unseen(status.unseen),
    ];
    if enabled.condstore {
        values.push(StatusValue::HighestModSeq(status.highestmodseq));
    }
    let mut bytes = Vec::new();
    status_line(&mut bytes, enabled.encoder(), mailbox, &values);
    out.send(&bytes).await?;
    Ok(())
}

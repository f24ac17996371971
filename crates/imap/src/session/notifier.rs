//! NOTIFY (RFC 5465): what the client asked to hear about, and turning the
//! user's change stream (Watch over every own mailbox), and one stream of
//! every other owner the set covers (`shared_notify.rs`), into unsolicited
//! responses: the selected mailbox's changes as usual (EXISTS, EXPUNGE or
//! VANISHED, FETCH), other mailboxes' as STATUS, and the mailbox list's
//! (the user's own, and other owners' as the user sees them) as LIST.

use std::collections::BTreeSet;
use std::sync::Arc;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{
    FetchAttribute, ListItem, MailboxAttribute, NotifyEvent, NotifyMailboxes, NotifySet,
    StatusValue, list, status_line,
};
use mailkeep_storage_rpc::storage::{
    ListChangeKind, MailboxEvent, MailboxStatusRequest, WatchChangeKind, WatchRequest,
    mailbox_event,
};
use tonic::Streaming;

use crate::cmd::common::DELIMITER;
use crate::errors::ImapError;
use crate::io::Output;
use crate::namespace::MailboxRef;
use crate::session::enabled::Enabled;
use crate::session::shared_notify::{ListDiff, OtherArrival, Others, elsewhere, within};
use crate::session::state::Authed;

/// What one event means for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The selected mailbox changed: sync it.
    Selected,
    /// Another mailbox's messages changed: send its STATUS.
    Status(MailboxRef),
    /// The mailbox list changed: send this LIST line.
    List(Vec<u8>),
}

/// What arrived on one of the notifier's change streams.
#[derive(Debug)]
pub(crate) enum Arrival {
    /// From the user's own change stream.
    Own(MailboxEvent),
    /// From the streams of other owners (`shared_notify.rs`).
    Other(OtherArrival),
}

/// A session's active NOTIFY SET.
pub(crate) struct Notifier {
    /// The logged-in user, whose own stream `watch` is.
    user: String,
    set: NotifySet,
    watch: Streaming<MailboxEvent>,
    /// Other owners the set covers, one stream each; empty (and never
    /// polled) for a set that names none.
    others: Others,
    /// The user's subscriptions, for SUBSCRIBED (kept current by events).
    subscribed: BTreeSet<String>,
    /// Names of other owners' mailboxes subscribed to since the last
    /// [`Notifier::watch_subscribed`], while SUBSCRIBED is asked for.
    newly_subscribed: Vec<String>,
}

impl Notifier {
    /// Starts watching every mailbox of the user for `set`, and every
    /// other owner it covers whose storage lets the user watch. Fails only
    /// when the user's own stream cannot start.
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
                crate::session::watch_call::watch(rpc, request)
            })
            .await
            .map_err(|e| ImapError::Broken(format!("no change stream for NOTIFY: {e}")))?;
        let others = Others::start(authed, &set, &subscribed).await;
        Ok(Notifier {
            user: authed.user().to_owned(),
            set,
            watch,
            others,
            subscribed,
            newly_subscribed: Vec::new(),
        })
    }

    /// Starts watching the owners of the other owners' mailboxes
    /// subscribed to since the last call (SUBSCRIBED covers them from now
    /// on); nothing to do, and no call, otherwise.
    pub(crate) async fn watch_subscribed(&mut self, authed: &Authed) {
        if self.newly_subscribed.is_empty() {
            return;
        }
        let names = std::mem::take(&mut self.newly_subscribed);
        self.others.watch_names(authed, &names).await;
    }

    /// The next arrival, or `None` when the user's own stream ended
    /// (other owners' streams that end are started again). Cancel-safe.
    pub(crate) async fn next(&mut self) -> Option<Arrival> {
        if self.others.is_idle() {
            return self.watch.message().await.ok().flatten().map(Arrival::Own);
        }
        tokio::select! {
            own = self.watch.message() => own.ok().flatten().map(Arrival::Own),
            other = self.others.next() => Some(Arrival::Other(other)),
        }
    }

    /// The items NOTIFY's MessageNew asks to be fetched of each message
    /// that arrives in the selected mailbox (RFC 5465 §5.2), given its
    /// client name; `None` when the group naming it asks none.
    pub(crate) fn new_message_items(
        &self,
        selected: &str,
        own: bool,
    ) -> Option<Arc<[FetchAttribute]>> {
        self.events_for(selected, true, own)?
            .iter()
            .find_map(|event| match event {
                NotifyEvent::MessageNew(items) if !items.is_empty() => {
                    Some(items.as_slice().into())
                }
                _ => None,
            })
    }

    /// Whether the selected mailbox's expunges wait for a command
    /// (SELECTED-DELAYED).
    pub(crate) fn delays_expunges(&self) -> bool {
        self.set
            .groups
            .iter()
            .any(|g| g.mailboxes == NotifyMailboxes::SelectedDelayed)
    }

    /// The mailboxes the STATUS option names now (NOTIFY SET STATUS): of
    /// `all` (the user's own mailboxes), and of the other owners watched,
    /// those the set asks message events for, but never `selected`.
    pub(crate) fn status_mailboxes(
        &self,
        all: &[String],
        selected: Option<&MailboxRef>,
        authed: &Authed,
    ) -> Vec<MailboxRef> {
        let own = all
            .iter()
            .map(|name| MailboxRef {
                owner: self.user.clone(),
                name: name.clone(),
            })
            .filter(|m| {
                self.events_for(&m.name, false, true)
                    .is_some_and(|e| !e.is_empty())
            });
        let others: Vec<MailboxRef> = self
            .others
            .mailboxes()
            .filter(|m| self.other_wants_messages(authed, m))
            .collect();
        own.chain(others).filter(|m| Some(m) != selected).collect()
    }

    /// Whether the set asks message events of `mailbox`, another owner's.
    fn other_wants_messages(&self, authed: &Authed, mailbox: &MailboxRef) -> bool {
        self.others.shown(authed, mailbox).is_some_and(|shown| {
            self.events_for(&shown, false, false)
                .is_some_and(|events| events.iter().any(NotifyEvent::is_message_event))
        })
    }

    /// The events asked for `mailbox` (a client name; `own`: one of the
    /// user's own), the first group that names it deciding (RFC 5465 §6);
    /// `None` when no group does. PERSONAL and INBOXES name only the
    /// user's own mailboxes.
    fn events_for(&self, mailbox: &str, selected: bool, own: bool) -> Option<&[NotifyEvent]> {
        for group in &self.set.groups {
            let named = match &group.mailboxes {
                NotifyMailboxes::Selected | NotifyMailboxes::SelectedDelayed => selected,
                NotifyMailboxes::Inboxes => own && mailbox == "INBOX",
                NotifyMailboxes::Personal => own,
                NotifyMailboxes::Subscribed => self.subscribed.contains(mailbox),
                NotifyMailboxes::Subtree(roots) => roots.iter().any(|r| within(mailbox, r)),
                NotifyMailboxes::Mailboxes(names) => names.iter().any(|n| n == mailbox),
            };
            if named {
                return Some(group.events.as_deref().unwrap_or(&[]));
            }
        }
        None
    }

    /// What `arrival` means for a client with `selected` selected: none,
    /// one or (after lost events) several notices.
    pub(crate) async fn notices(
        &mut self,
        authed: &Authed,
        arrival: Arrival,
        selected: Option<&MailboxRef>,
        enabled: Enabled,
    ) -> Vec<Notice> {
        match arrival {
            Arrival::Own(event) => self
                .own_notice(&event, selected, enabled)
                .into_iter()
                .collect(),
            Arrival::Other(OtherArrival::Event(owner, event)) => {
                self.other_event(authed, &owner, &event, selected, enabled)
                    .await
            }
            Arrival::Other(OtherArrival::Restart(owner)) => {
                let Some((diff, now)) = self.others.restart(authed, &owner).await else {
                    return Vec::new();
                };
                // Anything may have changed while the stream was down.
                let mut notices = self.diff_notices(authed, diff, selected, enabled);
                notices.extend(self.statuses(authed, now.into_iter(), selected));
                notices
            }
            Arrival::Other(OtherArrival::Refresh) => {
                let diff = self
                    .others
                    .refresh(authed, &self.set, &self.subscribed)
                    .await;
                self.diff_notices(authed, diff, selected, enabled)
            }
        }
    }

    /// STATUS notices of those of `mailboxes` (other owners') the set asks
    /// message events for, but the selected one.
    fn statuses(
        &self,
        authed: &Authed,
        mailboxes: impl Iterator<Item = MailboxRef>,
        selected: Option<&MailboxRef>,
    ) -> Vec<Notice> {
        mailboxes
            .filter(|m| Some(m) != selected && self.other_wants_messages(authed, m))
            .map(Notice::Status)
            .collect()
    }

    /// LIST notices of changes of the user's view of other owners' lists
    /// that the set asks MailboxName for.
    fn diff_notices(
        &self,
        authed: &Authed,
        diff: Vec<ListDiff>,
        selected: Option<&MailboxRef>,
        enabled: Enabled,
    ) -> Vec<Notice> {
        diff.into_iter()
            .filter_map(|change| {
                let (mailbox, kind) = match change {
                    ListDiff::Created(m) => (m, ListChangeKind::Created),
                    ListDiff::Deleted(m) => (m, ListChangeKind::Deleted),
                };
                let shown = self.others.shown(authed, &mailbox)?;
                self.list_notice(
                    &shown,
                    None,
                    kind,
                    Some(&mailbox) == selected,
                    false,
                    enabled,
                )
            })
            .collect()
    }

    /// The LIST notice of a change of kind `kind` of the mailbox the
    /// client names `name` (`old`: its name before a rename), when the
    /// set asks the event for it.
    fn list_notice(
        &self,
        name: &str,
        old: Option<&str>,
        kind: ListChangeKind,
        selected: bool,
        own: bool,
        enabled: Enabled,
    ) -> Option<Notice> {
        let event = match kind {
            ListChangeKind::Subscribed | ListChangeKind::Unsubscribed => {
                NotifyEvent::SubscriptionChange
            }
            ListChangeKind::Created | ListChangeKind::Deleted | ListChangeKind::Renamed => {
                NotifyEvent::MailboxName
            }
            ListChangeKind::Rights => return None,
        };
        let asked = self
            .events_for(name, selected, own)
            .is_some_and(|events| events.contains(&event));
        if !asked {
            return None;
        }
        let mut item = ListItem::new(name.to_owned(), Some(DELIMITER));
        match kind {
            ListChangeKind::Deleted => item.attributes.push(MailboxAttribute::NonExistent),
            ListChangeKind::Renamed => item.old_name = old.map(str::to_owned),
            ListChangeKind::Subscribed => item.attributes.push(MailboxAttribute::Subscribed),
            ListChangeKind::Created | ListChangeKind::Unsubscribed | ListChangeKind::Rights => {}
        }
        let mut out = Vec::new();
        list(&mut out, enabled.encoder(), &item);
        Some(Notice::List(out))
    }

    /// What an event of the user's own stream means.
    fn own_notice(
        &mut self,
        event: &MailboxEvent,
        selected: Option<&MailboxRef>,
        enabled: Enabled,
    ) -> Option<Notice> {
        // A selected mailbox of another owner is never among its events.
        let selected = selected
            .filter(|m| m.owner == self.user)
            .map(|m| m.name.as_str());
        match &event.event {
            Some(mailbox_event::Event::Changed(changed)) => {
                let is_selected = Some(changed.mailbox.as_str()) == selected;
                let events = self.events_for(&changed.mailbox, is_selected, true)?;
                match (wants(events, changed.kind), is_selected) {
                    (false, _) => None,
                    (true, true) => Some(Notice::Selected),
                    (true, false) => Some(Notice::Status(MailboxRef {
                        owner: self.user.clone(),
                        name: changed.mailbox.clone(),
                    })),
                }
            }
            Some(mailbox_event::Event::List(change)) => {
                // An unknown kind (a newer storage) is nothing to report.
                let kind = ListChangeKind::try_from(change.kind).ok()?;
                match kind {
                    ListChangeKind::Subscribed => {
                        self.subscribed.insert(change.name.clone());
                        if elsewhere(&change.name)
                            && self
                                .set
                                .groups
                                .iter()
                                .any(|g| g.mailboxes == NotifyMailboxes::Subscribed)
                        {
                            self.newly_subscribed.push(change.name.clone());
                        }
                    }
                    ListChangeKind::Unsubscribed => {
                        self.subscribed.remove(&change.name);
                    }
                    _ => {}
                }
                let (name, old) = if kind == ListChangeKind::Renamed {
                    (&change.new_name, Some(change.name.as_str()))
                } else {
                    (&change.name, None)
                };
                // The user's subscriptions name other owners' mailboxes
                // too (`shared.…`): those are not personal.
                let own = !elsewhere(name);
                let is_selected = own && Some(name.as_str()) == selected;
                self.list_notice(name, old, kind, is_selected, own, enabled)
            }
            // Events were lost: the selected mailbox is synced; other
            // mailboxes' states are not resent (the client may STATUS).
            Some(mailbox_event::Event::Resync(_)) => selected.map(|_| Notice::Selected),
            None => None,
        }
    }

    /// What an event of another owner's stream means: message changes as
    /// STATUS (the selected mailbox is followed by its own watcher, so
    /// nothing for it), changes of the list as the user sees it as LIST.
    async fn other_event(
        &mut self,
        authed: &Authed,
        owner: &str,
        event: &MailboxEvent,
        selected: Option<&MailboxRef>,
        enabled: Enabled,
    ) -> Vec<Notice> {
        let mailbox = |name: &str| MailboxRef {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        match &event.event {
            Some(mailbox_event::Event::Changed(changed)) => {
                let changed_mailbox = mailbox(&changed.mailbox);
                if selected == Some(&changed_mailbox) {
                    return Vec::new();
                }
                let Some(shown) = self.others.shown(authed, &changed_mailbox) else {
                    return Vec::new();
                };
                match self.events_for(&shown, false, false) {
                    Some(events) if wants(events, changed.kind) => {
                        vec![Notice::Status(changed_mailbox)]
                    }
                    _ => Vec::new(),
                }
            }
            Some(mailbox_event::Event::List(change)) => {
                let Ok(kind) = ListChangeKind::try_from(change.kind) else {
                    return Vec::new();
                };
                let (now, old) = match kind {
                    ListChangeKind::Created => (mailbox(&change.name), None),
                    ListChangeKind::Deleted => (mailbox(&change.name), None),
                    ListChangeKind::Renamed => {
                        (mailbox(&change.new_name), Some(mailbox(&change.name)))
                    }
                    // The owner's subscriptions are the owner's.
                    _ => return Vec::new(),
                };
                let old_shown = old.as_ref().and_then(|m| self.others.shown(authed, m));
                match kind {
                    ListChangeKind::Created => self.others.listed(owner, Some(&now.name), None),
                    ListChangeKind::Deleted => self.others.listed(owner, None, Some(&now.name)),
                    _ => self.others.listed(
                        owner,
                        Some(&now.name),
                        old.as_ref().map(|m| m.name.as_str()),
                    ),
                }
                let Some(shown) = self.others.shown(authed, &now) else {
                    return Vec::new();
                };
                let is_selected = Some(&now) == selected;
                self.list_notice(
                    &shown,
                    old_shown.as_deref(),
                    kind,
                    is_selected,
                    false,
                    enabled,
                )
                .into_iter()
                .collect()
            }
            // Events were lost: the list is read again, and every mailbox
            // may have changed.
            Some(mailbox_event::Event::Resync(_)) => {
                let diff = self.others.relist(authed, owner).await;
                let mut notices = self.diff_notices(authed, diff, selected, enabled);
                let now: Vec<MailboxRef> = self
                    .others
                    .mailboxes()
                    .filter(|m| m.owner == owner)
                    .collect();
                notices.extend(self.statuses(authed, now.into_iter(), selected));
                notices
            }
            None => Vec::new(),
        }
    }
}

/// Whether a change of `kind` (a [`WatchChangeKind`]) is one of `events`.
fn wants(events: &[NotifyEvent], kind: i32) -> bool {
    let kind = WatchChangeKind::try_from(kind).unwrap_or(WatchChangeKind::Changed);
    events.iter().any(|e| match (e, kind) {
        (_, WatchChangeKind::Changed) => e.is_message_event(),
        (NotifyEvent::MessageNew(_), WatchChangeKind::NewMessages) => true,
        (NotifyEvent::MessageExpunge, WatchChangeKind::Expunge) => true,
        (NotifyEvent::FlagChange, WatchChangeKind::Flags) => true,
        _ => false,
    })
}

/// Sends `* STATUS mailbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN
/// [HIGHESTMODSEQ])`, the form RFC 5465 §5.1 gives for changes in a
/// mailbox other than the selected one, asked of the mailbox's owner and
/// named as the client sees it. A mailbox that cannot be asked is skipped.
pub(crate) async fn send_status(
    authed: &Authed,
    out: &Output,
    mailbox: &MailboxRef,
    enabled: Enabled,
) -> Result<(), ImapError> {
    let request = MailboxStatusRequest {
        owner: mailbox.owner.clone(),
        name: mailbox.name.clone(),
        with_recent: false,
    };
    let shown = authed.shown(mailbox);
    let status = match authed
        .call(&mailbox.owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().mailbox_status(request).await }
        })
        .await
    {
        Ok(response) => response.status.unwrap_or_default(),
        Err(e) => {
            tracing::debug!(mailbox = %shown, error = %e, "no status for a notification");
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
    status_line(&mut bytes, enabled.encoder(), &shown, &values);
    out.send(&bytes).await?;
    Ok(())
}

//! NOTIFY (RFC 5465): what the client asked to hear about, and turning the
//! user's change stream (Watch over every own mailbox), and one stream per
//! named mailbox of other owners (`shared_notify.rs`), into unsolicited
//! responses: the selected mailbox's changes as usual (EXISTS, EXPUNGE or
//! VANISHED, FETCH), other mailboxes' as STATUS, and the mailbox list's as
//! LIST.

use std::collections::BTreeSet;
use std::sync::Arc;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{
    ListItem, MailboxAttribute, NotifyEvent, NotifyMailboxes, NotifySet, StatusValue, list,
    status_line,
};
use mailkeep_storage_rpc::storage::{
    ListChangeKind, MailboxEvent, MailboxStatusRequest, WatchChangeKind, WatchRequest,
    mailbox_event,
};
use tokio_stream::StreamExt;
use tonic::Streaming;

use crate::cmd::common::DELIMITER;
use crate::errors::ImapError;
use crate::io::Output;
use crate::namespace::{MailboxRef, is_public, is_shared};
use crate::session::enabled::Enabled;
use crate::session::shared_notify::{self, SharedEvents, Watched, within};
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
    /// Nothing the client asked for.
    Nothing,
}

/// An event from one of the notifier's change streams.
#[derive(Debug)]
pub(crate) enum Arrival {
    /// From the user's own change stream.
    Own(MailboxEvent),
    /// From the stream of another owner's mailbox.
    Shared(Arc<Watched>, MailboxEvent),
}

/// A session's active NOTIFY SET.
pub(crate) struct Notifier {
    /// The logged-in user, whose own stream `watch` is.
    user: String,
    set: NotifySet,
    watch: Streaming<MailboxEvent>,
    /// Other owners' mailboxes the set names and their storage let the
    /// user watch; empty (and never polled) for a set that names none.
    watched: Vec<Arc<Watched>>,
    shared: SharedEvents,
    /// The user's subscriptions, for SUBSCRIBED (kept current by events).
    subscribed: BTreeSet<String>,
    /// Names of other owners' mailboxes subscribed to since the last
    /// [`Notifier::watch_subscribed`], while SUBSCRIBED is asked for.
    newly_subscribed: Vec<String>,
}

impl Notifier {
    /// Starts watching every mailbox of the user for `set`, and each
    /// mailbox of other owners it names that their storage lets the user
    /// watch. Fails only when the user's own stream cannot start.
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
        let mut notifier = Notifier {
            user: authed.user().to_owned(),
            set,
            watch,
            watched: Vec::new(),
            shared: SharedEvents::new(),
            subscribed,
            newly_subscribed: Vec::new(),
        };
        let named =
            shared_notify::named_mailboxes(authed, &notifier.set, &notifier.subscribed).await;
        notifier.watch_shared(authed, named).await;
        Ok(notifier)
    }

    /// Starts watching those of `named` (other owners' mailboxes) whose
    /// message events the set asks for and that are not watched yet.
    async fn watch_shared(&mut self, authed: &Authed, named: Vec<Watched>) {
        let wanted: Vec<Watched> = named
            .into_iter()
            .filter(|w| {
                self.events_for(&w.shown, false, false)
                    .is_some_and(|events| events.iter().any(NotifyEvent::is_message_event))
            })
            .filter(|w| {
                !self.watched.iter().enumerate().any(|(key, watched)| {
                    watched.mailbox == w.mailbox && self.shared.contains_key(&key)
                })
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        for (watched, stream) in shared_notify::watch_each(authed, wanted).await {
            self.shared.insert(self.watched.len(), stream);
            self.watched.push(Arc::new(watched));
        }
    }

    /// Starts watching the other owners' mailboxes subscribed to since
    /// the last call (SUBSCRIBED covers them from now on); nothing to do,
    /// and no call, otherwise.
    pub(crate) async fn watch_subscribed(&mut self, authed: &Authed) {
        if self.newly_subscribed.is_empty() {
            return;
        }
        let names = std::mem::take(&mut self.newly_subscribed);
        let named = shared_notify::subscribed_mailboxes(authed, &names).await;
        self.watch_shared(authed, named).await;
    }

    /// The next event, or `None` when the user's own stream ended (other
    /// owners' streams that end or fail just stop).
    pub(crate) async fn next(&mut self) -> Option<Arrival> {
        loop {
            if self.shared.is_empty() {
                return self.watch.message().await.ok().flatten().map(Arrival::Own);
            }
            let (key, event) = tokio::select! {
                own = self.watch.message() => return own.ok().flatten().map(Arrival::Own),
                Some(shared) = self.shared.next() => shared,
            };
            let Some(mailbox) = self.watched.get(key) else {
                continue;
            };
            match event {
                Ok(event) => return Some(Arrival::Shared(Arc::clone(mailbox), event)),
                Err(e) => {
                    tracing::debug!(mailbox = %mailbox.shown, error = %e, "a shared mailbox's change stream ended");
                    self.shared.remove(&key);
                }
            }
        }
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
    /// `all` (the user's own mailboxes), and the watched mailboxes of other
    /// owners, but never `selected`.
    pub(crate) fn status_mailboxes(
        &self,
        all: &[String],
        selected: Option<&MailboxRef>,
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
        let shared = self.watched.iter().map(|w| w.mailbox.clone());
        own.chain(shared).filter(|m| Some(m) != selected).collect()
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

    /// What `arrival` means for a client with `selected` selected.
    pub(crate) fn notice(
        &mut self,
        arrival: &Arrival,
        selected: Option<&MailboxRef>,
        enabled: Enabled,
    ) -> Notice {
        let event = match arrival {
            Arrival::Own(event) => event,
            Arrival::Shared(watched, event) => return self.shared_notice(watched, event, selected),
        };
        // The user's own stream: a selected mailbox of another owner is
        // never among its events.
        let selected = selected
            .filter(|m| m.owner == self.user)
            .map(|m| m.name.as_str());
        match &event.event {
            Some(mailbox_event::Event::Changed(changed)) => {
                let is_selected = Some(changed.mailbox.as_str()) == selected;
                let Some(events) = self.events_for(&changed.mailbox, is_selected, true) else {
                    return Notice::Nothing;
                };
                match (wants(events, changed.kind), is_selected) {
                    (false, _) => Notice::Nothing,
                    (true, true) => Notice::Selected,
                    (true, false) => Notice::Status(MailboxRef {
                        owner: self.user.clone(),
                        name: changed.mailbox.clone(),
                    }),
                }
            }
            Some(mailbox_event::Event::List(change)) => {
                let kind = ListChangeKind::try_from(change.kind).unwrap_or(ListChangeKind::Created);
                match kind {
                    ListChangeKind::Subscribed => {
                        self.subscribed.insert(change.name.clone());
                        if (is_shared(&change.name) || is_public(&change.name))
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
                    .events_for(name, Some(name.as_str()) == selected, true)
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

    /// What an event of another owner's watched mailbox means: its
    /// message changes as STATUS. The selected mailbox is followed by its
    /// own watcher, so nothing here; the owner's mailbox list and
    /// subscriptions are the owner's, never reported.
    fn shared_notice(
        &self,
        watched: &Watched,
        event: &MailboxEvent,
        selected: Option<&MailboxRef>,
    ) -> Notice {
        if selected == Some(&watched.mailbox) {
            return Notice::Nothing;
        }
        let kind = match &event.event {
            Some(mailbox_event::Event::Changed(changed))
                if changed.mailbox == watched.mailbox.name =>
            {
                changed.kind
            }
            // Events were lost: the mailbox may have changed in any way.
            Some(mailbox_event::Event::Resync(_)) => WatchChangeKind::Changed as i32,
            _ => return Notice::Nothing,
        };
        match self.events_for(&watched.shown, false, false) {
            Some(events) if wants(events, kind) => Notice::Status(watched.mailbox.clone()),
            _ => Notice::Nothing,
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

//! A guest's Watch stream of every mailbox of an owner (a guest watching
//! one mailbox gets that mailbox's events only): a user watching another
//! owner's mailboxes sees
//! the owner's changes only as the ACLs let them see the owner's mail.
//! Message events pass for the mailboxes the guest may look up and read;
//! list events are recomputed from the mailboxes the guest may look up,
//! before and after the change, so a mailbox that a create, a rename or
//! an ACL change makes visible arrives as CREATED (or RENAMED), one that
//! becomes hidden as DELETED, and nothing reveals a mailbox the guest may
//! not see. Subscriptions are the owner's and never reach a guest.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use mailkeep_store::{DELIMITER, Rights, Store};
use tonic::Status;

use crate::gate::Gate;

/// The mailboxes a guest may look up, with the guest's rights there.
type Visible = BTreeMap<String, Rights>;

/// What one guest's stream has shown them of the owner's mailbox list.
pub(crate) struct GuestView {
    gate: Arc<Gate>,
    owner: String,
    store: Store,
    guest: String,
    visible: Visible,
    /// Events worked out but not sent yet (one change can make several).
    pending: VecDeque<pb::MailboxEvent>,
}

impl GuestView {
    /// The view of `guest` on `owner`'s mailboxes as they are now.
    pub(crate) async fn start(
        gate: Arc<Gate>,
        owner: String,
        store: Store,
        guest: String,
    ) -> Result<GuestView, Status> {
        let visible = read_visible(&gate, &owner, &store, &guest).await?;
        Ok(GuestView {
            gate,
            owner,
            store,
            guest,
            visible,
            pending: VecDeque::new(),
        })
    }

    /// The next event worked out and not sent yet.
    pub(crate) fn pending(&mut self) -> Option<pb::MailboxEvent> {
        self.pending.pop_front()
    }

    /// Works out what the guest is told of `event`; take them with
    /// [`GuestView::pending`].
    pub(crate) async fn take(&mut self, event: &pb::MailboxEvent) {
        match &event.event {
            Some(Event::Changed(c)) => {
                let shown = self
                    .visible
                    .get(&c.mailbox)
                    .is_some_and(|rights| rights.contains(Rights::READ));
                if shown {
                    // A delta's flags are the owner's: the guest asks.
                    let event = super::bus::without_delta(event.clone());
                    self.pending.push_back(event);
                }
            }
            Some(Event::List(l)) => {
                let kind = pb::ListChangeKind::try_from(l.kind).ok();
                let renamed = match kind {
                    Some(pb::ListChangeKind::Subscribed | pb::ListChangeKind::Unsubscribed) => {
                        return;
                    }
                    Some(pb::ListChangeKind::Renamed) => {
                        Some((l.name.as_str(), l.new_name.as_str()))
                    }
                    _ => None,
                };
                self.refresh(renamed).await;
            }
            Some(Event::Resync(_)) => {
                self.pending.push_back(event.clone());
                self.refresh(None).await;
            }
            None => {}
        }
    }

    /// Reads what the guest sees now and queues the difference; a read
    /// that fails queues a resync (the guest re-reads what it needs).
    async fn refresh(&mut self, renamed: Option<(&str, &str)>) {
        match read_visible(&self.gate, &self.owner, &self.store, &self.guest).await {
            Ok(now) => {
                self.pending
                    .extend(difference(&self.visible, &now, renamed));
                self.visible = now;
            }
            Err(status) => {
                tracing::debug!(owner = self.owner, error = %status, "a guest's view not re-read");
                self.pending.push_back(pb::MailboxEvent {
                    event: Some(Event::Resync(pb::WatchResync {})),
                });
            }
        }
    }
}

async fn read_visible(
    gate: &Gate,
    owner: &str,
    store: &Store,
    guest: &str,
) -> Result<Visible, Status> {
    let store = store.clone();
    let guest = guest.to_owned();
    let visible = gate
        .run(owner, move || store.mailboxes_visible_to(&guest))
        .await?;
    Ok(visible.into_iter().collect())
}

/// The list events that take a guest from seeing `before` to seeing
/// `now`; `renamed` (old, new): the change was that rename, so a mailbox
/// seen under the old name (or below it) and now under the new one is
/// RENAMED rather than DELETED and CREATED.
fn difference(
    before: &Visible,
    now: &Visible,
    renamed: Option<(&str, &str)>,
) -> Vec<pb::MailboxEvent> {
    let mut events = Vec::new();
    let mut arrived: Vec<&String> = now.keys().filter(|n| !before.contains_key(*n)).collect();
    for gone in before.keys().filter(|n| !now.contains_key(*n)) {
        let moved = renamed.and_then(|(from, to)| {
            let rest = gone.strip_prefix(from)?;
            (rest.is_empty() || rest.starts_with(DELIMITER)).then(|| format!("{to}{rest}"))
        });
        match moved.and_then(|new| arrived.iter().position(|n| **n == new)) {
            Some(at) => {
                let new = arrived.remove(at);
                events.push(listed(pb::ListChangeKind::Renamed, gone, new));
            }
            None => events.push(listed(pb::ListChangeKind::Deleted, gone, "")),
        }
    }
    events.extend(
        arrived
            .into_iter()
            .map(|name| listed(pb::ListChangeKind::Created, name, "")),
    );
    events
}

fn listed(kind: pb::ListChangeKind, name: &str, new_name: &str) -> pb::MailboxEvent {
    pb::MailboxEvent {
        event: Some(Event::List(pb::MailboxListChanged {
            kind: kind as i32,
            name: name.to_owned(),
            new_name: new_name.to_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(names: &[&str]) -> Visible {
        names
            .iter()
            .map(|n| ((*n).to_owned(), Rights::LOOKUP))
            .collect()
    }

    fn text(events: &[pb::MailboxEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.event {
                Some(Event::List(l)) => format!("{:?} {} {}", l.kind(), l.name, l.new_name)
                    .trim_end()
                    .to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn mailboxes_coming_into_view_are_created_and_leaving_it_deleted() {
        let before = seen(&["Projects", "Team"]);
        let now = seen(&["Projects", "Projects.2026", "Other"]);
        assert_eq!(
            text(&difference(&before, &now, None)),
            ["Deleted Team", "Created Other", "Created Projects.2026"]
        );
        assert!(difference(&now, &now, None).is_empty());
    }

    #[test]
    fn a_rename_the_guest_sees_both_sides_of_is_a_rename() {
        let before = seen(&["Projects", "Projects.2026", "Team"]);
        let now = seen(&["Work", "Work.2026", "Team"]);
        assert_eq!(
            text(&difference(&before, &now, Some(("Projects", "Work")))),
            ["Renamed Projects Work", "Renamed Projects.2026 Work.2026"]
        );
        // Renamed to where the guest cannot see it: gone.
        let hidden = seen(&["Team"]);
        assert_eq!(
            text(&difference(&before, &hidden, Some(("Projects", "Work")))),
            ["Deleted Projects", "Deleted Projects.2026"]
        );
        // A name that only starts like the old one is not below it.
        let before = seen(&["Projectsx"]);
        let now = seen(&["Workx"]);
        assert_eq!(
            text(&difference(&before, &now, Some(("Projects", "Work")))),
            ["Deleted Projectsx", "Created Workx"]
        );
    }
}

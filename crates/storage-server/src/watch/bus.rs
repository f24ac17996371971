//! Per-owner broadcast of change events, and the last state of every
//! mailbox that was announced (counters, subscription, ACL stamp), so
//! that the cross-process poller announces only what this process has
//! not already announced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mailkeep_storage_rpc::storage as pb;
use mailkeep_store::{INBOX, MailboxCounters};
use tokio::sync::broadcast;

use super::kernel::Notifier;

/// Events kept for the slowest watcher of an owner; a watcher further
/// behind gets a resync event instead (memory stays bounded). The slots
/// are allocated with the channel, for as long as anyone watches the
/// owner: few, and each a pointer (an [`Event`]), because a storage
/// process keeps thousands of owners watched whose channels stay empty.
pub(crate) const CAPACITY: usize = 16;

/// An event as the channel carries it: shared by its receivers, each of
/// which clones what it sends on.
pub(crate) type Event = Arc<pb::MailboxEvent>;

/// Every watched owner's channel. Owners nobody watches have no entry
/// (beyond the while an inotify-followed one lingers, see
/// [`ChangeBus::watcher_left`]), so publishing for them costs one map
/// lookup.
#[derive(Default)]
pub(crate) struct ChangeBus {
    owners: Mutex<HashMap<String, Arc<OwnerChanges>>>,
    /// The process's inotify watches of other processes' changes, started
    /// by the first watcher; `None` where inotify is not available (the
    /// owners' changes are then polled).
    kernel: OnceLock<Option<Arc<Notifier>>>,
    /// Watch streams open now (reported to the master with the load).
    streams: AtomicU32,
}

/// One owner's channel and announced state.
pub(crate) struct OwnerChanges {
    tx: broadcast::Sender<Event>,
    seen: Mutex<Seen>,
}

/// What watchers of one owner were last told.
#[derive(Default)]
struct Seen {
    mailboxes: HashMap<String, Announced>,
    /// Whether a change source (inotify watches or a poller) runs for
    /// this owner.
    polling: bool,
    /// Whether that source is the process's inotify [`Notifier`].
    kernel: bool,
    /// How many changes this process has published: a poller's read of the
    /// index taken before the latest of them may be older than what
    /// watchers were told, and is not reconciled.
    published: u64,
    /// Since when nobody watches the owner whose inotify watches are kept
    /// (see [`ChangeBus::watcher_left`]); `None` while someone does.
    unwatched_since: Option<Instant>,
}

/// A mailbox's counters as last announced; `uidvalidity == 0` marks a
/// mailbox created here whose counters the poller has not read yet.
#[derive(Debug, Clone, Copy, Default)]
struct Announced {
    uidvalidity: u32,
    uidnext: u32,
    highestmodseq: u64,
    subscribed: bool,
    /// The mailbox's ACL stamp (`MailboxCounters::acl_stamp`): when the
    /// index has another, its ACL changed, maybe in another process.
    acl: u64,
}

/// The canonical spelling of a mailbox name (INBOX is case-insensitive).
pub(crate) fn canonical(name: &str) -> String {
    if name.eq_ignore_ascii_case(INBOX) {
        INBOX.to_owned()
    } else {
        name.to_owned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Messages a [`pb::ChangeDelta`] may name at most: a bigger change is
/// announced without it (watchers call Changes), so that the few events
/// an owner's channel keeps stay small.
pub(crate) const MOST_IN_DELTA: usize = 256;

/// A mailbox event.
fn changed(
    mailbox: &str,
    a: Announced,
    kind: pb::WatchChangeKind,
    delta: Option<pb::ChangeDelta>,
) -> pb::MailboxEvent {
    pb::MailboxEvent {
        event: Some(pb::mailbox_event::Event::Changed(pb::MailboxChanged {
            mailbox: mailbox.to_owned(),
            uidvalidity: a.uidvalidity,
            highestmodseq: a.highestmodseq,
            kind: kind as i32,
            delta,
        })),
    }
}

/// The delta of a change made by the owner, unless it is too big to carry.
pub(crate) fn delta(
    previous_highestmodseq: u64,
    highestmodseq: u64,
    changed: impl ExactSizeIterator<Item = pb::MessageFlags>,
    vanished: &[u32],
) -> Option<pb::ChangeDelta> {
    (changed.len() + vanished.len() <= MOST_IN_DELTA).then(|| pb::ChangeDelta {
        previous_highestmodseq,
        highestmodseq,
        changed: changed.collect(),
        vanished: vanished.to_vec(),
        recent_claimed_through: 0,
    })
}

/// `event` without its delta: what a guest may be told (a delta's flags
/// are the owner's, and a guest's `\Seen` is its own).
pub(crate) fn without_delta(mut event: pb::MailboxEvent) -> pb::MailboxEvent {
    if let Some(pb::mailbox_event::Event::Changed(c)) = &mut event.event {
        c.delta = None;
    }
    event
}

/// A mailbox list event.
fn listed(kind: pb::ListChangeKind, name: &str, new_name: &str) -> pb::MailboxEvent {
    pb::MailboxEvent {
        event: Some(pb::mailbox_event::Event::List(pb::MailboxListChanged {
            kind: kind as i32,
            name: name.to_owned(),
            new_name: new_name.to_owned(),
        })),
    }
}

impl ChangeBus {
    /// Adds a watcher of `owner`. The second value is true when no poller
    /// runs for the owner yet: the caller must start one (or call
    /// [`ChangeBus::polling_stopped`] if it cannot).
    pub(crate) fn subscribe(
        &self,
        owner: &str,
    ) -> (Arc<OwnerChanges>, broadcast::Receiver<Event>, bool) {
        let mut owners = lock(&self.owners);
        let changes = owners
            .entry(owner.to_owned())
            .or_insert_with(|| {
                Arc::new(OwnerChanges {
                    tx: broadcast::channel(CAPACITY).0,
                    seen: Mutex::default(),
                })
            })
            .clone();
        let rx = changes.tx.subscribe();
        let start = {
            let mut seen = lock(&changes.seen);
            seen.unwatched_since = None;
            !std::mem::replace(&mut seen.polling, true)
        };
        (changes, rx, start)
    }

    /// How many Watch streams are open.
    pub(crate) fn watchers(&self) -> u32 {
        self.streams.load(Ordering::Relaxed)
    }

    /// A Watch stream was handed to its caller.
    pub(crate) fn stream_opened(&self) {
        self.streams.fetch_add(1, Ordering::Relaxed);
    }

    /// A Watch stream ended (its caller went away).
    pub(crate) fn stream_closed(&self) {
        // Never below zero, whatever a caller does.
        let _ = self
            .streams
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The process's inotify notifier, started at the first call; `None`
    /// (logged once) where the kernel or the sandbox refuses inotify.
    pub(crate) fn notifier(&self) -> Option<Arc<Notifier>> {
        self.kernel
            .get_or_init(|| match Notifier::start() {
                Ok(notifier) => Some(notifier),
                Err(e) => {
                    tracing::warn!(error = %e,
                        "no inotify: watched owners' indexes are polled for other processes' changes");
                    None
                }
            })
            .clone()
    }

    /// Called by the poller at each tick: when nobody watches `owner` any
    /// more, forgets the owner and returns true (the poller stops); true
    /// too when `changes` is no longer the owner's channel (the owner was
    /// forgotten, and maybe watched again with a poller of its own).
    /// Checked under the map's lock so that a watcher arriving meanwhile
    /// either finds the running poller or starts a new one.
    pub(crate) fn stop_if_unwatched(&self, owner: &str, changes: &Arc<OwnerChanges>) -> bool {
        let mut owners = lock(&self.owners);
        let Some(current) = owners.get(owner) else {
            return true;
        };
        if !Arc::ptr_eq(current, changes) {
            return true;
        }
        if changes.tx.receiver_count() > 0 {
            return false;
        }
        owners.remove(owner);
        true
    }

    /// A watcher of `owner` went away (its receiver is dropped). With none
    /// left, an owner followed by polling is forgotten (its poller notices
    /// at its next tick); one followed by inotify keeps its watches and
    /// what watchers were told, until [`ChangeBus::forget_lingering`]: a
    /// session that selects a mailbox, reads and logs out, again and
    /// again (a webmail request, a client that polls), then finds the
    /// source running instead of starting one (inotify watches added and
    /// removed, every mailbox's counters read on a store thread) at every
    /// selection it follows.
    /// Watches cost nothing while nothing changes.
    pub(crate) fn watcher_left(&self, owner: &str) {
        let forgotten = {
            let mut owners = lock(&self.owners);
            let Some(changes) = owners.get(owner) else {
                return;
            };
            if changes.tx.receiver_count() > 0 {
                return;
            }
            {
                let mut seen = lock(&changes.seen);
                if seen.kernel {
                    seen.unwatched_since.get_or_insert_with(Instant::now);
                    return;
                }
            }
            owners.remove(owner)
        };
        if let Some(changes) = forgotten
            && let Some(Some(notifier)) = self.kernel.get()
        {
            // A source that was still starting may have added watches.
            notifier.unwatch(owner, &changes);
        }
    }

    /// Forgets the owners nobody has watched for `idle_for` (see
    /// [`ChangeBus::watcher_left`]) and removes their inotify watches, as
    /// their stores are released; returns how many.
    pub(crate) fn forget_lingering(&self, idle_for: Duration) -> usize {
        let forgotten: Vec<(String, Arc<OwnerChanges>)> = {
            let mut owners = lock(&self.owners);
            let gone: Vec<String> = owners
                .iter()
                .filter(|(_, changes)| {
                    changes.tx.receiver_count() == 0
                        && lock(&changes.seen)
                            .unwatched_since
                            .is_some_and(|since| since.elapsed() >= idle_for)
                })
                .map(|(owner, _)| owner.clone())
                .collect();
            gone.into_iter()
                .filter_map(|owner| owners.remove(&owner).map(|changes| (owner, changes)))
                .collect()
        };
        if let Some(Some(notifier)) = self.kernel.get() {
            for (owner, changes) in &forgotten {
                // Only the watches of this channel: a watcher arriving
                // since registered new ones.
                notifier.unwatch(owner, changes);
            }
        }
        forgotten.len()
    }

    /// The change source of `owner` could not start or failed: the next
    /// watcher starts another.
    pub(crate) fn polling_stopped(&self, owner: &str) {
        if let Some(changes) = lock(&self.owners).get(owner) {
            let mut seen = lock(&changes.seen);
            seen.polling = false;
            seen.kernel = false;
        }
    }

    fn watched(&self, owner: &str) -> Option<Arc<OwnerChanges>> {
        lock(&self.owners).get(owner).cloned()
    }

    /// Announces a change of `mailbox`'s messages made in this process.
    /// `uidvalidity` 0 (the caller did not name one) takes the last known
    /// one; `uidnext` is the next UID after an append.
    pub(crate) fn publish_mailbox(
        &self,
        owner: &str,
        mailbox: &str,
        uidvalidity: u32,
        highestmodseq: u64,
        kind: pb::WatchChangeKind,
        uidnext: Option<u32>,
    ) {
        self.publish_whole(
            owner,
            mailbox,
            uidvalidity,
            highestmodseq,
            kind,
            uidnext,
            || None,
        );
    }

    /// [`ChangeBus::publish_mailbox`] with the change whole, made by
    /// `delta` (see [`delta`]) only when somebody watches the owner.
    #[allow(clippy::too_many_arguments)] // what one change event says
    pub(crate) fn publish_whole(
        &self,
        owner: &str,
        mailbox: &str,
        uidvalidity: u32,
        highestmodseq: u64,
        kind: pb::WatchChangeKind,
        uidnext: Option<u32>,
        delta: impl FnOnce() -> Option<pb::ChangeDelta>,
    ) {
        let Some(changes) = self.watched(owner) else {
            return;
        };
        let name = canonical(mailbox);
        let mut seen = lock(&changes.seen);
        seen.published += 1;
        let entry = seen.mailboxes.entry(name.clone()).or_default();
        if uidvalidity != 0 {
            entry.uidvalidity = uidvalidity;
        }
        entry.highestmodseq = entry.highestmodseq.max(highestmodseq);
        if let Some(next) = uidnext {
            entry.uidnext = entry.uidnext.max(next);
        }
        let event = changed(&name, *entry, kind, delta());
        // No receiver left is not an error: the poller forgets the owner.
        let _ = changes.tx.send(Arc::new(event));
    }

    /// Announces a mailbox list change made in this process.
    pub(crate) fn publish_list(
        &self,
        owner: &str,
        kind: pb::ListChangeKind,
        name: &str,
        new_name: &str,
    ) {
        let Some(changes) = self.watched(owner) else {
            return;
        };
        let (name, new_name) = (canonical(name), canonical(new_name));
        let mut seen = lock(&changes.seen);
        seen.published += 1;
        match kind {
            pb::ListChangeKind::Created => {
                seen.mailboxes.insert(name.clone(), Announced::default());
            }
            pb::ListChangeKind::Deleted => {
                seen.mailboxes.remove(&name);
            }
            pb::ListChangeKind::Renamed => {
                // Children are renamed too: the poller fills them in.
                if let Some(old) = seen.mailboxes.remove(&name) {
                    seen.mailboxes.insert(new_name.clone(), old);
                }
            }
            pb::ListChangeKind::Subscribed | pb::ListChangeKind::Unsubscribed => {
                // A subscription may name a mailbox that does not exist;
                // only existing ones are tracked.
                if let Some(entry) = seen.mailboxes.get_mut(&name) {
                    entry.subscribed = kind == pb::ListChangeKind::Subscribed;
                }
            }
            // Without the ACL stamp (see `publish_rights`), the next
            // read announces the change once more: harmless.
            pb::ListChangeKind::Rights => {}
        }
        let _ = changes.tx.send(Arc::new(listed(kind, &name, &new_name)));
    }

    /// Announces a change of `mailbox`'s ACL made in this process (who may
    /// see the mailbox may have changed). `stamp` is the mailbox's ACL
    /// stamp read after the change: recorded as announced, so that the
    /// cross-process read does not announce the change again (`None`: it
    /// could not be read, and the change may be announced twice).
    pub(crate) fn publish_rights(&self, owner: &str, mailbox: &str, stamp: Option<u64>) {
        let Some(changes) = self.watched(owner) else {
            return;
        };
        let name = canonical(mailbox);
        let mut seen = lock(&changes.seen);
        seen.published += 1;
        if let (Some(stamp), Some(entry)) = (stamp, seen.mailboxes.get_mut(&name)) {
            entry.acl = stamp;
        }
        let _ = changes
            .tx
            .send(Arc::new(listed(pb::ListChangeKind::Rights, &name, "")));
    }
}

impl OwnerChanges {
    /// Records that the owner's change source is the process's inotify
    /// notifier (later watchers add their mailbox's `new/` to it).
    pub(crate) fn set_kernel(&self) {
        lock(&self.seen).kernel = true;
    }

    /// Whether the owner's change source is the inotify notifier.
    pub(crate) fn is_kernel(&self) -> bool {
        lock(&self.seen).kernel
    }

    /// Records the index's state when watching starts, announcing nothing.
    pub(crate) fn baseline(&self, now: &[MailboxCounters]) {
        let mut seen = lock(&self.seen);
        seen.mailboxes = now.iter().map(|m| (m.name.clone(), counters(m))).collect();
    }

    /// How many changes this process has published so far; a poller
    /// takes it before reading the index, for [`OwnerChanges::reconcile`].
    pub(crate) fn published(&self) -> u64 {
        lock(&self.seen).published
    }

    /// Compares the index's state (read after another process committed)
    /// with what was announced, and announces the difference: messages
    /// as mailbox events, mailboxes created, renamed and deleted,
    /// subscriptions, and ACL changes (another ACL stamp, or another
    /// mailbox under the name) as RIGHTS. With
    /// `read_after` (the [`OwnerChanges::published`] count taken before the
    /// read), a read that this process published a change after is stale:
    /// it could make a mailbox just created here look deleted. It is then
    /// left alone and false returned; the caller reads again.
    pub(crate) fn reconcile(&self, now: &[MailboxCounters], read_after: Option<u64>) -> bool {
        let mut events = Vec::new();
        {
            let mut seen = lock(&self.seen);
            if read_after.is_some_and(|count| count != seen.published) {
                return false;
            }
            let mut gone: HashMap<String, Announced> = seen
                .mailboxes
                .iter()
                .filter(|(name, _)| !now.iter().any(|m| &m.name == *name))
                .map(|(name, a)| (name.clone(), *a))
                .collect();
            for name in gone.keys() {
                seen.mailboxes.remove(name);
            }
            for m in now {
                let current = counters(m);
                match seen.mailboxes.get(&m.name).copied() {
                    None => {
                        // A mailbox that vanished with the same UIDVALIDITY
                        // was renamed (UIDVALIDITYs are unique per owner).
                        let renamed = gone
                            .iter()
                            .find(|(_, a)| a.uidvalidity == m.uidvalidity && a.uidvalidity != 0)
                            .map(|(name, _)| name.clone());
                        match renamed {
                            Some(old) => {
                                let before = gone.remove(&old);
                                events.push(listed(pb::ListChangeKind::Renamed, &old, &m.name));
                                // Its ACL changed too since the last read.
                                if before.is_some_and(|a| a.acl != current.acl) {
                                    events.push(listed(pb::ListChangeKind::Rights, &m.name, ""));
                                }
                            }
                            None => events.push(listed(pb::ListChangeKind::Created, &m.name, "")),
                        }
                    }
                    // Created here; its counters are read now. Its ACL
                    // was announced empty (the creation): one that has
                    // changed since (given the parent's, or set by another
                    // process before this read) is announced.
                    Some(a) if a.uidvalidity == 0 => {
                        if current.acl != a.acl {
                            events.push(listed(pb::ListChangeKind::Rights, &m.name, ""));
                        }
                    }
                    Some(a) => {
                        // Who may see it changed (its ACL, or it is
                        // another mailbox under the name): first, so that
                        // a guest who lost the right to read it is not
                        // told of its messages read with it.
                        if a.acl != current.acl || a.uidvalidity != current.uidvalidity {
                            events.push(listed(pb::ListChangeKind::Rights, &m.name, ""));
                        }
                        if a.uidvalidity != current.uidvalidity
                            || current.highestmodseq > a.highestmodseq
                        {
                            let kind = if a.uidvalidity == current.uidvalidity
                                && current.uidnext > a.uidnext
                            {
                                pb::WatchChangeKind::NewMessages
                            } else {
                                pb::WatchChangeKind::Changed
                            };
                            events.push(changed(&m.name, current, kind, None));
                        }
                        if a.subscribed != current.subscribed {
                            let kind = if current.subscribed {
                                pb::ListChangeKind::Subscribed
                            } else {
                                pb::ListChangeKind::Unsubscribed
                            };
                            events.push(listed(kind, &m.name, ""));
                        }
                    }
                }
                let entry = seen.mailboxes.entry(m.name.clone()).or_default();
                // Never step back behind what this process announced.
                if entry.uidvalidity != current.uidvalidity
                    || current.highestmodseq >= entry.highestmodseq
                {
                    *entry = current;
                } else {
                    entry.subscribed = current.subscribed;
                    entry.acl = current.acl;
                }
            }
            for name in gone.keys() {
                events.push(listed(pb::ListChangeKind::Deleted, name, ""));
            }
        }
        for event in events {
            let _ = self.tx.send(Arc::new(event));
        }
        true
    }
}

fn counters(m: &MailboxCounters) -> Announced {
    Announced {
        uidvalidity: m.uidvalidity,
        uidnext: m.uidnext,
        highestmodseq: m.highestmodseq,
        subscribed: m.subscribed,
        acl: m.acl_stamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: &str, uidvalidity: u32) -> MailboxCounters {
        MailboxCounters {
            name: name.to_owned(),
            uidvalidity,
            uidnext: 1,
            highestmodseq: 1,
            subscribed: false,
            acl_stamp: 0,
        }
    }

    /// The events as text: `Rights Work`, `Changed Work`.
    fn text(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.event {
                Some(pb::mailbox_event::Event::List(l)) => format!("{:?} {}", l.kind(), l.name),
                Some(pb::mailbox_event::Event::Changed(c)) => {
                    format!("{:?} {}", c.kind(), c.mailbox)
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn drain(rx: &mut broadcast::Receiver<Event>) -> Vec<Event> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// The last watcher leaving forgets the owner at once; a poller of a
    /// channel that was forgotten (and maybe replaced by a new watcher's)
    /// stops, so two never run for one owner.
    #[test]
    fn the_last_watcher_leaving_forgets_the_owner_and_stops_an_old_poller() {
        let bus = ChangeBus::default();
        let (old, rx1, start) = bus.subscribe("alice");
        assert!(start);
        let (_, rx2, start) = bus.subscribe("alice");
        assert!(!start, "one source per owner");
        drop(rx1);
        bus.watcher_left("alice");
        assert!(bus.watched("alice").is_some(), "one watcher is left");
        assert!(!bus.stop_if_unwatched("alice", &old));
        drop(rx2);
        bus.watcher_left("alice");
        assert!(
            bus.watched("alice").is_none(),
            "forgotten with its last watcher"
        );

        let (new, _rx3, start) = bus.subscribe("alice");
        assert!(start, "a new watcher starts a new source");
        assert!(bus.stop_if_unwatched("alice", &old), "the old poller stops");
        assert!(!bus.stop_if_unwatched("alice", &new), "the new one goes on");
        assert!(bus.watched("alice").is_some());
    }

    /// An owner followed by inotify stays followed after its last watcher
    /// left: the next watcher starts no source and hears what is published
    /// meanwhile; only after the idle time is the owner forgotten.
    #[test]
    fn an_inotify_followed_owner_lingers_until_forgotten_after_idle() {
        let bus = ChangeBus::default();
        let (changes, rx, start) = bus.subscribe("alice");
        assert!(start);
        changes.set_kernel();
        drop(rx);
        bus.watcher_left("alice");
        assert!(
            bus.watched("alice").is_some(),
            "kept after the last watcher"
        );
        assert_eq!(bus.forget_lingering(Duration::from_secs(3600)), 0);

        let (again, mut rx, start) = bus.subscribe("alice");
        assert!(!start, "the running source is reused");
        assert!(Arc::ptr_eq(&changes, &again));
        assert!(again.is_kernel());
        bus.publish_list("alice", pb::ListChangeKind::Created, "Archive", "");
        assert_eq!(drain(&mut rx).len(), 1, "the new watcher hears");
        assert_eq!(
            bus.forget_lingering(Duration::ZERO),
            0,
            "a watched owner is never forgotten"
        );

        drop(rx);
        bus.watcher_left("alice");
        assert_eq!(bus.forget_lingering(Duration::ZERO), 1);
        assert!(bus.watched("alice").is_none());
        let (_, _rx, start) = bus.subscribe("alice");
        assert!(start, "a watcher after that starts a new source");
    }

    /// A poller's read taken before this process created a mailbox must
    /// not announce that mailbox as deleted.
    #[test]
    fn a_read_overtaken_by_an_announcement_is_not_reconciled() {
        let bus = ChangeBus::default();
        let (changes, mut rx, start) = bus.subscribe("alice");
        assert!(start, "the first watcher starts the poller");
        changes.baseline(&[mailbox("INBOX", 10)]);

        let before = changes.published();
        let stale = [mailbox("INBOX", 10)];
        bus.publish_list("alice", pb::ListChangeKind::Created, "Archive", "");
        assert_eq!(drain(&mut rx).len(), 1, "the creation is announced");

        assert!(!changes.reconcile(&stale, Some(before)));
        assert!(
            drain(&mut rx).is_empty(),
            "nothing announced from a stale read"
        );

        let fresh = [mailbox("INBOX", 10), mailbox("Archive", 11)];
        assert!(changes.reconcile(&fresh, Some(changes.published())));
        assert!(drain(&mut rx).is_empty(), "nothing new to announce");

        // Without the check (the poller's last resort) the stale read is
        // taken as it is, and the mailbox it lacks is announced as deleted.
        assert!(changes.reconcile(&stale, None));
        let events = drain(&mut rx);
        assert_eq!(events.len(), 1);
        assert!(matches!(
            &events[0].event,
            Some(pb::mailbox_event::Event::List(l))
                if l.kind() == pb::ListChangeKind::Deleted && l.name == "Archive"
        ));
    }

    /// An ACL changed by another process (a new ACL stamp in the index) is
    /// announced as RIGHTS of exactly that mailbox, once, and before what
    /// the same read says of its messages; one changed here and announced
    /// with its stamp is not announced again; a mailbox created here is
    /// announced with an empty ACL, and the first read tells whether it
    /// has one.
    #[test]
    fn a_rename_and_an_acl_change_in_one_read_announce_both() {
        let bus = ChangeBus::default();
        let (changes, mut rx, _) = bus.subscribe("alice");
        changes.baseline(&[mailbox("INBOX", 10), mailbox("Work", 11)]);
        let mut moved = mailbox("Archive", 11);
        moved.acl_stamp = 2;
        let now = [mailbox("INBOX", 10), moved];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Renamed Work", "Rights Archive"]);
        // A rename alone says nothing of rights.
        let mut again = mailbox("Old", 11);
        again.acl_stamp = 2;
        assert!(changes.reconcile(&[mailbox("INBOX", 10), again], Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Renamed Archive"]);
    }

    #[test]
    fn a_new_acl_stamp_is_announced_as_rights_of_that_mailbox() {
        let bus = ChangeBus::default();
        let (changes, mut rx, _) = bus.subscribe("alice");
        changes.baseline(&[mailbox("INBOX", 10), mailbox("Work", 11)]);

        let mut work = mailbox("Work", 11);
        work.acl_stamp = 3;
        let now = [mailbox("INBOX", 10), work.clone()];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Rights Work"]);
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert!(drain(&mut rx).is_empty(), "announced once");

        // Changed here: announced with the stamp read after the change.
        bus.publish_rights("alice", "Work", Some(4));
        assert_eq!(text(&drain(&mut rx)), ["Rights Work"]);
        work.acl_stamp = 4;
        let now = [mailbox("INBOX", 10), work.clone()];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert!(drain(&mut rx).is_empty(), "not announced again");

        // An ACL change and new mail in one read: the rights first.
        work.acl_stamp = 5;
        work.uidnext = 2;
        work.highestmodseq = 2;
        let now = [mailbox("INBOX", 10), work];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Rights Work", "NewMessages Work"]);

        // Another mailbox under the name has an ACL of its own.
        let now = [mailbox("INBOX", 10), mailbox("Work", 12)];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Rights Work", "Changed Work"]);

        // Created here, then given an ACL elsewhere before the first read:
        // the creation was announced, the ACL is.
        bus.publish_list("alice", pb::ListChangeKind::Created, "Team", "");
        bus.publish_list("alice", pb::ListChangeKind::Created, "Plain", "");
        assert_eq!(text(&drain(&mut rx)), ["Created Team", "Created Plain"]);
        let mut team = mailbox("Team", 13);
        team.acl_stamp = 1;
        let now = [
            mailbox("INBOX", 10),
            mailbox("Plain", 14),
            team,
            mailbox("Work", 12),
        ];
        assert!(changes.reconcile(&now, Some(changes.published())));
        assert_eq!(text(&drain(&mut rx)), ["Rights Team"]);
    }
}

//! Knowing when the selected mailbox changed without asking: from the first
//! command after SELECT that can use it (a session that selects and leaves
//! opens none) until the selection ends, a task follows the mailbox's Watch
//! stream (changes by any session or delivery, in any storage process of
//! the owner) and marks the mailbox changed. Commands then ask storage for
//! changes only when something did change, and IDLE wakes up at once; an
//! event that carries its change whole (a delta) is kept, and a view it
//! continues takes it without asking storage at all. A stream that ends
//! (the owner's storage process went away) is started again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use mailkeep_frontend::{Retry, Storage, StorageError};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::metadata::{WatchStart, watch_start_of};
use mailkeep_storage_rpc::storage::{ChangeDelta, MailboxEvent, WatchRequest, mailbox_event};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::codec::Streaming;

use crate::session::waits;

/// The longest pause between two tries to start an ended stream again.
const MOST_BETWEEN_TRIES: Duration = Duration::from_secs(60);

/// A stream that lived this long before it ended is started again at
/// once; one that ended sooner waits as a failed start does.
const LIVED_LONG: Duration = Duration::from_secs(10);

/// Deltas kept for a view that has not taken them yet; beyond these the
/// oldest go (the view then asks storage, as without deltas).
const MOST_DELTAS: usize = 32;

/// Whether the selected mailbox may have changed since it was last synced.
///
/// Events name the mailbox's HIGHESTMODSEQ after the change, so an event
/// for a change the session knows already (its own STORE or EXPUNGE,
/// whose reply moved the view's MODSEQ on) asks storage for nothing.
#[derive(Default)]
pub(crate) struct ChangeMark {
    /// An event came since the last sync.
    dirty: AtomicBool,
    /// An event came whose MODSEQ cannot be compared (a resync, another
    /// UIDVALIDITY, a stream that began without telling the mailbox's
    /// MODSEQ): the next sync must ask.
    forced: AtomicBool,
    /// The highest MODSEQ an event named.
    latest_modseq: AtomicU64,
    /// The watch runs; without it every command syncs.
    watching: AtomicBool,
    /// Wakes an IDLE.
    notify: Notify,
    /// Changes that came whole, not yet taken by the view.
    deltas: Mutex<Vec<ChangeDelta>>,
    /// The MODSEQ the session's own APPEND into the mailbox brought it to:
    /// the view must reach it before the command's OK.
    expected_modseq: AtomicU64,
    /// When the first stream began to open, while it opens: a sync waits
    /// for it (until [`waits::WatchWaits::opening`] past this), so that it covers
    /// everything before the stream and the next does not ask again.
    opening: Mutex<Option<tokio::time::Instant>>,
    /// Wakes whoever waits for a stream to start (or fail to): the syncs
    /// waiting for the first, an IDLE without one.
    opened: Notify,
}

impl ChangeMark {
    /// Keeps `delta` and marks the change it brings (one that does not
    /// move the MODSEQ on cannot be placed).
    fn mark_delta(&self, delta: ChangeDelta) {
        if delta.highestmodseq <= delta.previous_highestmodseq {
            self.mark();
            return;
        }
        let modseq = delta.highestmodseq;
        {
            let mut deltas = self.deltas();
            if deltas.len() >= MOST_DELTAS {
                deltas.remove(0);
            }
            deltas.push(delta);
        }
        self.mark_modseq(modseq);
    }

    fn deltas(&self) -> std::sync::MutexGuard<'_, Vec<ChangeDelta>> {
        self.deltas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The deltas that bring a view at `known_modseq` to the latest change
    /// the watch told of and to `held` (the newest state the session's own
    /// replies put in the view), in order, when the kept ones do (none when
    /// the view is there already); `None` when storage must be asked: a
    /// change came without its delta, one is missing, or no watch runs.
    /// Deltas the view has passed are dropped.
    pub(crate) fn deltas_from(&self, known_modseq: u64, held: u64) -> Option<Vec<ChangeDelta>> {
        if !self.watching.load(Ordering::SeqCst) || self.forced.load(Ordering::SeqCst) {
            return None;
        }
        let latest = self
            .latest_modseq
            .load(Ordering::SeqCst)
            .max(held)
            .max(self.expected_modseq.load(Ordering::SeqCst));
        let mut deltas = self.deltas();
        deltas.retain(|d| d.highestmodseq > known_modseq);
        let mut chain = Vec::new();
        let mut at = known_modseq;
        while at < latest {
            let next = deltas.iter().find(|d| d.previous_highestmodseq == at)?;
            at = next.highestmodseq;
            chain.push(next.clone());
        }
        Some(chain)
    }

    /// Records that the session's own command brought the mailbox to
    /// `modseq` (an APPEND into it, whose reply names the MODSEQ): the
    /// view is behind until it reaches that, from the watch's delta, which
    /// is on its way, or else by asking storage.
    pub(crate) fn expect(&self, modseq: u64) {
        self.expected_modseq.fetch_max(modseq, Ordering::SeqCst);
    }

    /// Whether the event of the session's own change (see
    /// [`ChangeMark::expect`]) is still to come to a view at
    /// `known_modseq`: worth waiting for rather than asking storage.
    pub(crate) fn awaits_own_change(&self, known_modseq: u64) -> bool {
        let expected = self.expected_modseq.load(Ordering::SeqCst);
        self.watching.load(Ordering::SeqCst)
            && !self.forced.load(Ordering::SeqCst)
            && expected > known_modseq
            && self.latest_modseq.load(Ordering::SeqCst) < expected
    }

    /// Resolves at the next event (or at once, for one that came since the
    /// last wait).
    pub(crate) async fn next_event(&self) {
        self.notify.notified().await;
    }

    /// Storage is being asked for everything since the view's MODSEQ: an
    /// earlier change that could not be placed is covered by the answer.
    pub(crate) fn asking(&self) {
        self.forced.store(false, Ordering::SeqCst);
    }

    /// Marks a change the session cannot place, and wakes a waiter: the
    /// next sync asks storage.
    pub(crate) fn force(&self) {
        self.mark();
    }

    /// Marks a change the session cannot place, and wakes a waiter.
    fn mark(&self) {
        self.forced.store(true, Ordering::SeqCst);
        self.mark_dirty();
    }

    /// Marks a change that brought the mailbox to `modseq`.
    fn mark_modseq(&self, modseq: u64) {
        self.latest_modseq.fetch_max(modseq, Ordering::SeqCst);
        self.mark_dirty();
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        // One waiter at most (an IDLE); a permit is kept if none waits yet.
        self.notify.notify_one();
    }

    /// Whether the mailbox must be asked for changes now, the view knowing
    /// it up to `known_modseq` (clearing the mark): a change came that the
    /// view does not hold, the session's own APPEND is not in it yet, or no
    /// watch tells us of changes.
    pub(crate) fn take(&self, known_modseq: u64) -> bool {
        let dirty = self.dirty.swap(false, Ordering::SeqCst);
        if !self.watching.load(Ordering::SeqCst)
            || self.expected_modseq.load(Ordering::SeqCst) > known_modseq
        {
            return true;
        }
        dirty
            && (self.forced.load(Ordering::SeqCst)
                || self.latest_modseq.load(Ordering::SeqCst) > known_modseq)
    }

    /// Stops trusting the watch (the mailbox was renamed under it): every
    /// command syncs from now on.
    pub(crate) fn unwatch(&self) {
        self.watching.store(false, Ordering::SeqCst);
    }

    /// The first stream is about to be opened.
    pub(crate) fn opening(&self) {
        *self.opening_since() = Some(tokio::time::Instant::now());
    }

    /// A stream opened (its start marked), or could not be.
    fn opening_ended(&self) {
        *self.opening_since() = None;
        self.opened.notify_waiters();
    }

    fn opening_since(&self) -> std::sync::MutexGuard<'_, Option<tokio::time::Instant>> {
        self.opening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Resolves once the first stream opened or could not be, or at
    /// [`waits::WatchWaits::opening`] after it began to open (a storage process
    /// slow to answer the watch must not hold the commands' replies: past
    /// that, they ask storage without waiting).
    pub(crate) async fn opening_settled(&self) {
        let Some(since) = *self.opening_since() else {
            return;
        };
        let settled = async {
            loop {
                let opened = self.opened.notified();
                if self.opening_since().is_none() {
                    return;
                }
                opened.await;
            }
        };
        // Timing out only means asking storage without the stream.
        let _ = tokio::time::timeout_at(since + waits::get().opening, settled).await;
    }

    /// Resolves when a stream starts or fails to (not at a mere change):
    /// what an IDLE without a stream waits for besides its slow poll. A
    /// stream that starts marks the mailbox with the MODSEQ it began at
    /// (or as changed, when it tells none), so the IDLE then takes or asks
    /// storage for anything it missed meanwhile.
    pub(crate) async fn stream_started(&self) {
        let opened = self.opened.notified();
        if self.watching() {
            return;
        }
        opened.await;
    }

    /// Whether a watch tells of changes.
    pub(crate) fn watching(&self) -> bool {
        self.watching.load(Ordering::SeqCst)
    }

    /// Resolves at the next change.
    pub(crate) async fn changed(&self) {
        if self.dirty.load(Ordering::SeqCst) {
            return;
        }
        self.notify.notified().await;
    }
}

/// What the selections of a mailbox share with the task that follows its
/// changes: the name (which a RENAME changes), the UIDVALIDITY, the mark
/// the task sets, and the task itself, which ends when the last selection
/// holding this lets go (the task holds it weakly). A SELECT of the same
/// mailbox again shares it (see [`FollowedMailbox::continues`]), so the
/// stream goes on instead of being closed and opened again.
#[derive(Debug)]
pub(crate) struct FollowedMailbox {
    name: RwLock<String>,
    uidvalidity: u32,
    mark: ChangeMark,
    /// The task, once started.
    watcher: Mutex<Option<Watcher>>,
}

impl FollowedMailbox {
    /// The mailbox `name` of this UIDVALIDITY, no change known yet and no
    /// task started.
    pub(crate) fn new(name: String, uidvalidity: u32) -> FollowedMailbox {
        FollowedMailbox {
            name: RwLock::new(name),
            uidvalidity,
            mark: ChangeMark::default(),
            watcher: Mutex::new(None),
        }
    }

    /// The name as the owner's storage knows it now.
    pub(crate) fn name(&self) -> String {
        self.name
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The name, to change (a RENAME).
    pub(crate) fn name_mut(&self) -> std::sync::RwLockWriteGuard<'_, String> {
        self.name
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the watch knows about changes.
    pub(crate) fn mark(&self) -> &ChangeMark {
        &self.mark
    }

    /// Whether a new selection of `name` at `uidvalidity` may share this:
    /// the same mailbox, and a stream that follows it now. Every change
    /// after the stream began comes as its event, so a view read at any
    /// time since is continued by the events, as the view the stream began
    /// with was; what the view holds already is skipped by its MODSEQ.
    pub(crate) fn continues(&self, name: &str, uidvalidity: u32) -> bool {
        self.uidvalidity == uidvalidity && self.mark.watching() && self.name() == name
    }

    /// Starts the task following `owner`'s mailbox on `storage`, unless it
    /// started already.
    pub(crate) fn follow(self: &Arc<Self>, owner: &str, storage: &Storage) {
        let mut watcher = self
            .watcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if watcher.is_none() {
            self.mark.opening();
            let weak = Arc::downgrade(self);
            let task = follow(weak, storage.clone(), owner.to_owned(), self.name());
            *watcher = Some(Watcher(tokio::spawn(task)));
        }
    }
}

/// The task following a mailbox's Watch stream; stops when dropped.
#[derive(Debug)]
struct Watcher(JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the Watch stream of `owner`'s mailbox `name`; when it ends
/// (the owner's storage process went away), commands ask storage until a
/// new stream starts, tried at once and then after growing pauses, and
/// the next sync asks for everything missed meanwhile.
pub(crate) async fn follow(
    mailbox: Weak<FollowedMailbox>,
    storage: Storage,
    owner: String,
    name: String,
) {
    let mut tries: u32 = 0;
    loop {
        let opened = tokio::time::Instant::now();
        let pause = match follow_one(&mailbox, &storage, &owner, &name, tries > 0).await {
            Followed::Deselected => return,
            // A new storage process serves the owner: at once, unless
            // the stream it gave ended soon too (a process that keeps
            // failing must not be asked in a tight loop).
            Followed::Ended if opened.elapsed() >= LIVED_LONG => {
                tracing::info!(
                    "the change stream ended; commands ask storage until it starts again"
                );
                tries = 1;
                continue;
            }
            Followed::Ended => {
                tries = tries.saturating_add(1);
                Duration::from_secs(1u64 << tries.min(6)).min(MOST_BETWEEN_TRIES)
            }
            Followed::NotOpened(reason) => {
                let first = tries == 0 && reason != ErrorReason::Unavailable;
                // A mailbox that went away: the next sync finds out.
                if first || reason == ErrorReason::Nonexistent || mailbox.strong_count() == 0 {
                    return;
                }
                tries = tries.saturating_add(1);
                Duration::from_secs(1u64 << tries.min(6)).min(MOST_BETWEEN_TRIES)
            }
        };
        tracing::debug!(?pause, "the change stream not started again yet");
        Box::pin(tokio::time::sleep(pause)).await;
    }
}

/// How following one stream ended.
enum Followed {
    /// The mailbox is no longer selected.
    Deselected,
    /// The stream ended (the owner's storage process went away).
    Ended,
    /// No stream could be opened, for this reason.
    NotOpened(ErrorReason),
}

/// Opens a stream of `name` and marks `mailbox` changed at each of its
/// events (`again`: an earlier stream ended).
async fn follow_one(
    mailbox: &Weak<FollowedMailbox>,
    storage: &Storage,
    owner: &str,
    name: &str,
    again: bool,
) -> Followed {
    // Opening is boxed: the task keeps only what following needs while it
    // waits for events, for as long as the mailbox stays selected. (What
    // came with the stream is used up within this block: a binding kept
    // beside the stream would be kept with it.)
    let mut stream = {
        let (stream, start) = match Box::pin(open(
            storage.clone(),
            owner.to_owned(),
            name.to_owned(),
        ))
        .await
        {
            Ok(opened) => opened,
            Err(e) => {
                if !again {
                    tracing::warn!(error = %e, "no change stream; every command will ask storage");
                }
                if let Some(m) = mailbox.upgrade() {
                    m.mark().opening_ended();
                }
                return Followed::NotOpened(e.reason());
            }
        };
        let Some(m) = mailbox.upgrade() else {
            return Followed::Deselected;
        };
        // Anything between SELECT's answer (or the last stream's end) and
        // the watch starting: storage tells the mailbox's MODSEQ once the
        // stream began, and a view that is there already asks nothing; it
        // is asked when that is not known.
        match start {
            Some(start) if start.uidvalidity == m.uidvalidity && start.highest_modseq != 0 => {
                m.mark().mark_modseq(start.highest_modseq);
            }
            _ => m.mark().mark(),
        }
        m.mark().watching.store(true, Ordering::SeqCst);
        // Renamed meanwhile (checked after the stream is trusted, so that a
        // RENAME's `unwatch` cannot come between): this stream follows the
        // old name, and every command asks storage from now on.
        if m.name() != name {
            m.mark().unwatch();
            m.mark().opening_ended();
            return Followed::Deselected;
        }
        m.mark().opening_ended();
        // Held weakly from here on: the task must not keep the selection
        // alive.
        stream
    };
    if again {
        tracing::info!("the change stream started again");
    }
    loop {
        let event = stream.message().await;
        let Some(m) = mailbox.upgrade() else {
            return Followed::Deselected;
        };
        match event {
            Ok(Some(event)) => match &event.event {
                Some(mailbox_event::Event::Changed(c)) if c.mailbox == name => {
                    if c.uidvalidity == m.uidvalidity && c.highestmodseq != 0 {
                        match c.delta.clone() {
                            Some(delta) => m.mark().mark_delta(delta),
                            None => m.mark().mark_modseq(c.highestmodseq),
                        }
                    } else {
                        m.mark().mark();
                    }
                }
                Some(mailbox_event::Event::Resync(_)) => m.mark().mark(),
                Some(mailbox_event::Event::Changed(_) | mailbox_event::Event::List(_)) | None => {}
            },
            Ok(None) | Err(_) => {
                // Commands ask storage until a stream starts again.
                m.mark().unwatch();
                m.mark().mark();
                return Followed::Ended;
            }
        }
    }
}

/// Opens the Watch stream of `owner`'s mailbox `name`, with the mailbox's
/// state once the stream was subscribed when storage tells it.
async fn open(
    storage: Storage,
    owner: String,
    name: String,
) -> Result<(Streaming<MailboxEvent>, Option<WatchStart>), StorageError> {
    let request = WatchRequest {
        owner: owner.clone(),
        mailbox: name,
    };
    storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move {
                let response = crate::session::watch_call::watch(rpc, request).await?;
                let start = watch_start_of(&response);
                Ok(tonic::Response::new((response.into_inner(), start)))
            }
        })
        .await
}

impl std::fmt::Debug for ChangeMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeMark")
            .field("dirty", &self.dirty.load(Ordering::Relaxed))
            .field("watching", &self.watching.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::waits::WatchWaits;

    fn watched() -> ChangeMark {
        let mark = ChangeMark::default();
        mark.watching.store(true, Ordering::SeqCst);
        mark
    }

    /// Whether `future` is still pending after `wait` of (paused) time.
    async fn pending_after(future: impl Future<Output = ()>, wait: Duration) -> bool {
        tokio::time::timeout(wait, future).await.is_err()
    }

    #[test]
    fn a_new_selection_takes_over_only_a_live_stream_of_the_same_mailbox() {
        let followed = FollowedMailbox::new("INBOX".to_owned(), 7);
        // No stream follows it yet.
        assert!(!followed.continues("INBOX", 7));
        followed.mark().watching.store(true, Ordering::SeqCst);
        assert!(followed.continues("INBOX", 7));
        assert!(!followed.continues("INBOX", 8), "another UIDVALIDITY");
        assert!(!followed.continues("Other", 7), "another mailbox");
        // Renamed under the stream: it follows the old name.
        *followed.name_mut() = "Renamed".to_owned();
        followed.mark().unwatch();
        assert!(!followed.continues("Renamed", 7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sync_waits_for_the_first_stream_until_it_opens() {
        let mark = ChangeMark::default();
        mark.opening();
        let settled = mark.opening_settled();
        tokio::pin!(settled);
        assert!(pending_after(&mut settled, WatchWaits::default().opening / 2).await);
        mark.opening_ended();
        assert!(!pending_after(&mut settled, Duration::ZERO).await);
        // Opened: nothing waits any more.
        assert!(!pending_after(mark.opening_settled(), Duration::ZERO).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_slow_to_open_holds_syncs_once_and_only_until_its_deadline() {
        let mark = ChangeMark::default();
        mark.opening();
        let started = tokio::time::Instant::now();
        mark.opening_settled().await;
        assert_eq!(started.elapsed(), WatchWaits::default().opening);
        // The next sync of the same opening does not wait again.
        let again = tokio::time::Instant::now();
        mark.opening_settled().await;
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_without_a_stream_wakes_when_one_starts_not_at_a_mark() {
        let mark = ChangeMark::default();
        // A failed sync marks the mailbox: no wake-up for that.
        mark.force();
        let started = mark.stream_started();
        tokio::pin!(started);
        assert!(pending_after(&mut started, Duration::from_secs(60)).await);
        // The stream starts.
        mark.watching.store(true, Ordering::SeqCst);
        mark.opening_ended();
        assert!(!pending_after(&mut started, Duration::ZERO).await);
        // Watched already: at once.
        assert!(!pending_after(mark.stream_started(), Duration::ZERO).await);
    }

    #[test]
    fn an_event_the_view_already_holds_asks_for_nothing() {
        let mark = watched();
        mark.mark_modseq(11);
        assert!(!mark.take(11));
        // The mark is cleared either way.
        assert!(!mark.take(10));
    }

    #[test]
    fn an_event_beyond_the_view_asks() {
        let mark = watched();
        mark.mark_modseq(11);
        mark.mark_modseq(12);
        assert!(mark.take(11));
        assert!(!mark.take(11));
    }

    #[test]
    fn an_event_without_a_modseq_always_asks() {
        let mark = watched();
        mark.mark_modseq(5);
        mark.mark();
        assert!(mark.take(100));
        assert!(!mark.take(100));
    }

    fn delta(from: u64, to: u64) -> ChangeDelta {
        ChangeDelta {
            previous_highestmodseq: from,
            highestmodseq: to,
            ..ChangeDelta::default()
        }
    }

    fn ends(chain: Option<Vec<ChangeDelta>>) -> Option<Vec<(u64, u64)>> {
        chain.map(|c| {
            c.iter()
                .map(|d| (d.previous_highestmodseq, d.highestmodseq))
                .collect()
        })
    }

    #[test]
    fn deltas_that_continue_the_view_are_taken_in_order_whatever_their_arrival() {
        let mark = watched();
        mark.mark_delta(delta(6, 7));
        mark.mark_delta(delta(5, 6));
        assert!(mark.take(5));
        assert_eq!(ends(mark.deltas_from(5, 0)), Some(vec![(5, 6), (6, 7)]));
        // A view that holds some of them takes the rest; one that holds
        // all of them takes none, and the passed ones are dropped.
        assert_eq!(ends(mark.deltas_from(6, 0)), Some(vec![(6, 7)]));
        assert_eq!(ends(mark.deltas_from(7, 0)), Some(vec![]));
        assert!(mark.deltas().is_empty());
    }

    #[test]
    fn a_change_without_its_delta_or_a_missing_delta_asks_storage() {
        let mark = watched();
        mark.mark_delta(delta(5, 6));
        mark.mark_modseq(7);
        assert_eq!(ends(mark.deltas_from(5, 0)), None);
        let mark = watched();
        mark.mark_delta(delta(6, 7));
        assert_eq!(ends(mark.deltas_from(5, 0)), None);
    }

    #[test]
    fn a_change_that_cannot_be_placed_asks_storage_until_it_was_asked() {
        let mark = watched();
        mark.mark_delta(delta(5, 6));
        mark.mark();
        assert!(mark.take(6));
        assert_eq!(ends(mark.deltas_from(5, 0)), None);
        mark.asking();
        assert_eq!(ends(mark.deltas_from(5, 0)), Some(vec![(5, 6)]));
        // Without a watch, never from deltas.
        mark.unwatch();
        assert_eq!(ends(mark.deltas_from(5, 0)), None);
    }

    #[test]
    fn deltas_must_reach_what_the_sessions_own_replies_put_in_the_view() {
        let mark = watched();
        mark.mark_delta(delta(5, 6));
        // A reply put the state at 7 in the view: (5, 6) alone would take
        // the view back.
        assert_eq!(ends(mark.deltas_from(5, 7)), None);
        mark.mark_delta(delta(6, 7));
        assert_eq!(ends(mark.deltas_from(5, 7)), Some(vec![(5, 6), (6, 7)]));
    }

    #[test]
    fn a_delta_that_does_not_move_the_modseq_on_asks_storage() {
        let mark = watched();
        mark.mark_delta(delta(6, 6));
        assert!(mark.take(5));
        assert_eq!(ends(mark.deltas_from(5, 0)), None);
    }

    #[test]
    fn the_oldest_deltas_go_beyond_the_most_kept() {
        let mark = watched();
        for at in 0..u64::try_from(MOST_DELTAS).unwrap_or(0) + 1 {
            mark.mark_delta(delta(at, at + 1));
        }
        assert_eq!(mark.deltas().len(), MOST_DELTAS);
        assert_eq!(ends(mark.deltas_from(0, 0)), None, "the first one is gone");
        assert_eq!(mark.deltas_from(1, 0).map(|c| c.len()), Some(MOST_DELTAS));
    }

    #[test]
    fn an_own_append_is_awaited_until_its_delta_came_and_then_taken_from_it() {
        let mark = watched();
        // The APPEND's reply said 8; the view is at 7, the event not here.
        mark.expect(8);
        assert!(mark.take(7), "the view is behind the APPEND");
        assert!(mark.awaits_own_change(7));
        assert_eq!(ends(mark.deltas_from(7, 0)), None);
        mark.mark_delta(delta(7, 8));
        assert!(!mark.awaits_own_change(7), "the event came");
        assert_eq!(ends(mark.deltas_from(7, 0)), Some(vec![(7, 8)]));
        // Once the view holds it, nothing more is asked for it.
        assert!(!mark.awaits_own_change(8));
        assert!(!mark.take(8));
    }

    #[test]
    fn an_own_append_whose_event_came_without_its_delta_asks_storage() {
        let mark = watched();
        mark.expect(8);
        mark.mark_modseq(8);
        assert!(!mark.awaits_own_change(7));
        assert_eq!(ends(mark.deltas_from(7, 0)), None);
        // Unwatched or forced: never waited for.
        let mark = watched();
        mark.expect(8);
        mark.mark();
        assert!(!mark.awaits_own_change(7));
        let mark = ChangeMark::default();
        mark.expect(8);
        assert!(!mark.awaits_own_change(7));
    }

    #[test]
    fn without_a_watch_every_command_asks() {
        let mark = ChangeMark::default();
        assert!(mark.take(0));
        assert!(mark.take(0));
    }
}

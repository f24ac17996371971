//! Cross-process change detection by the kernel (inotify), so that an
//! owner whose sessions only watch costs this process no index connection
//! and no polling: one inotify descriptor per process, and per watched
//! owner a watch on its Maildir root, whose index WAL every commit of any
//! process writes to, and one on `new/` of each watched mailbox, where
//! other programs drop mail.
//!
//! A write to the WAL wakes the owner's [`Checker`], which reads every
//! mailbox's counters once (with a connection it closes again, see
//! `Store::mailbox_counters_transient`) and announces what differs from
//! what watchers were told. A file arriving in a watched `new/` makes it
//! sync that mailbox first (which commits, and so is announced). Events
//! that come while a read waits or runs are folded into one more read.
//!
//! Where inotify is not available (no descriptor, or no watch left under
//! `fs.inotify.max_user_watches`), the caller falls back to polling
//! (`poll.rs`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use mailkeep_store::{INDEX_FILE, INDEX_WAL_FILE, Store};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;
use tokio::io::unix::AsyncFd;

use super::bus::OwnerChanges;
use crate::gate::Gate;

/// Time from an event to the read it causes, and so between two reads of
/// one owner's counters while events keep coming (a burst of commits is
/// one or two reads, not one per commit). It also lets a commit made by
/// this process be announced by the call that made it (right after its
/// commit) before the read sees it: a read between the two would
/// announce the change a second time, as if another process made it.
pub(crate) const SETTLE: Duration = Duration::from_millis(100);

/// Time from the first event of a burst to reading the events. Every page
/// SQLite writes to the WAL is an event (eleven for one STORE's commit),
/// and each woke this process when read at once: a STORE cost its own
/// storage process eight context switches, a NOOP one. Events left
/// unread merge in the kernel's queue (an event like the last one queued
/// is folded into it, without a wake-up), so a burst is one wake-up and
/// one read. Small beside [`SETTLE`], which follows anyway.
pub(crate) const COALESCE: Duration = Duration::from_millis(10);

/// Time before a failed read (or sync) is tried again.
pub(crate) const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Reads in a row that may be dropped as stale (see `OwnerChanges::reconcile`).
const MAX_STALE_READS: u32 = 2;

/// Bytes read from the inotify descriptor at once.
const EVENT_BUFFER: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The process's inotify descriptor and what each of its watches is for.
pub(crate) struct Notifier {
    fd: AsyncFd<OwnedFd>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Watch descriptor → what it watches.
    targets: HashMap<i32, Target>,
    /// Owner → its checker and watch descriptors.
    owners: HashMap<String, OwnerWatch>,
}

/// What one watch descriptor watches.
#[derive(Clone)]
struct Target {
    checker: Arc<Checker>,
    /// `None`: the Maildir root (the index); a mailbox: its `new/`.
    new_of: Option<String>,
}

/// One watched owner's watches.
struct OwnerWatch {
    checker: Arc<Checker>,
    /// The root's watch descriptor, and each watched mailbox's `new/`'s.
    root: i32,
    new_dirs: HashMap<String, i32>,
}

/// What the root watch reports: files of the index appearing, being
/// replaced or written. Directories and the `-shm` file are filtered out
/// by name (see [`is_index_change`]).
fn root_flags() -> WatchFlags {
    WatchFlags::MODIFY | WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR
}

/// What a `new/` watch reports: a message file arriving (written there, a
/// link, or a rename from `tmp/`).
fn new_dir_flags() -> WatchFlags {
    WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR
}

/// Whether an event on the root named `name` may mean a commit: a write
/// to the WAL, or the index or its WAL appearing (a reindex replaces the
/// index). A write to the index itself is a checkpoint, which changes
/// nothing a watcher sees.
fn is_index_change(name: &OsStr, flags: ReadFlags) -> bool {
    let name = name.as_bytes();
    if name == INDEX_WAL_FILE.as_bytes() {
        return true;
    }
    name == INDEX_FILE.as_bytes() && flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO)
}

impl Notifier {
    /// A notifier with its own inotify descriptor, and the task that reads
    /// it (for as long as the runtime runs: a storage process keeps its
    /// notifier for its whole life). Fails where the kernel or the sandbox
    /// refuses inotify.
    pub(crate) fn start() -> std::io::Result<Arc<Notifier>> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        // Read only: nothing is ever written to an inotify descriptor.
        let fd =
            mailkeep_storage_rpc::fd::register_with_interest(fd, tokio::io::Interest::READABLE)?;
        let notifier = Arc::new(Notifier {
            fd,
            state: Mutex::default(),
        });
        tokio::spawn(read_events(Arc::clone(&notifier)));
        Ok(notifier)
    }

    /// Starts watching `owner` (whose changes go to `changes`) and the
    /// `new/` of `mailbox` (`None`: of INBOX), or adds the mailbox to an
    /// owner already watched. A new owner's checker runs nothing until
    /// [`Checker::baseline_taken`]: the caller reads the baseline after
    /// the watches exist, so no commit after it is missed.
    pub(crate) fn watch(
        &self,
        gate: &Arc<Gate>,
        owner: &str,
        store: &Store,
        changes: &Arc<OwnerChanges>,
        mailbox: Option<&str>,
    ) -> std::io::Result<Arc<Checker>> {
        let mailbox = mailbox.unwrap_or(mailkeep_store::INBOX);
        let mut state = lock(&self.state);
        let current = state
            .owners
            .get(owner)
            .filter(|w| w.checker.is_for(changes))
            .map(|w| Arc::clone(&w.checker));
        let checker = match current {
            Some(checker) => checker,
            None => {
                // An entry of an earlier registration of the owner whose
                // last watcher left is replaced (its watch descriptors are
                // the same ones: one per inode).
                let checker = Arc::new(Checker::new(gate, owner, store, changes));
                let root = inotify::add_watch(self.fd.get_ref(), store.root(), root_flags())?;
                let target = Target {
                    checker: Arc::clone(&checker),
                    new_of: None,
                };
                state.targets.insert(root, target);
                let new_dirs = match state.owners.remove(owner) {
                    Some(old) => old.new_dirs,
                    None => HashMap::new(),
                };
                for (name, wd) in &new_dirs {
                    let target = Target {
                        checker: Arc::clone(&checker),
                        new_of: Some(name.clone()),
                    };
                    state.targets.insert(*wd, target);
                }
                state.owners.insert(
                    owner.to_owned(),
                    OwnerWatch {
                        checker: Arc::clone(&checker),
                        root,
                        new_dirs,
                    },
                );
                checker
            }
        };
        let watched = state
            .owners
            .get(owner)
            .is_some_and(|w| w.new_dirs.contains_key(mailbox));
        if !watched {
            let dir = mailkeep_store::mailbox_dir(store.root(), mailbox).join("new");
            match inotify::add_watch(self.fd.get_ref(), &dir, new_dir_flags()) {
                Ok(wd) => {
                    let target = Target {
                        checker: Arc::clone(&checker),
                        new_of: Some(mailbox.to_owned()),
                    };
                    state.targets.insert(wd, target);
                    if let Some(w) = state.owners.get_mut(owner) {
                        w.new_dirs.insert(mailbox.to_owned(), wd);
                    }
                }
                // Without it, mail dropped there by other programs is
                // seen at the session's next command, as before.
                Err(e) => tracing::debug!(owner, mailbox, dir = %dir.display(), error = %e,
                    "cannot watch new/"),
            }
        }
        Ok(checker)
    }

    /// Stops watching `owner` if its watches are those of `changes` (a
    /// later registration's are left alone).
    pub(crate) fn unwatch(&self, owner: &str, changes: &Arc<OwnerChanges>) {
        let mut state = lock(&self.state);
        if !state
            .owners
            .get(owner)
            .is_some_and(|w| w.checker.is_for(changes))
        {
            return;
        }
        let Some(w) = state.owners.remove(owner) else {
            return;
        };
        for wd in std::iter::once(w.root).chain(w.new_dirs.into_values()) {
            state.targets.remove(&wd);
            // Fails only if the kernel dropped it already (its directory
            // was removed).
            let _ = inotify::remove_watch(self.fd.get_ref(), wd);
        }
    }

    /// Hands one event to the checker it concerns.
    fn dispatch(&self, wd: i32, flags: ReadFlags, name: Option<&OsStr>) {
        if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
            // Events were lost: every owner reads its counters again.
            tracing::warn!("inotify queue overflowed; every watched owner is checked");
            let checkers: Vec<Arc<Checker>> = lock(&self.state)
                .owners
                .values()
                .map(|w| Arc::clone(&w.checker))
                .collect();
            for checker in checkers {
                checker.kick(None);
            }
            return;
        }
        let mut state = lock(&self.state);
        if flags.contains(ReadFlags::IGNORED) {
            // The kernel removed the watch (its directory is gone).
            if let Some(target) = state.targets.remove(&wd) {
                let owner = target.checker.owner.clone();
                if let Some(w) = state.owners.get_mut(&owner) {
                    w.new_dirs.retain(|_, d| *d != wd);
                }
            }
            return;
        }
        let Some(target) = state.targets.get(&wd).cloned() else {
            return;
        };
        drop(state);
        match (&target.new_of, name) {
            (None, Some(name)) if is_index_change(name, flags) => target.checker.kick(None),
            (Some(mailbox), Some(_)) => target.checker.kick(Some(mailbox)),
            _ => {}
        }
    }
}

/// Reads the inotify descriptor and hands each event on.
async fn read_events(n: Arc<Notifier>) {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); EVENT_BUFFER];
    let unusable = |e: std::io::Error| {
        tracing::error!(error = %e, "inotify descriptor unusable; watchers of other processes' changes are no longer told");
    };
    loop {
        // The first event of a burst wakes this task; the rest of the
        // burst is left to merge in the kernel's queue before it is read.
        match n.fd.readable().await {
            Ok(guard) => drop(guard),
            Err(e) => return unusable(e),
        }
        tokio::time::sleep(COALESCE).await;
        let mut guard = match n.fd.readable().await {
            Ok(guard) => guard,
            Err(e) => return unusable(e),
        };
        let mut events = Vec::new();
        {
            let mut reader = inotify::Reader::new(guard.get_inner(), &mut buf);
            loop {
                match reader.next() {
                    Ok(e) => events.push((
                        e.wd(),
                        e.events(),
                        e.file_name()
                            .map(|c| OsStr::from_bytes(c.to_bytes()).to_owned()),
                    )),
                    Err(Errno::INTR) => {}
                    Err(Errno::AGAIN) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading inotify events failed");
                        break;
                    }
                }
            }
        }
        guard.clear_ready();
        drop(guard);
        for (wd, flags, name) in events {
            n.dispatch(wd, flags, name.as_deref());
        }
    }
}

/// One watched owner's change detection: reads its counters when told
/// the index changed, syncs a watched mailbox when files arrive in its
/// `new/`; one run at a time, events during a run folded into the next.
pub(crate) struct Checker {
    owner: String,
    store: Store,
    gate: Weak<Gate>,
    changes: Weak<OwnerChanges>,
    work: Mutex<Work>,
}

/// What a checker has to do.
#[derive(Default)]
struct Work {
    /// A run is going on (or the baseline is not taken yet).
    running: bool,
    /// The counters must be read (again).
    read: bool,
    /// Mailboxes to sync first (files arrived in their `new/`).
    sync: Vec<String>,
}

impl Checker {
    fn new(gate: &Arc<Gate>, owner: &str, store: &Store, changes: &Arc<OwnerChanges>) -> Checker {
        Checker {
            owner: owner.to_owned(),
            store: store.clone(),
            gate: Arc::downgrade(gate),
            changes: Arc::downgrade(changes),
            // Held until the baseline is taken.
            work: Mutex::new(Work {
                running: true,
                ..Work::default()
            }),
        }
    }

    fn is_for(&self, changes: &Arc<OwnerChanges>) -> bool {
        std::ptr::eq(self.changes.as_ptr(), Arc::as_ptr(changes))
    }

    /// The baseline of what watchers know is recorded: events that came
    /// since are acted on now, later ones as they come.
    pub(crate) fn baseline_taken(self: &Arc<Self>) {
        let pending = {
            let mut work = lock(&self.work);
            work.running = work.read || !work.sync.is_empty();
            work.running
        };
        if pending {
            tokio::spawn(Arc::clone(self).run());
        }
    }

    /// Asks for a read of the counters, after a sync of `mailbox` if
    /// given; starts a run unless one is going on.
    fn kick(self: &Arc<Self>, sync: Option<&str>) {
        {
            let mut work = lock(&self.work);
            work.read = true;
            if let Some(mailbox) = sync
                && !work.sync.iter().any(|m| m == mailbox)
            {
                work.sync.push(mailbox.to_owned());
            }
            if std::mem::replace(&mut work.running, true) {
                return;
            }
        }
        tokio::spawn(Arc::clone(self).run());
    }

    /// Does the work asked for until none is left, or the owner is no
    /// longer watched.
    async fn run(self: Arc<Self>) {
        let mut stale_reads = 0;
        let mut failing = false;
        let mut wait = SETTLE;
        loop {
            tokio::time::sleep(wait).await;
            let (sync, read) = {
                let mut work = lock(&self.work);
                let sync = std::mem::take(&mut work.sync);
                let read = std::mem::take(&mut work.read);
                if sync.is_empty() && !read {
                    work.running = false;
                    return;
                }
                (sync, read)
            };
            let (Some(gate), Some(changes)) = (self.gate.upgrade(), self.changes.upgrade()) else {
                lock(&self.work).running = false;
                return;
            };
            let mut retry = false;
            for mailbox in sync {
                let store = self.store.clone();
                let name = mailbox.clone();
                if let Err(status) = gate
                    .run(&self.owner, move || store.sync_mailbox(&name))
                    .await
                {
                    // A mailbox deleted meanwhile is not retried.
                    if status.code() != tonic::Code::NotFound {
                        lock(&self.work).sync.push(mailbox);
                        retry = true;
                    }
                    tracing::debug!(
                        owner = self.owner,
                        reason = status.message(),
                        "syncing a watched mailbox after new files failed"
                    );
                }
                // The sync may have opened the index: released again once
                // idle like after a call.
                gate.touch(&self.owner);
            }
            if read {
                let published = changes.published();
                let store = self.store.clone();
                match gate
                    .run(&self.owner, move || store.mailbox_counters_transient())
                    .await
                {
                    Ok(now) => {
                        failing = false;
                        // A read overtaken by this process's own
                        // announcements is read again; under a constant
                        // stream of them, the third is taken as it is.
                        let check = (stale_reads < MAX_STALE_READS).then_some(published);
                        if changes.reconcile(&now, check) {
                            stale_reads = 0;
                        } else {
                            stale_reads += 1;
                            lock(&self.work).read = true;
                        }
                    }
                    Err(status) => {
                        if !failing {
                            tracing::warn!(
                                owner = self.owner,
                                reason = status.message(),
                                "reading the index for watchers failed; retrying"
                            );
                        }
                        failing = true;
                        retry = true;
                        lock(&self.work).read = true;
                    }
                }
            }
            wait = if retry { RETRY_AFTER } else { SETTLE };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wal_writes_and_a_replaced_index_count_as_commits() {
        let wal = OsStr::new(INDEX_WAL_FILE);
        let index = OsStr::new(INDEX_FILE);
        assert!(is_index_change(wal, ReadFlags::MODIFY));
        assert!(is_index_change(wal, ReadFlags::CREATE));
        assert!(is_index_change(index, ReadFlags::MOVED_TO));
        assert!(!is_index_change(index, ReadFlags::MODIFY), "a checkpoint");
        let shm = format!("{INDEX_FILE}-shm");
        assert!(!is_index_change(OsStr::new(&shm), ReadFlags::MODIFY));
        assert!(!is_index_change(OsStr::new(".Archive"), ReadFlags::CREATE));
    }
}

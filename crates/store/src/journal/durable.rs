//! Making journaled commits durable, outside the write lock. Every
//! commit that journaled messages takes a number (in commit order, while
//! the write lock is still held) and is acknowledged only once a sync of
//! the WAL ([`super::sync_wal`]) that *began after it* has ended. At most
//! one sync runs at a time; commits made while it runs wait for the next
//! one, which covers all of them: so the write lock is free for the next
//! appends' transactions while the disk flushes, and one flush makes as
//! many commits durable as came during the one before (group commit
//! across commits, not only within one).
//!
//! A failed sync fails every commit it was to cover (their rows and files
//! stay, as after any failure past the commit: see `crate::append`), and
//! also every commit made before it that no successful sync covered yet:
//! after a failed fsync, Linux may have dropped the dirty pages, so a later
//! successful sync proves nothing about them.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::Store;
use crate::error::{Result, StoreError};

/// The numbers of commits made and made durable, and the one sync that
/// may run.
#[derive(Default)]
pub(crate) struct Durability {
    state: Mutex<State>,
    /// Signalled when a sync ends.
    synced: Condvar,
}

#[derive(Default)]
struct State {
    /// The number of the latest commit that needs a sync.
    committed: u64,
    /// Every commit up to this one is durable.
    durable: u64,
    /// The commits (first and last number) that failed their sync: never
    /// made durable by a later one (failures are rare, so the list stays
    /// short).
    failed: Vec<(u64, u64)>,
    /// The error of the latest failed sync.
    error: Option<String>,
    /// A sync runs now.
    syncing: bool,
    /// Syncs run (for tests and monitoring).
    syncs: u64,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A commit that waits to be made durable (see [`Durability::committed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Durability {
    /// Numbers a commit that journaled messages and needs a sync before
    /// it is acknowledged. Call it after the commit, still holding the
    /// write lock, so that numbers follow the commits' order in the WAL.
    pub(crate) fn committed(&self) -> Ticket {
        let mut st = lock(&self.state);
        st.committed += 1;
        Ticket(st.committed)
    }

    /// Waits until `ticket`'s commit is durable: runs the sync itself when
    /// none runs, else waits for the one running and, if that began before
    /// the commit, for the next.
    pub(crate) fn wait(&self, store: &Store, ticket: Ticket) -> Result<()> {
        self.wait_with(ticket, || super::sync_wal(store))
    }

    /// [`Durability::wait`] with `sync` as the sync (tests count and fail
    /// them).
    fn wait_with(&self, Ticket(n): Ticket, sync: impl Fn() -> Result<()>) -> Result<()> {
        let mut st = lock(&self.state);
        loop {
            if st.failed.iter().any(|&(from, to)| (from..=to).contains(&n)) {
                let why = st.error.clone().unwrap_or_default();
                return Err(StoreError::io(
                    "making the append journal durable",
                    std::io::Error::other(why),
                ));
            }
            if st.durable >= n {
                return Ok(());
            }
            if !st.syncing {
                break;
            }
            st = self.synced.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        // This thread syncs for every commit numbered so far.
        let upto = st.committed;
        st.syncing = true;
        drop(st);
        let result = sync();
        let mut st = lock(&self.state);
        st.syncing = false;
        st.syncs += 1;
        match &result {
            Ok(()) => st.durable = st.durable.max(upto),
            Err(e) => {
                // Everything not yet durable up to `upto`: nothing later
                // makes it so.
                let from = st.durable + 1;
                st.durable = upto;
                st.failed.push((from, upto));
                st.error = Some(e.to_string());
            }
        }
        drop(st);
        self.synced.notify_all();
        result
    }

    /// How many syncs ran so far.
    pub(crate) fn syncs(&self) -> u64 {
        lock(&self.state).syncs
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn a_commit_waits_for_a_sync_that_began_after_it() {
        let d = Durability::default();
        let first = d.committed();
        let synced = AtomicU64::new(0);
        let sync = || {
            synced.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        d.wait_with(first, sync).unwrap();
        assert_eq!(synced.load(Ordering::SeqCst), 1);
        // Already durable: no second sync.
        d.wait_with(first, sync).unwrap();
        assert_eq!(synced.load(Ordering::SeqCst), 1);
        // A later commit needs a sync of its own.
        let second = d.committed();
        d.wait_with(second, sync).unwrap();
        assert_eq!(synced.load(Ordering::SeqCst), 2);
        assert_eq!(d.syncs(), 2);
    }

    #[test]
    fn commits_made_during_a_sync_share_the_next_one() {
        let d = Arc::new(Durability::default());
        let first = d.committed();
        // The first sync holds until the other commits are made and their
        // threads wait (they block on the running sync).
        let inside = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let syncs = Arc::new(AtomicU64::new(0));
        let leader = {
            let (d, inside, release, syncs) =
                (d.clone(), inside.clone(), release.clone(), syncs.clone());
            std::thread::spawn(move || {
                d.wait_with(first, || {
                    syncs.fetch_add(1, Ordering::SeqCst);
                    inside.wait();
                    release.wait();
                    Ok(())
                })
            })
        };
        inside.wait();
        let later: Vec<Ticket> = (0..3).map(|_| d.committed()).collect();
        release.wait();
        leader.join().unwrap().unwrap();
        // The first sync began before them: it did not cover them.
        assert_eq!(lock(&d.state).durable, 1);
        for t in later {
            d.wait_with(t, || {
                syncs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        }
        // One more sync made all three durable.
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_sync_fails_what_it_covered_and_what_was_not_yet_durable() {
        let d = Durability::default();
        let a = d.committed();
        let b = d.committed();
        let failing = || {
            Err(StoreError::io(
                "fdatasync",
                std::io::Error::other("disk gone"),
            ))
        };
        assert!(d.wait_with(a, failing).is_err());
        // b was committed before the failed sync began: it fails too,
        // without another sync (its pages may be lost).
        let ok = || -> Result<()> { panic!("no sync for a failed commit") };
        let e = d.wait_with(b, ok).unwrap_err();
        assert!(e.to_string().contains("disk gone"), "{e}");
        // A commit after the failure is made durable by a new sync, and
        // that does not make the failed ones durable.
        let c = d.committed();
        d.wait_with(c, || Ok(())).unwrap();
        assert!(d.wait_with(a, ok).is_err());
        assert!(d.wait_with(b, ok).is_err());
    }
}

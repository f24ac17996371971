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
//! A failed sync (or one that panicked) breaks this store's durability
//! for good: it fails every commit not yet made durable, and every later
//! one too (their rows and files stay, as after any failure past the
//! commit: see `crate::append`). After a failed fsync Linux may have
//! dropped the dirty pages of the WAL, and SQLite's recovery stops at the
//! first frame whose cumulative checksum does not hold, so a later
//! successful sync proves nothing about any commit after the lost pages:
//! only a new process that opens the index again (and recovers what the
//! disk holds) acknowledges journaled mail again.

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
    /// Once a sync failed: its OS error number (kept, so that ENOSPC
    /// still answers as a full disk) and its message. Every commit not
    /// durable then, and every later one, fails.
    broken: Option<(Option<i32>, String)>,
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
        // Counted as idle by the storage process's choice of where short
        // reads run (see `crate::disk_wait`).
        let _waiting = crate::disk_wait::DiskWait::start();
        self.wait_with(ticket, || super::sync_wal(store))
    }

    /// [`Durability::wait`] with `sync` as the sync (tests count and fail
    /// them).
    fn wait_with(&self, Ticket(n): Ticket, sync: impl Fn() -> Result<()>) -> Result<()> {
        let mut st = lock(&self.state);
        loop {
            if st.durable >= n {
                return Ok(());
            }
            if let Some((errno, why)) = &st.broken {
                let source = match errno {
                    Some(errno) => std::io::Error::from_raw_os_error(*errno),
                    None => std::io::Error::other(why.clone()),
                };
                return Err(StoreError::io(
                    format!(
                        "making the append journal durable (a sync failed before, {why}: \
                         the index must be opened again)"
                    ),
                    source,
                ));
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
        let running = Running(self);
        let result = sync();
        std::mem::forget(running);
        let mut st = lock(&self.state);
        st.syncing = false;
        st.syncs += 1;
        match &result {
            Ok(()) => st.durable = st.durable.max(upto),
            Err(e) => {
                tracing::error!(error = %e,
                    "the append journal's sync failed: no journaled mail of this store is \
                     acknowledged any more until its index is opened again");
                st.broken = Some((os_error(e), e.to_string()));
            }
        }
        drop(st);
        self.synced.notify_all();
        result
    }

    /// Breaks durability for good (see the module) when a sync panicked,
    /// and wakes the commits waiting for it, which would wait forever.
    fn break_on_panic(&self) {
        let mut st = lock(&self.state);
        st.syncing = false;
        st.broken = Some((None, "the sync panicked".to_owned()));
        drop(st);
        self.synced.notify_all();
    }

    /// How many syncs ran so far.
    pub(crate) fn syncs(&self) -> u64 {
        lock(&self.state).syncs
    }
}

/// The OS error number behind a failed sync, when there is one.
fn os_error(e: &StoreError) -> Option<i32> {
    match e {
        StoreError::Io { source, .. } => source.raw_os_error(),
        StoreError::NoSpace { .. } => Some(nix::libc::ENOSPC),
        StoreError::OverQuota { .. } => Some(nix::libc::EDQUOT),
        StoreError::TooBig { .. } => Some(nix::libc::EFBIG),
        _ => None,
    }
}

/// A sync under way: dropped only if the sync panicked (a sync that ends
/// forgets it).
struct Running<'a>(&'a Durability);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.break_on_panic();
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
        // A commit after the failure fails too, even though a sync would
        // now succeed: the lost pages may cut the WAL before it.
        let c = d.committed();
        let e = d.wait_with(c, ok).unwrap_err();
        assert!(e.to_string().contains("disk gone"), "{e}");
        assert!(d.wait_with(a, ok).is_err());
        assert!(d.wait_with(b, ok).is_err());
    }

    #[test]
    fn a_sync_that_panicked_fails_its_waiters_instead_of_hanging_them() {
        let d = Arc::new(Durability::default());
        let first = d.committed();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            d.wait_with(first, || -> Result<()> { panic!("sync panicked") })
        }));
        assert!(panicked.is_err());
        let next = d.committed();
        let e = d
            .wait_with(next, || -> Result<()> { panic!("no sync once broken") })
            .unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
    }
}

//! The background flusher of the append journal: one thread per store,
//! started by the first journaled append and gone again once nothing is
//! pending, so an owner without deliveries costs no thread. It flushes
//! when [`FLUSH_COUNT`] messages or [`FLUSH_BYTES`] bytes were journaled
//! since its last flush, or when no append came for [`IDLE`]; the store
//! flushes what is left when it is released or dropped (a drop only
//! what has its file: see `flush_held`).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::{Inner, Store};

/// Journaled messages that make the flusher run at once.
pub(crate) const FLUSH_COUNT: u64 = 128;
/// Journaled bytes that make the flusher run at once.
pub(crate) const FLUSH_BYTES: u64 = 8 * 1024 * 1024;
/// How long without a journaled append counts as idle.
const IDLE: Duration = Duration::from_millis(500);

/// What the flusher thread and the appenders share.
#[derive(Default)]
struct State {
    /// Messages and bytes journaled since the last flush began.
    count: u64,
    bytes: u64,
    /// Bumped by each journaled commit (to tell idle from busy).
    commits: u64,
    /// Whether a flusher thread runs.
    running: bool,
    /// Background flushing turned off ([`Store::set_auto_flush`]).
    disabled: bool,
}

/// The store's flusher: its shared state; the thread holds a weak handle
/// to the store, so it never keeps a dropped store alive.
#[derive(Default)]
pub(crate) struct Flusher {
    shared: Arc<(Mutex<State>, Condvar)>,
    /// The WAL last synced, open, with its device and inode (its directory
    /// entry was made durable when it was opened): see
    /// [`crate::journal::sync_wal`].
    pub(crate) wal: Mutex<Option<(std::fs::File, super::FileId)>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Flusher {
    /// Notes a commit that journaled `count` messages of `bytes` bytes in
    /// `store`: wakes the flusher when enough is pending, starts it if
    /// none runs.
    pub(crate) fn noted(&self, store: &Store, count: u64, bytes: u64) {
        if count == 0 {
            return;
        }
        let (state, wake) = &*self.shared;
        let mut st = lock(state);
        st.count += count;
        st.bytes += bytes;
        st.commits += 1;
        if st.disabled {
            return;
        }
        if st.running {
            if st.count >= FLUSH_COUNT || st.bytes >= FLUSH_BYTES {
                wake.notify_one();
            }
            return;
        }
        let weak = Arc::downgrade(&store.inner);
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("journal-flush".into())
            .spawn(move || run(&shared, &weak));
        match spawned {
            Ok(_) => st.running = true,
            Err(e) => tracing::warn!(error = %e,
                "no thread for the journal flusher: journaled files are flushed when the store is released"),
        }
    }

    /// Whether anything was journaled since the last flush began (by
    /// this store handle's process) and background flushing is on.
    pub(crate) fn owes(&self) -> bool {
        let st = lock(&self.shared.0);
        st.count > 0 && !st.disabled
    }

    /// Marks everything noted so far as being flushed.
    pub(crate) fn started(&self) {
        let mut st = lock(&self.shared.0);
        st.count = 0;
        st.bytes = 0;
    }

    /// Closes the WAL kept open for syncs (an idle store holds no file
    /// of its index; the next sync opens it again); whether one was open.
    /// A sync running now keeps it.
    pub(crate) fn close_wal(&self) -> bool {
        match self.wal.try_lock() {
            Ok(mut held) => held.take().is_some(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().take().is_some(),
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// Turns background flushing on or off (see [`Store::set_auto_flush`]).
    pub(crate) fn set_enabled(&self, on: bool) {
        let (state, wake) = &*self.shared;
        lock(state).disabled = !on;
        wake.notify_one();
    }
}

/// The flusher thread: waits for enough to flush or for the store to go
/// idle, flushes, and ends when nothing more was journaled, when turned
/// off, or when the store is gone.
fn run(shared: &Arc<(Mutex<State>, Condvar)>, store: &Weak<Inner>) {
    let (state, wake) = &**shared;
    loop {
        {
            let mut st = lock(state);
            loop {
                if st.disabled || st.count == 0 {
                    st.running = false;
                    return;
                }
                if st.count >= FLUSH_COUNT || st.bytes >= FLUSH_BYTES {
                    break;
                }
                let before = st.commits;
                let (guard, waited) = wake
                    .wait_timeout(st, IDLE)
                    .unwrap_or_else(PoisonError::into_inner);
                st = guard;
                if waited.timed_out() && st.commits == before {
                    break; // idle
                }
            }
            st.count = 0;
            st.bytes = 0;
        }
        let Some(inner) = store.upgrade() else {
            lock(state).running = false;
            return;
        };
        let store = Store { inner };
        if let Err(e) = store.flush_journal() {
            tracing::warn!(root = %store.root().display(), error = %e,
                "flushing the append journal failed; it is tried again later");
        }
        // May be the last handle: its drop flushes what came meanwhile.
        drop(store);
    }
}

impl Store {
    /// Flushes the journal if this store journaled appends since the last
    /// flush (before the store is released); failures are logged, the
    /// rows stay for the next flush or open.
    pub(crate) fn flush_owed(&self) {
        if !self.inner.journal.owes() {
            return;
        }
        self.inner.journal.started();
        if let Err(e) = self.flush_journal() {
            tracing::warn!(root = %self.root().display(), error = %e,
                "flushing the append journal failed; the next open recovers it");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.journal.owes() {
            return;
        }
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            match crate::schema::reopen_writer(&self.root) {
                Ok(conn) => *guard = Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "no index connection to flush the append journal");
                    return;
                }
            }
        }
        let Some(conn) = guard.as_mut() else { return };
        // Under the lock throughout: nobody else holds this store now.
        if let Err(e) = super::flush_held(conn, &self.root) {
            tracing::warn!(root = %self.root.display(), error = %e,
                "flushing the append journal at close failed; the next open recovers it");
        }
    }
}

//! Checkpoints of the index's WAL, off the committing thread.
//!
//! SQLite's own automatic checkpoint runs inside the `COMMIT` that takes
//! the WAL past its limit, on the committing connection: about one append
//! in seventy (each commits about a dozen pages) waited for a copy of a
//! thousand pages into the database and two fsyncs before it could be
//! made durable and acknowledged, several milliseconds on this kind of
//! disk. Here the write connection's WAL hook only notes that a
//! checkpoint is due; when the write connection is handed back, a thread
//! of the store's own checkpoints the WAL (PASSIVE, on a connection of
//! its own, which holds up neither readers nor the writer) while the
//! writer goes on. Once a checkpoint has copied every frame, the next
//! commit starts the WAL from its beginning again, so the file keeps its
//! size instead of growing (a growing WAL costs every sync a write of its
//! inode too). Should the checkpoints fall far behind (no thread could be
//! started), the committing connection checkpoints by itself, as SQLite
//! would.

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};

use crate::schema::INDEX_FILE;

/// WAL pages after which a checkpoint is due: SQLite's default limit.
pub(crate) const DUE_AT_PAGES: c_int = 1000;

/// WAL pages after which the committing connection checkpoints by itself:
/// the background checkpoints could not keep up.
const AT_ONCE_PAGES: c_int = 8 * DUE_AT_PAGES;

thread_local! {
    /// Set by the WAL hook when a commit on this thread left a checkpoint
    /// due; taken when the write connection is handed back.
    static DUE: Cell<bool> = const { Cell::new(false) };
}

/// The write connection's WAL hook (see the module's documentation). It
/// replaces SQLite's automatic checkpoint on that connection.
pub(crate) fn wal_grew(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    if pages >= AT_ONCE_PAGES {
        // Its failure is not the commit's, which has happened.
        if let Err(e) = wal.checkpoint() {
            tracing::debug!(error = %e, pages, "checkpoint of a long WAL failed");
        }
    } else if pages >= DUE_AT_PAGES {
        DUE.set(true);
    }
    Ok(())
}

/// Forgets a due checkpoint noted on this thread (by a commit of another
/// store, or one made outside a [`crate::writer::Writer`]).
pub(crate) fn forget_due() {
    DUE.set(false);
}

/// Whether a commit on this thread left a checkpoint due since the last
/// call (or [`forget_due`]).
pub(crate) fn take_due() -> bool {
    DUE.replace(false)
}

/// A store's background checkpoints: at most one thread at a time.
#[derive(Default)]
pub(crate) struct Checkpointer {
    shared: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Default)]
struct State {
    /// Whether a checkpoint thread runs.
    running: bool,
    /// Asked for since the running checkpoint began: the thread runs
    /// another.
    again: bool,
    /// Checkpoints run so far.
    done: u64,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Checkpointer {
    /// Has the WAL of the index at `root` checkpointed soon, on a thread
    /// of its own (which inherits the calling thread's credentials).
    pub(crate) fn request(&self, root: &Path) {
        {
            let mut st = lock(&self.shared.0);
            st.again = true;
            if st.running {
                return;
            }
            st.running = true;
        }
        let (shared, root) = (Arc::clone(&self.shared), root.to_path_buf());
        let spawned = std::thread::Builder::new()
            .name("index-checkpoint".into())
            .spawn(move || run(&shared, &root));
        if let Err(e) = spawned {
            let mut st = lock(&self.shared.0);
            st.running = false;
            st.again = false;
            self.shared.1.notify_all();
            tracing::warn!(error = %e,
                "no thread for the index checkpoint: commits checkpoint by themselves once the WAL is long");
        }
    }

    /// How many background checkpoints have run, once none runs or is
    /// asked for (waiting at most `wait` for that): for tests and
    /// monitoring.
    pub(crate) fn done(&self, wait: Duration) -> u64 {
        let (state, idle) = &*self.shared;
        let st = lock(state);
        let (st, _) = idle
            .wait_timeout_while(st, wait, |st| st.running)
            .unwrap_or_else(PoisonError::into_inner);
        st.done
    }
}

impl crate::Store {
    /// How many checkpoints of the index's WAL have run in the background
    /// (see the module's documentation), once none runs or is asked for,
    /// waiting at most `wait` for that: for tests and monitoring.
    pub fn index_checkpoints(&self, wait: Duration) -> u64 {
        self.inner.checkpoints.done(wait)
    }
}

/// The checkpoint thread: checkpoints as long as it is asked to, on one
/// connection, closed when it ends.
fn run(shared: &(Mutex<State>, Condvar), root: &Path) {
    let (state, idle) = shared;
    let mut conn = None;
    loop {
        {
            let mut st = lock(state);
            if !st.again {
                st.running = false;
                idle.notify_all();
                return;
            }
            st.again = false;
        }
        if let Err(e) = checkpoint(&mut conn, root) {
            tracing::debug!(root = %root.display(), error = %e, "background checkpoint failed");
        }
        lock(state).done += 1;
    }
}

/// One PASSIVE checkpoint of the index at `root`, on `conn` (opened on
/// first use): copies what no reader still needs, waits for nobody.
fn checkpoint(conn: &mut Option<Connection>, root: &Path) -> rusqlite::Result<()> {
    let conn = match conn {
        Some(conn) => conn,
        None => {
            // Not created: the store made the index.
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            conn.insert(Connection::open_with_flags(root.join(INDEX_FILE), flags)?)
        }
    };
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

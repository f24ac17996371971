//! Read-only index connections (DESIGN §5: the index is in WAL mode, where
//! readers never wait for the writer). Reads take one from this pool, so a
//! read never queues behind the store's one write connection, whatever
//! holds it: a long write, or a write waiting for another process's lock.
//! Long calls (SEARCH over a big mailbox, a FETCH of many structures or
//! bodies) read through these too and hold no connection at all while they
//! read message files.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, SqlContext};
use crate::schema::INDEX_FILE;

/// Idle connections kept for reuse; more are opened when more reads run
/// at once, and closed when they end. Few, because a storage process may
/// serve thousands of owners (DESIGN §1).
const KEEP_IDLE: usize = 2;

/// Page cache of a reader, in KiB (SQLite's default is 2 MB per
/// connection): the OS caches the index file anyway.
const CACHE_KIB: i64 = 512;

/// Prepared statements kept per reader (the hot reads run a few).
const STATEMENT_CACHE: usize = 32;

/// How long a reader waits when the index is briefly locked (a WAL
/// recovery after a crash; never for an ordinary writer).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool of one store's read-only connections.
pub(crate) struct Readers {
    index: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Readers lent out now (in use by a read).
    lent: AtomicUsize,
}

impl Readers {
    /// A pool for the index of the Maildir at `root` (opened lazily).
    pub(crate) fn new(root: &Path) -> Readers {
        Readers {
            index: root.join(INDEX_FILE),
            idle: Mutex::new(Vec::new()),
            lent: AtomicUsize::new(0),
        }
    }

    /// How many readers are in use now (a release leaves them open).
    pub(crate) fn lent(&self) -> usize {
        self.lent.load(Ordering::Relaxed)
    }

    /// A reader lent out over `conn`.
    fn lend(&self, conn: Connection, keep: bool) -> Reader<'_> {
        self.lent.fetch_add(1, Ordering::Relaxed);
        Reader {
            conn: Some(conn),
            pool: self,
            keep,
        }
    }

    /// An idle reader, or a new one.
    pub(crate) fn get(&self) -> Result<Reader<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(self.lend(conn, true))
    }

    /// An idle reader, or else a new one that is closed (not kept for
    /// reuse) when dropped: for reads made on behalf of an owner that has
    /// no calls (change detection for its watchers), which should leave
    /// nothing open behind them.
    pub(crate) fn get_transient(&self) -> Result<Reader<'_>> {
        if let Some(idle) = self.try_idle() {
            return Ok(idle);
        }
        Ok(self.lend(self.open()?, false))
    }

    /// An idle reader, if one is open (never opens one: for reads made
    /// where opening a file would be too slow).
    pub(crate) fn try_idle(&self) -> Option<Reader<'_>> {
        let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
        Some(self.lend(conn, true))
    }

    /// Closes the idle connections; returns whether there were any.
    pub(crate) fn close_idle(&self) -> bool {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        !idle.is_empty()
    }

    fn open(&self) -> Result<Connection> {
        let context = format!("opening {} for reading", self.index.display());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.index, flags).ctx(&context)?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx(&context)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        crate::schema::keep_plans(&conn, &context)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .ctx(&context)?;
        // Sorts in memory, as the writer's (see schema.rs).
        conn.pragma_update(None, "temp_store", "MEMORY")
            .ctx(&context)?;
        Ok(conn)
    }
}

/// A read-only connection borrowed from the pool; it goes back when
/// dropped (unless it was opened for one read, see
/// [`Readers::get_transient`]). One left inside a transaction is closed.
pub(crate) struct Reader<'a> {
    conn: Option<Connection>,
    pool: &'a Readers,
    /// Whether it goes back to the pool.
    keep: bool,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Set from construction until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        self.pool.lent.fetch_sub(1, Ordering::Relaxed);
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.keep || !conn.is_autocommit() {
            // A read left mid-transaction would pin an old snapshot.
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    /// A reader in use when the store is released stays open and goes
    /// back to the pool after; the store says it is in use meanwhile, so
    /// that its owner is released again later rather than never.
    #[test]
    fn a_reader_lent_out_outlives_a_release_and_the_store_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(&dir.path().join("Maildir")).unwrap();
        assert!(store.release_idle(), "the writer closes");
        assert!(!store.in_use());
        let reader = store.reader().unwrap();
        assert!(store.in_use(), "a reader is lent out");
        assert!(!store.release_idle(), "a reader in use is left alone");
        drop(reader);
        assert!(!store.in_use());
        assert!(
            store.release_idle(),
            "back in the pool, the next release closes it"
        );
        let transient = store.transient_reader().unwrap();
        assert!(store.in_use());
        drop(transient);
        assert!(!store.in_use());
        assert!(
            !store.release_idle(),
            "a one-read connection was closed after its read"
        );
    }

    /// A statement whose plan looks at a bound value (`LIMIT ?`, as in the
    /// count of a mailbox's changes every settled Changes call makes) is
    /// prepared once on the writer and on a reader, not again at every
    /// binding (see `schema::keep_plans`): without the setting, three
    /// runs with new bindings re-prepared it three times.
    #[test]
    fn a_statement_with_a_bound_limit_keeps_its_plan_on_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(&dir.path().join("Maildir")).unwrap();
        let sql = "SELECT count(*) FROM (SELECT 1 FROM messages \
                   WHERE mailbox_id = ?1 AND modseq > ?2 LIMIT ?3)";
        let reprepared = |conn: &rusqlite::Connection| {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            for since in 0..3_i64 {
                let n: i64 = stmt
                    .query_row(rusqlite::params![1, since, 2001 + since], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 0);
            }
            stmt.get_status(rusqlite::StatementStatus::RePrepare)
        };
        assert_eq!(reprepared(&store.reader().unwrap()), 0, "reader");
        assert_eq!(reprepared(&store.conn().unwrap()), 0, "writer");
        // What the setting prevents, on a connection without it.
        let bare =
            rusqlite::Connection::open(dir.path().join("Maildir/mailkeep.index.sqlite")).unwrap();
        assert!(
            reprepared(&bare) > 0,
            "a bound LIMIT re-prepares without the setting"
        );
    }
}

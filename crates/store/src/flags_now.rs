//! A flag change made at once on the calling thread, or not at all: what
//! lets a storage process answer a STORE of a few messages on its async
//! thread instead of handing it to a store thread and back (the hand-over
//! and the two wake-ups cost a STORE more than its commit). It is made
//! only when it waits for nothing: the write connection is open and free,
//! no other process holds the index's write lock, the mailbox's folder is
//! as the index last saw it (so its files are where the index says, and
//! renaming them takes no search of the folder), and the commit runs no
//! checkpoint (which writes and syncs the database file). Otherwise the
//! caller makes the change the ordinary way, on a store thread.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Result, SqlContext};
use crate::flags::StoreMode;
use crate::index::UidRange;
use crate::mailbox::begin_write;
use crate::messages::{FlagChange, FlagsStored};
use crate::private_seen::Viewer;
use crate::{Store, schema, sync, writer};

/// Changes made at once in a row, at most, before one is left to the
/// caller's ordinary way, whose commit checkpoints the WAL when it has
/// grown past SQLite's threshold: at a few pages a change, the WAL grows
/// by some hundreds of pages at most between two chances to checkpoint.
const MOST_IN_A_ROW: u32 = 128;

/// SQLite's automatic checkpoint threshold, in WAL pages: its default,
/// which the write connection keeps outside these changes.
const AUTOCHECKPOINT_PAGES: u32 = 1000;

/// How many changes were made at once since one was left to the caller.
#[derive(Debug, Default)]
pub(crate) struct InARow(AtomicU32);

impl Store {
    /// [`Store::store_flags_as`] if it can be made now without waiting
    /// (see the module doc); `None`, with nothing changed, when it cannot.
    #[allow(clippy::too_many_arguments)] // store_flags_as' arguments
    pub fn store_flags_now<S: AsRef<str>>(
        &self,
        viewer: Viewer<'_>,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        mode: StoreMode,
        flags: &[S],
        unchanged_since: Option<u64>,
    ) -> Result<Option<FlagsStored>> {
        let in_a_row = &self.inner.flags_now.0;
        if in_a_row.fetch_add(1, Ordering::Relaxed) >= MOST_IN_A_ROW {
            in_a_row.store(0, Ordering::Relaxed);
            return Ok(None);
        }
        let change = FlagChange::parse(viewer, mailbox, uidvalidity, ranges, mode, flags)?;
        let Some(conn) = self.open_free_conn() else {
            return Ok(None);
        };
        let mut conn = AtOnce::new(conn)?;
        let tx = match begin_write(conn.connection()) {
            Ok(tx) => tx,
            // Another process holds the index's write lock.
            Err(e) if e.is_transient() => return Ok(None),
            Err(e) => return Err(e),
        };
        if sync::settled(self, &tx, &change.name)?.is_none() {
            return Ok(None);
        }
        self.store_flags_in(tx, change, unchanged_since).map(Some)
    }

    /// The write connection if it is open and no other thread holds it
    /// now.
    fn open_free_conn(&self) -> Option<writer::Writer<'_>> {
        let guard = match self.inner.conn.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        guard.is_some().then(|| writer::Writer::new(guard))
    }
}

/// The write connection with the settings of a change made at once: no
/// wait for another process's write lock, no automatic checkpoint. They
/// are put back when this drops, after the change or a failure or panic;
/// a connection whose settings cannot be put back is closed (the next
/// write opens it again with its own).
struct AtOnce<'a> {
    conn: writer::Writer<'a>,
}

impl<'a> AtOnce<'a> {
    fn new(conn: writer::Writer<'a>) -> Result<AtOnce<'a>> {
        let context = "making a flag change at once";
        conn.busy_timeout(Duration::ZERO).ctx(context)?;
        let conn = AtOnce { conn };
        conn.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .ctx(context)?;
        Ok(conn)
    }

    fn connection(&mut self) -> &mut rusqlite::Connection {
        &mut self.conn
    }
}

impl Drop for AtOnce<'_> {
    fn drop(&mut self) {
        let restored = self.conn.busy_timeout(schema::BUSY_TIMEOUT).is_ok()
            && self
                .conn
                .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
                .is_ok();
        if !restored {
            tracing::warn!("cannot restore the index's write connection settings; closing it");
            self.conn.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;

    fn store_with_one() -> (tempfile::TempDir, Store, u32, u32) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("Maildir")).expect("store");
        let body = b"Subject: a\r\n\r\none\r\n";
        let mut w = store
            .begin_append("INBOX", Flags::default(), None, body.len() as u64)
            .expect("append");
        w.write(body).expect("write");
        let staged = w.finish().expect("finish");
        let batch = store.commit_appends(vec![staged], None).expect("commit");
        // A read syncs the folder: from then on it is settled.
        store.status("INBOX").expect("status");
        (dir, store, batch.uids[0], batch.uidvalidity)
    }

    fn now(store: &Store, uv: u32, uid: u32) -> Option<FlagsStored> {
        store
            .store_flags_now(
                Viewer::Owner,
                "INBOX",
                uv,
                &[UidRange::new(uid, uid)],
                StoreMode::Add,
                &["\\Flagged"],
                None,
            )
            .expect("store_flags_now")
    }

    #[test]
    fn declined_while_another_thread_holds_the_write_connection() {
        let (_dir, store, uid, uv) = store_with_one();
        {
            let _held = store.conn().expect("writer");
            assert!(now(&store, uv, uid).is_none());
        }
        assert!(now(&store, uv, uid).is_some());
    }

    /// The write connection's busy timeout (ms) and checkpoint threshold.
    fn settings(conn: &rusqlite::Connection) -> (i64, i64) {
        let timeout = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("busy_timeout");
        let pages = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("wal_autocheckpoint");
        (timeout, pages)
    }

    #[test]
    fn a_change_at_once_waits_for_no_lock_and_runs_no_checkpoint_and_the_writer_is_as_before_after()
    {
        let (_dir, store, uid, uv) = store_with_one();
        let usual = (
            i64::try_from(schema::BUSY_TIMEOUT.as_millis()).expect("small"),
            i64::from(AUTOCHECKPOINT_PAGES),
        );
        {
            let mut at_once = AtOnce::new(store.conn().expect("writer")).expect("settings");
            assert_eq!(settings(at_once.connection()), (0, 0));
        }
        assert_eq!(settings(&store.conn().expect("writer")), usual);
        assert!(now(&store, uv, uid).is_some());
        assert_eq!(settings(&store.conn().expect("writer")), usual);
    }
}

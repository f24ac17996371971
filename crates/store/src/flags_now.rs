//! A flag change made at once on the calling thread, or not at all: what
//! lets a storage process answer a STORE of a few messages on its async
//! thread instead of handing it to a store thread and back (the hand-over
//! and the two wake-ups cost a STORE more than its commit). It is made
//! only when nothing would make the calling thread wait: the write
//! connection is free, no other process holds the index's write lock, and
//! the commit runs no checkpoint (which writes and syncs the database
//! file); otherwise the caller makes the change the ordinary way.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Result, SqlContext};
use crate::flags::StoreMode;
use crate::index::UidRange;
use crate::messages::{FlagChange, FlagsStored};
use crate::private_seen::Viewer;
use crate::{Store, schema, writer};

/// Changes made at once in a row, at most, before one is left to the
/// caller's ordinary way, whose commit checkpoints the WAL when it has
/// grown past SQLite's threshold: at a few pages a change, the WAL grows
/// by a few thousand pages at most between checkpoints.
const MOST_IN_A_ROW: u32 = 512;

/// SQLite's own automatic checkpoint threshold, in WAL pages, which the
/// write connection keeps outside these changes.
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
        let Some(mut conn) = self.free_conn()? else {
            return Ok(None);
        };
        let context = "making a flag change at once";
        conn.busy_timeout(Duration::ZERO).ctx(context)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .ctx(context)?;
        let stored = self.store_flags_on(&mut conn, change, unchanged_since);
        conn.busy_timeout(schema::BUSY_TIMEOUT).ctx(context)?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
            .ctx(context)?;
        match stored {
            // Another process holds the index's write lock: nothing was
            // changed (the transaction never began).
            Err(e) if e.is_transient() => Ok(None),
            Err(e) => Err(e),
            Ok(stored) => Ok(Some(stored)),
        }
    }

    /// The write connection if no other thread holds it now (opened again
    /// if [`Store::release_idle`] closed it).
    fn free_conn(&self) -> Result<Option<writer::Writer<'_>>> {
        let mut guard = match self.inner.conn.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        if guard.is_none() {
            *guard = Some(schema::reopen_writer(&self.inner.root)?);
        }
        Ok(Some(writer::Writer::new(guard)))
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

    #[test]
    fn the_write_connection_waits_and_checkpoints_as_before_afterwards() {
        let (_dir, store, uid, uv) = store_with_one();
        assert!(now(&store, uv, uid).is_some());
        let conn = store.conn().expect("writer");
        let timeout: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("busy_timeout");
        let pages: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("wal_autocheckpoint");
        assert_eq!(
            u128::try_from(timeout).expect("positive"),
            schema::BUSY_TIMEOUT.as_millis()
        );
        assert_eq!(pages, i64::from(AUTOCHECKPOINT_PAGES));
    }
}

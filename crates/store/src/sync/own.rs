//! The stamp after the store's own changes. Every flag change renames a
//! file and every append, copy and expunge adds or removes one, so the
//! folder's stamp moves with nearly every write; if only a full scan could
//! record a stamp, the call after each write would rescan the folder
//! (in a busy mailbox: every call). A write that found the stored stamp
//! current before it touched the folder (under the write lock, so no other
//! storage process wrote meanwhile) records the stamp after it instead.
//!
//! What this cannot see is another program's change made in the same
//! clock tick as the stamp's last update, after the stat that read it (on
//! file systems with coarse timestamps; Linux 6.13+ gives a directory
//! that was just read a fine-grained time for its next change). Such a
//! stamp is recorded as unverified with a deadline (`sync_unverified`):
//! the first sync after the deadline scans the folder once, and later own
//! writes never push the deadline back, so an outside change is picked up
//! within [`super::reconcile::FRESH_NS`] even in a mailbox that is written
//! without pause.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::scan::{self, Stamp};
use crate::error::{Result, SqlContext};
use crate::index::cached_execute;

/// The stored stamp of a mailbox and, when it was recorded without a full
/// scan or while too fresh to trust, the time after which it must be
/// verified by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredStamp {
    pub(crate) stamp: Stamp,
    /// Nanoseconds since the epoch; `None`: verified by a full scan.
    pub(crate) verify_after_ns: Option<i64>,
}

impl StoredStamp {
    /// Whether `current` shows no change since this stamp, at `now_ns`.
    pub(crate) fn covers(&self, current: Stamp, now_ns: i64) -> bool {
        self.stamp == current && self.can_cover(now_ns)
    }

    /// Whether this stamp can still cover the folder at `now_ns` (verified,
    /// or before its deadline): if not, an own write need not read the
    /// folder's stamp at all. That read is not free beyond its system
    /// call: reading a directory's times makes its next change take a
    /// fine-grained time (Linux 6.13+), which moves every later coarse
    /// timestamp on the file system, so the next WAL write changes the
    /// WAL's mtime and the `fdatasync` that makes an append durable
    /// writes the WAL's inode too (ext4: one more synchronous disk write
    /// per delivery).
    pub(crate) fn can_cover(&self, now_ns: i64) -> bool {
        self.verify_after_ns.is_none_or(|t| now_ns < t)
    }
}

/// Reads the stored stamp of `mailbox_id`, if any.
pub(crate) fn stored(conn: &Connection, mailbox_id: i64) -> Result<Option<StoredStamp>> {
    crate::index::cached_row(
        conn,
        "SELECT s.cur_mtime_ns, s.new_mtime_ns, u.verify_after_ns
           FROM sync_state s LEFT JOIN sync_unverified u ON u.mailbox_id = s.mailbox_id
          WHERE s.mailbox_id = ?1",
        [mailbox_id],
        |r| {
            Ok(StoredStamp {
                stamp: Stamp {
                    cur_mtime_ns: r.get(0)?,
                    new_mtime_ns: r.get(1)?,
                },
                verify_after_ns: r.get(2)?,
            })
        },
    )
    .optional()
    .ctx("reading sync state")
}

/// Stores `stamp` for `mailbox_id`, verified or to be verified after
/// `verify_after_ns`.
pub(crate) fn store(
    conn: &Connection,
    mailbox_id: i64,
    stamp: Stamp,
    verify_after_ns: Option<i64>,
) -> Result<()> {
    cached_execute(
        conn,
        "INSERT OR REPLACE INTO sync_state (mailbox_id, cur_mtime_ns, new_mtime_ns)
         VALUES (?1, ?2, ?3)",
        params![mailbox_id, stamp.cur_mtime_ns, stamp.new_mtime_ns],
    )
    .ctx("storing sync state")?;
    match verify_after_ns {
        Some(t) => cached_execute(
            conn,
            "INSERT OR REPLACE INTO sync_unverified (mailbox_id, verify_after_ns) VALUES (?1, ?2)",
            params![mailbox_id, t],
        ),
        None => cached_execute(
            conn,
            "DELETE FROM sync_unverified WHERE mailbox_id = ?1",
            [mailbox_id],
        ),
    }
    .ctx("storing sync state")?;
    Ok(())
}

/// A write of the store's own to a mailbox folder, begun under the write
/// lock: [`OwnChange::record`] after the write keeps the stored stamp
/// current when it was current before.
pub(crate) struct OwnChange {
    mailbox_id: i64,
    dir: PathBuf,
    /// The stored stamp if it was current before the write; `None` when
    /// the next sync must scan anyway.
    current_before: Option<StoredStamp>,
}

impl OwnChange {
    /// Reads the stored and the folder's stamp of the mailbox in `dir`
    /// before a write; call with the write transaction open.
    pub(crate) fn begin(conn: &Connection, mailbox_id: i64, dir: &Path) -> Result<OwnChange> {
        let now = super::reconcile::now_ns();
        // No stamp, or one past its deadline, covers nothing whatever the
        // folder shows: its stat is skipped (see `StoredStamp::can_cover`).
        let current_before = match stored(conn, mailbox_id)? {
            Some(s) if s.can_cover(now) => match scan::stamp(dir) {
                Ok(current) if s.covers(current, now) => Some(s),
                _ => None,
            },
            _ => None,
        };
        Ok(OwnChange {
            mailbox_id,
            dir: dir.to_path_buf(),
            current_before,
        })
    }

    /// Records the folder's stamp after the write, in the write's own
    /// transaction, unverified until at most [`super::reconcile::FRESH_NS`] from now.
    pub(crate) fn record(self, conn: &Connection) -> Result<()> {
        let Some(before) = self.current_before else {
            return Ok(());
        };
        let deadline = before.verify_after_ns;
        let Ok(after) = scan::stamp(&self.dir) else {
            return Ok(());
        };
        let latest = super::reconcile::now_ns().saturating_add(super::reconcile::FRESH_NS);
        let verify_after = deadline.map_or(latest, |d| d.min(latest));
        store(conn, self.mailbox_id, after, Some(verify_after))
    }

    /// Like [`OwnChange::record`] for a write finished after its
    /// transaction committed (expunged files are removed after the
    /// commit): in a new write transaction, records only if the stored
    /// stamp is still the one seen before the write.
    pub(crate) fn record_if_unchanged(self, conn: &Connection) -> Result<()> {
        match self.current_before {
            Some(before) if stored(conn, self.mailbox_id)? == Some(before) => self.record(conn),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp = Stamp {
        cur_mtime_ns: 10,
        new_mtime_ns: 20,
    };

    #[test]
    fn a_verified_stamp_covers_an_equal_folder_stamp_at_any_time() {
        let stored = StoredStamp {
            stamp: STAMP,
            verify_after_ns: None,
        };
        assert!(stored.covers(STAMP, i64::MAX));
        let moved = Stamp {
            cur_mtime_ns: 11,
            ..STAMP
        };
        assert!(!stored.covers(moved, 0));
    }

    #[test]
    fn an_unverified_stamp_stops_covering_at_its_deadline() {
        let stored = StoredStamp {
            stamp: STAMP,
            verify_after_ns: Some(1_000),
        };
        assert!(stored.covers(STAMP, 999));
        assert!(!stored.covers(STAMP, 1_000));
        // Past it, no folder stamp could be covered: an own write skips
        // reading the folder's.
        assert!(stored.can_cover(999));
        assert!(!stored.can_cover(1_000));
        let verified = StoredStamp {
            verify_after_ns: None,
            ..stored
        };
        assert!(verified.can_cover(i64::MAX));
    }
}

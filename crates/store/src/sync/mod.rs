//! Outside changes (DESIGN §5): another program (procmail, mutt, a crash
//! between rename and index commit) may add, remove or rename files in a
//! mailbox's folder. [`crate::Store::sync_mailbox`] reconciles the index
//! with the files; it is cheap when nothing changed, because it first
//! compares the folder's [`scan::Stamp`] with the one stored at the last
//! sync or by the store's own last write (table `sync_state`; see
//! [`own`] for stamps that still need one verifying scan).

pub(crate) mod filename;
pub(crate) mod own;
mod reconcile;
pub(crate) mod scan;

use std::path::{Path, PathBuf};

pub use reconcile::SyncReport;
pub(crate) use reconcile::settled;

use rusqlite::Connection;

use crate::error::{Result, SqlContext, StoreError};
use crate::txn::Txn;
use crate::{Store, names};

/// The tables of the sync: the folder stamp at the last sync (and when an
/// unverified one must be checked by a scan), and the base
/// names of files whose index row was deleted (expunged) so that a file
/// still present (removal pending, or a crash before it) is removed by the
/// next sync rather than picked up again as a new message. The trigger
/// records every deleted row, whoever deletes it; `sync_gone` has no
/// foreign key because rows are deleted by the cascade of a mailbox
/// deletion too (a trigger clears them then).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_state (
    mailbox_id   INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    cur_mtime_ns INTEGER NOT NULL,
    new_mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_unverified (
    mailbox_id      INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    verify_after_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_gone (
    mailbox_id INTEGER NOT NULL,
    base       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, base)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS sync_gone_on_delete AFTER DELETE ON messages
BEGIN
    INSERT OR IGNORE INTO sync_gone (mailbox_id, base)
    SELECT OLD.mailbox_id,
           CASE WHEN instr(OLD.file, ':') > 0
                THEN substr(OLD.file, 1, instr(OLD.file, ':') - 1)
                ELSE OLD.file END
    WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = OLD.mailbox_id);
END;
CREATE TRIGGER IF NOT EXISTS sync_gone_on_mailbox_delete AFTER DELETE ON mailboxes
BEGIN
    DELETE FROM sync_gone WHERE mailbox_id = OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS sync_gone_on_insert AFTER INSERT ON messages
BEGIN
    DELETE FROM sync_gone WHERE mailbox_id = NEW.mailbox_id
        AND base = CASE WHEN instr(NEW.file, ':') > 0
                        THEN substr(NEW.file, 1, instr(NEW.file, ':') - 1)
                        ELSE NEW.file END;
END;
";

/// Finds the file in `cur` whose base name is `base` (after a rename by
/// another process changed its flags), returning its path.
pub(crate) fn find_by_base(cur: &Path, base: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(cur).ok()?;
    entries.flatten().find_map(|e| {
        let name = e.file_name();
        let name = name.to_str()?;
        (filename::base_name(name) == base).then(|| e.path())
    })
}

impl Store {
    /// Picks up outside changes in `mailbox`'s folder (see the module
    /// docs): files in `new/` move to `cur/`; unknown files in `cur/` get
    /// new UIDs; flags changed in file names get a new MODSEQ; rows whose
    /// file is gone are expunged. All in one transaction; skipped when the
    /// folder's stamp equals the one stored at the last sync.
    pub fn sync_mailbox(&self, mailbox: &str) -> Result<SyncReport> {
        let name = names::canonical(mailbox)?;
        self.threaded(reconcile::sync(self, &name, false)?)
    }

    /// Like [`Store::sync_mailbox`], but always scans the folder.
    pub fn sync_mailbox_full(&self, mailbox: &str) -> Result<SyncReport> {
        let name = names::canonical(mailbox)?;
        self.threaded(reconcile::sync(self, &name, true)?)
    }

    /// Runs `read` once the canonical mailbox `name` is synced (outside
    /// changes picked up, DESIGN §5). When its folder is settled (as the
    /// index last saw it), the check and the read share one read
    /// transaction: one WAL read lock, and one look at what other
    /// connections committed, instead of one for each of the check's two
    /// queries and one for the read. Otherwise the mailbox is synced
    /// first and `read` makes its own. A sync that cannot write for lack
    /// of disk space leaves the outside changes to the next one and the
    /// read sees the index as it is: a user whose disk is full can still
    /// open a mailbox and read it.
    pub(crate) fn read_synced<T>(
        &self,
        name: &str,
        read: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        {
            let mut conn = self.reader()?;
            let mut tx = Txn::read(&mut conn).ctx("starting a read")?;
            if reconcile::settled(self, &tx, name)?.is_some() {
                return read(&mut tx);
            }
        }
        match self.sync_mailbox(name) {
            Ok(_) => {}
            Err(StoreError::NoSpace { context }) => {
                tracing::warn!(mailbox = %name, %context,
                    "disk full: outside changes are picked up later; reading the index as it is");
            }
            Err(e) => return Err(e),
        }
        read(&mut *self.reader()?)
    }

    /// Gives messages a sync found their threads (they were indexed
    /// without reading them).
    fn threaded(&self, report: SyncReport) -> Result<SyncReport> {
        if !report.added.is_empty() {
            self.thread_pending()?;
        }
        Ok(report)
    }
}

/// Renames files in `cur` from the first name of each pair to the second
/// (flag changes), tolerating files renamed meanwhile by another program
/// (found by base name) or removed (left to the next sync, which expunges
/// the row). Returns the renames done, for [`undo_renames`].
pub(crate) fn rename_for_flags(
    cur: &Path,
    renames: &[(String, String)],
) -> Vec<(PathBuf, PathBuf)> {
    let mut done = Vec::new();
    for (from, to) in renames {
        let target = cur.join(to);
        let mut source = cur.join(from);
        if !source.exists() {
            match find_by_base(cur, filename::base_name(from)) {
                Some(found) => source = found,
                None => {
                    tracing::warn!(file = %from, "message file vanished before its flags could be written to its name");
                    continue;
                }
            }
        }
        match std::fs::rename(&source, &target) {
            Ok(()) => done.push((source, target)),
            Err(e) => tracing::warn!(file = %source.display(), error = %e,
                "message file could not be renamed for its new flags"),
        }
    }
    // No fsync of cur/: a flag change lost to a power failure is not lost
    // mail (the index and the names agree again at the next sync).
    done
}

/// Reverses renames made by [`rename_for_flags`] (best effort, logged).
pub(crate) fn undo_renames(done: &[(PathBuf, PathBuf)]) {
    for (source, target) in done.iter().rev() {
        if let Err(e) = std::fs::rename(target, source) {
            tracing::warn!(file = %target.display(), error = %e, "flag rename could not be undone");
        }
    }
}

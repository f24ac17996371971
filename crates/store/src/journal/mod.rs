//! The append journal (DESIGN §5): the index commit that acknowledges an
//! append also holds the message's bytes, so that commit — one fsync of
//! the WAL — is the append's only durable point. The append writes no
//! file: until a flush has written the file into `cur/` and made it and
//! its directory entry durable, the bytes wait in `pending_bodies`, keyed
//! by the message's row, marked `unwritten` while the file does not exist
//! yet. An acknowledged delivery thus costs no file creation, no rename
//! and no change to the folder's directories: with no directory inode
//! dirtied, the WAL's `fdatasync` writes the WAL alone (on ext4 without a
//! journal it also writes the inode-table block of the WAL's inode when
//! that block is dirty — and the folder's directories' inodes share it).
//!
//! * [`write_out`]: writes the unwritten files (to `tmp/`, renamed into
//!   `cur/` under the name the index has now), under the write lock,
//!   recording the folders' stamps as the store's own change. Whoever
//!   needs a file first runs it: the flusher, a reader that finds a
//!   message's file missing ([`crate::Store::open_message`], SEARCH),
//!   COPY, MOVE, a rename of INBOX, a folder scan, `verify`, `reindex`,
//!   the storage process on SIGTERM. (A flag change before it renames
//!   nothing; the store's drop writes none: its thread may lack the
//!   owner's credentials, and the next opening's recovery writes them.)
//! * [`flusher`]: off the acknowledgement path, writes the unwritten
//!   files, fsyncs pending files and their `cur/` directories in bulk and
//!   then deletes their rows: when enough is pending, when the store goes
//!   idle, before it is released or closed.
//! * [`durable`]: the WAL syncs that make commits durable, run outside
//!   the write lock, one at a time, each for every commit made before it
//!   began.
//! * [`recover`]: when a store is opened (after a crash or power loss),
//!   every pending row whose file is missing, short or different gets its
//!   file written again from the journal, before anything is read.
//!
//! A row goes with its message: a trigger deletes it when the message row
//! is deleted (EXPUNGE, MOVE, a deleted mailbox, REPLACE), and the flusher
//! deletes a row only if the message still has the file name it fsynced.

mod durable;
pub(crate) mod flusher;
mod recover;
mod write_out;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::cached_execute;
use crate::mailbox::begin_write;
use crate::{Store, maildir, names};

pub(crate) use durable::{Durability, Ticket};
pub(crate) use flusher::Flusher;
pub(crate) use recover::recover;
pub(crate) use write_out::{Unwritten, body_in_memory, unwritten_files, write_out};

/// A message larger than this is not journaled: its file is fsynced
/// before the commit instead (big messages are bound by their writing,
/// not by the flushes, and would make the WAL grow).
pub(crate) const JOURNAL_MAX: u64 = 512 * 1024;

/// The journal's table and the trigger that keeps it to live messages.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending_bodies (
    id         INTEGER PRIMARY KEY,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    body       BLOB NOT NULL,
    unwritten  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (mailbox_id, uid)
);
CREATE TRIGGER IF NOT EXISTS pending_bodies_follow_messages
AFTER DELETE ON messages
BEGIN
    DELETE FROM pending_bodies WHERE mailbox_id = old.mailbox_id AND uid = old.uid;
END;
";

/// What a version-3 index lacks of the journal's table (schema version
/// 4): the mark of a message whose file is not written yet.
pub(crate) const MIGRATE_3_TO_4: &str =
    "ALTER TABLE pending_bodies ADD COLUMN unwritten INTEGER NOT NULL DEFAULT 0;";

/// Journals the bytes of message `uid` of mailbox `mailbox_id`, in the
/// transaction that indexes it; its file is not written yet.
pub(crate) fn record(conn: &Connection, mailbox_id: i64, uid: u32, body: &[u8]) -> Result<()> {
    cached_execute(
        conn,
        "INSERT OR REPLACE INTO pending_bodies (mailbox_id, uid, body, unwritten)
         VALUES (?1, ?2, ?3, 1)",
        params![mailbox_id, uid, body],
    )
    .ctx("journaling an appended message")?;
    Ok(())
}

/// Which file a WAL name stood for: device and inode (`None`: the file
/// system did not tell it, and the file is never taken for the same).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileId {
    dev: (u32, u32),
    ino: Option<u64>,
}

impl FileId {
    fn of(st: &rustix::fs::Statx) -> FileId {
        let told = st.stx_mask & rustix::fs::StatxFlags::INO.bits() != 0;
        FileId {
            dev: (st.stx_dev_major, st.stx_dev_minor),
            ino: told.then_some(st.stx_ino),
        }
    }

    /// Whether both name the same file, as far as is known.
    fn same(&self, other: &FileId) -> bool {
        self.dev == other.dev && self.ino.is_some() && self.ino == other.ino
    }

    /// The file `path` names (a symlink itself, not followed).
    ///
    /// Asked for its inode alone, never its times: a stat that reads a
    /// file's times makes its next write stamp it with a fine-grained new
    /// mtime (Linux's multigrain timestamps), which dirties its inode, and
    /// a `fdatasync` on ext4 without a journal then writes that inode too
    /// — a second disk write per sync, had every sync of the WAL begun
    /// with a plain `stat` of it.
    fn at(path: &Path) -> std::io::Result<FileId> {
        use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
        Ok(FileId::of(&statx(
            CWD,
            path,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::INO,
        )?))
    }

    /// The open `file` (asked, as [`FileId::at`], for its inode alone).
    fn open(file: &std::fs::File) -> std::io::Result<FileId> {
        use rustix::fs::{AtFlags, StatxFlags, statx};
        Ok(FileId::of(&statx(
            file,
            "",
            AtFlags::EMPTY_PATH,
            StatxFlags::INO,
        )?))
    }
}

/// Makes the commits made so far on `store`'s index durable: an
/// `fdatasync` of its WAL, which the connections' `synchronous = NORMAL`
/// leaves to checkpoints. Called after a commit that journaled messages,
/// before they are acknowledged. (Not SQLite's `synchronous = FULL`: that
/// is an `fsync`, which also writes the WAL's new mtime — a file system
/// journal commit more per append.) A WAL file new since the last call
/// (SQLite removes it when the last connection closes and makes a new one
/// at the next write) also gets its folder fsynced once, as SQLite does
/// for a new journal, so that its name survives a power loss. A WAL that
/// is gone was checkpointed into the database, which the checkpoint
/// fsynced.
///
/// The WAL is kept open between calls (one `statx` of its name, for its
/// inode only, tells whether it is still the same file), so a sync is two
/// system calls, not five. The file seen by that `statx` holds every
/// commit numbered before the sync began: a WAL made after it holds later
/// commits only (and the one it replaced was checkpointed into the
/// database first).
pub(crate) fn sync_wal(store: &Store) -> Result<()> {
    let root = store.root();
    let wal = root.join(crate::schema::INDEX_WAL_FILE);
    let io = |e| StoreError::io(format!("fdatasync of {}", wal.display()), e);
    let inode = match FileId::at(&wal) {
        Ok(id) => id,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut held = store
        .inner
        .journal
        .wal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((file, known)) = held.as_ref()
        && known.same(&inode)
    {
        // Open: its inode cannot have been reused for another file.
        return file.sync_data().map_err(io);
    }
    let file = match std::fs::File::open(&wal) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    file.sync_data().map_err(io)?;
    let inode = FileId::open(&file).map_err(io)?;
    maildir::fsync_dir(root)?;
    *held = Some((file, inode));
    Ok(())
}

/// fsyncs the files of the messages among `uids` of `mailbox_id` (in
/// `cur`) that are still journaled, so that a hard link or copy of them is
/// durable once its own directory is fsynced (COPY, MOVE).
pub(crate) fn sync_pending_files(
    conn: &Connection,
    mailbox_id: i64,
    files: &[(u32, &str)],
    cur: &Path,
) -> Result<()> {
    let pending: HashSet<u32> = {
        let mut stmt = conn
            .prepare_cached("SELECT uid FROM pending_bodies WHERE mailbox_id = ?1")
            .ctx("reading journaled messages")?;
        let rows = stmt
            .query_map([mailbox_id], |r| r.get(0))
            .ctx("reading journaled messages")?;
        rows.collect::<std::result::Result<_, _>>()
            .ctx("reading journaled messages")?
    };
    if pending.is_empty() {
        return Ok(());
    }
    for (uid, file) in files {
        if pending.contains(uid) {
            sync_file(&cur.join(file))?;
        }
    }
    Ok(())
}

/// fsyncs one file.
fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(format!("fsync of {}", path.display()), e))
}

/// A journaled message and where its file is now.
struct Pending {
    id: i64,
    mailbox_id: i64,
    uid: u32,
    /// Its file name in `cur/`, as the index has it.
    file: String,
    /// Its mailbox's folder.
    dir: PathBuf,
    /// Its file was never written (see [`write_out`]).
    unwritten: bool,
}

/// The journaled messages (at most `limit`), oldest first.
fn pending(conn: &Connection, root: &Path, limit: i64) -> Result<Vec<Pending>> {
    let context = "reading the append journal";
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.id, p.mailbox_id, p.uid, m.file, b.name, p.unwritten
               FROM pending_bodies p
               JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
               JOIN mailboxes b ON b.id = p.mailbox_id
              ORDER BY p.id LIMIT ?1",
        )
        .ctx(context)?;
    let rows = stmt
        .query_map([limit], |r| {
            let name: String = r.get(4)?;
            Ok(Pending {
                id: r.get(0)?,
                mailbox_id: r.get(1)?,
                uid: r.get(2)?,
                file: r.get(3)?,
                dir: names::mailbox_dir(root, &name),
                unwritten: r.get(5)?,
            })
        })
        .ctx(context)?;
    rows.collect::<std::result::Result<_, _>>().ctx(context)
}

/// Rows flushed per round, so a long journal does not hold much memory.
const ROUND: i64 = 1024;

/// The number of rows in the journal.
pub(crate) fn count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM pending_bodies", [], |r| r.get(0))
        .ctx("counting journaled messages")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes the rows of `done` whose message still has the file that was
/// made durable (one renamed meanwhile for its flags waits for the next
/// flush).
fn forget(conn: &mut Connection, done: &[&Pending]) -> Result<usize> {
    if done.is_empty() {
        return Ok(0);
    }
    let context = "deleting flushed rows of the append journal";
    let tx = begin_write(conn)?;
    let mut deleted = 0;
    for p in done {
        deleted += cached_execute(
            &tx,
            "DELETE FROM pending_bodies WHERE id = ?1 AND EXISTS (
                 SELECT 1 FROM messages WHERE mailbox_id = ?2 AND uid = ?3 AND file = ?4)",
            params![p.id, p.mailbox_id, p.uid, p.file],
        )
        .ctx(context)?;
    }
    tx.commit().ctx(context)?;
    Ok(deleted)
}

/// Rows from which one `syncfs` is cheaper than an fsync per file.
const SYNCFS_FROM: usize = 8;

/// Set once `syncfs` failed (a sandbox may refuse it): fsync per file.
static NO_SYNCFS: AtomicBool = AtomicBool::new(false);

/// Flushes the whole file system holding `root` (one flush for every
/// pending file); false if that is not possible here.
fn sync_file_system(root: &Path) -> bool {
    if NO_SYNCFS.load(Ordering::Relaxed) {
        return false;
    }
    let Ok(dir) = std::fs::File::open(root) else {
        return false;
    };
    match nix::unistd::syncfs(&dir) {
        Ok(()) => true,
        Err(e) => {
            NO_SYNCFS.store(true, Ordering::Relaxed);
            tracing::info!(error = %e, "syncfs is not available: the journal flusher fsyncs each file");
            false
        }
    }
}

/// One flush round over `rows`: makes each file durable (one `syncfs`
/// for many, else an fsync each), then each touched `cur/` once; returns
/// the rows now durable. A file that is gone (expunged or renamed for its
/// flags meanwhile) is skipped.
fn sync_rows<'a>(root: &Path, rows: &'a [Pending]) -> Result<Vec<&'a Pending>> {
    let mut done = Vec::with_capacity(rows.len());
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    let whole = rows.len() >= SYNCFS_FROM && sync_file_system(root);
    // A row read as unwritten may have got its file since (a reader's
    // write-out), after the syncfs: not durable yet, it waits for the
    // next flush.
    for p in rows.iter().filter(|p| !p.unwritten) {
        let cur = p.dir.join("cur");
        let path = cur.join(&p.file);
        let synced = if whole {
            // Whether it is there, asked without its times (see
            // `FileId::at`).
            FileId::at(&path).map(|_| ())
        } else {
            std::fs::File::open(&path).and_then(|f| f.sync_all())
        };
        match synced {
            Ok(()) => {
                dirs.insert(cur);
                done.push(p);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(format!("fsync of {}", path.display()), e)),
        }
    }
    for dir in &dirs {
        maildir::fsync_dir(dir)?;
    }
    Ok(done)
}

impl Store {
    /// Writes every journaled append's file not written yet, makes them
    /// durable (file and `cur/` fsynced) and empties the journal of them;
    /// returns how many rows were deleted. The write lock is held only to
    /// write the files and to read and delete the rows, never across the
    /// fsyncs, and readers are never held up. Runs
    /// by itself in the background (see [`Store::set_auto_flush`]); call
    /// it to have the journal empty now.
    pub fn flush_journal(&self) -> Result<usize> {
        // What was journaled so far is flushed now (the store's drop need
        // not: see `flush_held`).
        self.inner.journal.started();
        self.write_out_in_rounds()?;
        let mut total = 0;
        loop {
            let rows = {
                let conn = self.conn()?;
                pending(&conn, self.root(), ROUND)?
            };
            if rows.is_empty() {
                return Ok(total);
            }
            let done = sync_rows(self.root(), &rows)?;
            let deleted = {
                let mut conn = self.conn()?;
                forget(&mut conn, &done)?
            };
            total += deleted;
            if deleted == 0 || rows.len() < ROUND as usize {
                return Ok(total);
            }
        }
    }

    /// The number of messages whose bytes are still journaled (appended
    /// and acknowledged, their files not yet flushed): for tests and
    /// monitoring.
    pub fn journal_len(&self) -> Result<u64> {
        let conn = self.conn()?;
        count(&conn)
    }

    /// How many syncs of the index's WAL made journaled commits durable
    /// so far (several commits share one when they come while another
    /// runs): for tests and monitoring.
    pub fn journal_syncs(&self) -> u64 {
        self.inner.durable.syncs()
    }

    /// Turns the background flush of the journal on (the default) or off.
    /// Off, journaled files are flushed only by [`Store::flush_journal`]
    /// or by the recovery of the next open — not in the background, nor
    /// when the store is released or dropped: what a test that simulates
    /// a crash needs, and a tool that flushes when it chooses.
    pub fn set_auto_flush(&self, on: bool) {
        self.inner.journal.set_enabled(on);
    }
}

/// [`Store::flush_journal`] on a connection held throughout (a store
/// being dropped: nobody else holds it any more).
///
/// Writes no file that is not written yet: a store may be dropped on any
/// thread (in shared mode not one with the owner's credentials); those
/// stay in the journal for the next opening's recovery, which runs as the
/// owner.
pub(crate) fn flush_held(conn: &mut Connection, root: &Path) -> Result<usize> {
    let mut total = 0;
    loop {
        let rows = pending(conn, root, ROUND)?;
        if rows.is_empty() {
            return Ok(total);
        }
        let done = sync_rows(root, &rows)?;
        let deleted = forget(conn, &done)?;
        total += deleted;
        if deleted == 0 || rows.len() < ROUND as usize {
            return Ok(total);
        }
    }
}

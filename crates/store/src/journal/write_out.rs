//! Writing the files of journaled appends: an append commits its bytes in
//! the index and writes no file (see the module docs of `crate::journal`);
//! the file is written here, from the journal, by whoever needs it first.
//! Not fsynced: the journal keeps the bytes until a flush has made the
//! file durable.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::cached_execute;
use crate::mailbox::begin_write;
use crate::sync::own::OwnChange;
use crate::{Store, maildir, names};

/// Which unwritten files to write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unwritten {
    /// Every one of the store.
    All,
    /// Those of one mailbox (by its row id).
    Mailbox(i64),
    /// The oldest ones of the store, at most this many (the flusher
    /// writes in rounds, so that appends take the write lock between
    /// them).
    Oldest(i64),
}

/// An unwritten message: its journal row, mailbox, the file name the
/// index has for it now, its mailbox's name.
struct Row {
    id: i64,
    mailbox_id: i64,
    uid: u32,
    /// The journaled bytes' length.
    len: i64,
    file: String,
    mailbox: String,
}

impl Row {
    /// What names this row's message and bytes: its journal row id alone
    /// does not (ids of deleted rows are given again).
    fn key(&self) -> (i64, i64, u32, i64) {
        (self.id, self.mailbox_id, self.uid, self.len)
    }
}

/// The unwritten messages `which` names.
fn rows(conn: &Connection, which: Unwritten) -> Result<Vec<Row>> {
    let context = "reading the unwritten messages of the append journal";
    let (mailbox, limit) = match which {
        Unwritten::All => (None, -1),
        Unwritten::Mailbox(m) => (Some(m), -1),
        Unwritten::Oldest(n) => (None, n),
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.id, p.mailbox_id, p.uid, length(p.body), m.file, b.name
               FROM pending_bodies p
               JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
               JOIN mailboxes b ON b.id = p.mailbox_id
              WHERE p.unwritten AND (?1 IS NULL OR p.mailbox_id = ?1)
              ORDER BY p.id LIMIT ?2",
        )
        .ctx(context)?;
    let found = stmt
        .query_map(params![mailbox, limit], |r| {
            Ok(Row {
                id: r.get(0)?,
                mailbox_id: r.get(1)?,
                uid: r.get(2)?,
                len: r.get(3)?,
                file: r.get(4)?,
                mailbox: r.get(5)?,
            })
        })
        .ctx(context)?;
    found.collect::<std::result::Result<_, _>>().ctx(context)
}

/// The names (as the index has them now) of the messages of
/// `mailbox_id` whose files are not written yet.
pub(crate) fn unwritten_files(conn: &Connection, mailbox_id: i64) -> Result<HashSet<String>> {
    let context = "reading the unwritten messages of the append journal";
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.file FROM pending_bodies p
               JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
              WHERE p.unwritten AND p.mailbox_id = ?1",
        )
        .ctx(context)?;
    let found = stmt.query_map([mailbox_id], |r| r.get(0)).ctx(context)?;
    found.collect::<std::result::Result<_, _>>().ctx(context)
}

/// What [`write_out`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WrittenOut {
    /// Files written.
    pub(crate) written: usize,
    /// Files left unwritten for want of room (a full disk): their bytes
    /// stay in the journal, which readers then serve.
    pub(crate) left: usize,
}

impl WrittenOut {
    /// Fails with [`StoreError::NoSpace`] if files were left unwritten:
    /// for a caller that needs every one (COPY links the files).
    pub(crate) fn all(self, what: &str) -> Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        Err(StoreError::NoSpace {
            context: format!(
                "{what}: {} journaled messages' files could not be written",
                self.left
            ),
        })
    }
}

/// Writes the unwritten files `which` names into their mailboxes' `cur/`
/// under the names the index has, inside `tx` (the write transaction:
/// nobody renames, expunges or appends meanwhile), marks them written and
/// records each folder's stamp as the store's own change. On a full disk
/// it stops at the first file that finds no room and keeps what it wrote
/// (the caller commits it); what is left is counted, not an error.
pub(crate) fn write_out(tx: &Connection, root: &Path, which: Unwritten) -> Result<WrittenOut> {
    write_out_with(tx, root, which, Prepared::default())
}

/// [`write_out`], renaming into place the files of `prepared` (written
/// before the write lock was taken) instead of writing them; a prepared
/// file whose message is gone or was written meanwhile is removed.
fn write_out_with(
    tx: &Connection,
    root: &Path,
    which: Unwritten,
    mut prepared: Prepared,
) -> Result<WrittenOut> {
    let rows = rows(tx, which)?;
    let mut done = WrittenOut::default();
    if rows.is_empty() {
        return Ok(done);
    }
    let context = "writing a journaled message's file";
    let mut folders: HashMap<i64, OwnChange> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let dir = names::mailbox_dir(root, &row.mailbox);
        if let std::collections::hash_map::Entry::Vacant(entry) = folders.entry(row.mailbox_id) {
            // Before the first rename into this folder.
            entry.insert(OwnChange::begin(tx, row.mailbox_id, &dir)?);
        }
        let cur = dir.join("cur");
        // A folder removed by another program is made again (as the
        // recovery does): the message is still in the index.
        let folder = if cur.is_dir() {
            Ok(())
        } else {
            maildir::ensure_maildir(&dir, dir != root)
        };
        let target = cur.join(&row.file);
        let written = match (folder, prepared.files.remove(&row.key())) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(tmp)) => rename_into(&tmp, &target),
            (Ok(()), None) => write_file(root, &target, &body_of(tx, row.id)?, Fsync::No),
        };
        match written {
            Ok(()) => {}
            Err(e @ (StoreError::NoSpace { .. } | StoreError::OverQuota { .. })) => {
                done.left += rows.len() - i;
                tracing::warn!(root = %root.display(), left = done.left, error = %e,
                    "disk full: journaled messages' files wait for room (read from the journal meanwhile)");
                break;
            }
            // This one stays in the journal (read from there); the others
            // are not held up by it.
            Err(e) => {
                done.left += 1;
                tracing::warn!(root = %root.display(), file = %row.file, error = %e,
                    "a journaled message's file could not be written; read from the journal meanwhile");
                continue;
            }
        }
        cached_execute(
            tx,
            "UPDATE pending_bodies SET unwritten = 0 WHERE id = ?1",
            [row.id],
        )
        .ctx(context)?;
        done.written += 1;
    }
    for own in folders.into_values() {
        own.record(tx)?;
    }
    // (What the round did not use goes with `prepared`.)
    Ok(done)
}

/// Files of unwritten messages written into `tmp/` before a round takes
/// the write lock, by journal row, message and length ([`Row::key`]): the
/// round then only renames them into place, so an append waits for
/// renames, not for the files' creation (which on a file system slow to
/// allocate inodes takes hundreds of microseconds each). Whatever the
/// round does not use is removed.
#[derive(Default)]
struct Prepared {
    files: HashMap<(i64, i64, u32, i64), PathBuf>,
    /// How many unwritten messages there were (0: nothing to do).
    found: usize,
}

impl Prepared {
    /// Writes the files of the unwritten messages `which` names, as `conn`
    /// (a reader) sees them now, into `root`'s `tmp/`; stops at the first
    /// failure (a full disk), which the round then meets itself.
    fn write(conn: &Connection, root: &Path, which: Unwritten) -> Result<Prepared> {
        let rows = rows(conn, which)?;
        let mut prepared = Prepared {
            files: HashMap::new(),
            found: rows.len(),
        };
        for row in rows {
            let body = body_of(conn, row.id)?;
            let tmp = root.join("tmp").join(format!(
                "{}.{}-{}.flush",
                crate::sync::filename::base_name(&row.file),
                std::process::id(),
                PREPARED.fetch_add(1, Ordering::Relaxed)
            ));
            if let Err(e) = write_tmp(&tmp, &body, Fsync::No) {
                tracing::debug!(error = %e, "a journaled message's file is left to the round");
                break;
            }
            prepared.files.insert(row.key(), tmp);
        }
        Ok(prepared)
    }

    /// Removes the files no round used.
    fn discard(&mut self) {
        for (_, tmp) in self.files.drain() {
            let _ = fs::remove_file(tmp);
        }
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Numbers the prepared files of this process (two flushes of one store
/// never share a name; the process id keeps apart those of two processes
/// serving one owner).
static PREPARED: AtomicU64 = AtomicU64::new(0);

/// The journaled bytes of the journal row `id`.
pub(crate) fn body_of(conn: &Connection, id: i64) -> Result<Vec<u8>> {
    conn.query_row("SELECT body FROM pending_bodies WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .ctx("reading a journaled message")
}

/// Whether [`write_file`] fsyncs the file before renaming it into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fsync {
    /// Before the rename (recovery: the journal row goes right after).
    Yes,
    /// Not: the journal keeps the bytes until a flush.
    No,
}

/// Writes `body` to `path` through a file in `root`'s `tmp/` (a reader
/// never sees it partly written); a failure leaves no temporary file.
pub(crate) fn write_file(root: &Path, path: &Path, body: &[u8], fsync: Fsync) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(crate::sync::filename::base_name)
        .unwrap_or("message");
    let tmp = root.join("tmp").join(format!("{name}.journal"));
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(format!("removing {}", tmp.display()), e)),
    }
    write_tmp(&tmp, body, fsync)?;
    rename_into(&tmp, path)
}

/// Writes `body` into the new file `tmp`; a failure leaves no file (not
/// left to take room: a full disk is the likely cause).
fn write_tmp(tmp: &Path, body: &[u8], fsync: Fsync) -> Result<()> {
    let written = maildir::create_private_file(tmp, true).and_then(|mut file| {
        file.write_all(body)
            .and_then(|()| match fsync {
                Fsync::Yes => file.sync_all(),
                Fsync::No => Ok(()),
            })
            .map_err(|e| StoreError::io(format!("writing {}", tmp.display()), e))
    });
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

/// Renames the written file `tmp` to `path`; a failure removes `tmp`.
fn rename_into(tmp: &Path, path: &Path) -> Result<()> {
    fs::rename(tmp, path).map_err(|e| {
        let _ = fs::remove_file(tmp);
        StoreError::io(
            format!("renaming {} to {}", tmp.display(), path.display()),
            e,
        )
    })
}

/// The journaled bytes of message `uid` of `mailbox_id` in a file held in
/// memory, for a reader when the message's file cannot be written (a full
/// disk); `None` if the journal does not hold them.
pub(crate) fn body_in_memory(conn: &Connection, mailbox_id: i64, uid: u32) -> Result<Option<File>> {
    use rusqlite::OptionalExtension;
    let context = "reading a journaled message";
    let body: Option<Vec<u8>> = conn
        .query_row(
            "SELECT body FROM pending_bodies WHERE mailbox_id = ?1 AND uid = ?2",
            params![mailbox_id, uid],
            |r| r.get(0),
        )
        .optional()
        .ctx(context)?;
    let Some(body) = body else {
        return Ok(None);
    };
    let in_memory = |e| StoreError::io("holding a journaled message in memory", e);
    let fd = rustix::fs::memfd_create("journaled-message", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| in_memory(std::io::Error::from(e)))?;
    let mut file = File::from(fd);
    file.write_all(&body)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .map_err(in_memory)?;
    Ok(Some(file))
}

/// Files the flusher writes per write transaction.
const ROUND: i64 = 8;

impl Store {
    /// Writes every unwritten file of the store, [`ROUND`] per write
    /// transaction (an append waits for one round at most, not for all);
    /// stops when a round makes no progress (a full disk).
    pub(crate) fn write_out_in_rounds(&self) -> Result<()> {
        loop {
            let which = Unwritten::Oldest(ROUND);
            let prepared = Prepared::write(&*self.reader()?, self.root(), which)?;
            if prepared.found == 0 {
                return Ok(());
            }
            let done = {
                let mut conn = self.conn()?;
                let tx = begin_write(&mut conn)?;
                let done = write_out_with(&tx, self.root(), which, prepared)?;
                if done.written > 0 {
                    tx.commit()
                        .ctx("committing the written files of journaled messages")?;
                }
                done
            };
            // Done when a round was not full, or made no progress (a full
            // disk; files that cannot be written stay in the journal).
            if ((done.written + done.left) as i64) < ROUND || done.written == 0 {
                return Ok(());
            }
        }
    }

    /// Writes the unwritten files `which` names (see [`write_out`]) in a
    /// write transaction of its own. Nothing to write costs one query on
    /// a reader and takes no lock.
    pub(crate) fn write_out_journaled(&self, which: Unwritten) -> Result<WrittenOut> {
        if rows(&*self.reader()?, which)?.is_empty() {
            return Ok(WrittenOut::default());
        }
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let done = write_out(&tx, self.root(), which)?;
        if done.written > 0 {
            tx.commit()
                .ctx("committing the written files of journaled messages")?;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Flags, StoreMode, UidRange};

    /// A store with the background flusher off and `n` journaled (unwritten)
    /// messages in INBOX; their UIDs.
    fn store_with(n: usize) -> (tempfile::TempDir, Store, Vec<u32>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("Maildir")).expect("store");
        store.set_auto_flush(false);
        let uids = (0..n)
            .map(|i| {
                let body = format!("Subject: m{i}\r\n\r\nbody {i}\r\n");
                let mut w = store
                    .begin_append("INBOX", Flags::default(), None, body.len() as u64)
                    .expect("append");
                w.write(body.as_bytes()).expect("write");
                w.commit().expect("commit").uid
            })
            .collect();
        (dir, store, uids)
    }

    /// Adds `flag` to message `uid` of INBOX.
    fn flag(store: &Store, uid: u32, flag: &str) {
        store
            .store_flags(
                "INBOX",
                0,
                &[UidRange::single(uid)],
                StoreMode::Add,
                &[flag],
                None,
            )
            .expect("flag");
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Files written before the round's lock are renamed into place under
    /// the names the index has then: a message expunged meanwhile gets no
    /// file, one whose flags changed gets its new name, and nothing is left
    /// in `tmp/`.
    #[test]
    fn a_round_renames_files_written_before_its_lock_under_the_names_of_then() {
        let (_dir, store, uids) = store_with(3);
        let root = store.root().to_path_buf();
        let which = Unwritten::Oldest(ROUND);
        let prepared =
            Prepared::write(&store.reader().expect("reader"), &root, which).expect("prepared");
        assert_eq!(prepared.files.len(), 3);
        assert_eq!(names_in(&root.join("tmp")).len(), 3);
        assert!(names_in(&root.join("cur")).is_empty());

        // Meanwhile: the first is expunged, the second flagged.
        flag(&store, uids[0], "\\Deleted");
        store
            .expunge("INBOX", 0, Some(&[UidRange::single(uids[0])]))
            .expect("expunge");
        flag(&store, uids[1], "\\Flagged");

        let mut conn = store.conn().expect("conn");
        let tx = begin_write(&mut conn).expect("tx");
        let done = write_out_with(&tx, &root, which, prepared).expect("round");
        tx.commit().expect("commit");
        drop(conn);
        assert_eq!(
            done,
            WrittenOut {
                written: 2,
                left: 0
            }
        );
        let cur = names_in(&root.join("cur"));
        assert_eq!(cur.len(), 2, "{cur:?}");
        assert_eq!(
            cur.iter().filter(|n| n.ends_with(":2,F")).count(),
            1,
            "{cur:?}"
        );
        assert!(names_in(&root.join("tmp")).is_empty());
        for (uid, i) in [(uids[1], 1), (uids[2], 2)] {
            let (mut file, _) = store.open_message("INBOX", uid).expect("open");
            let mut read = String::new();
            std::io::Read::read_to_string(&mut file, &mut read).expect("read");
            assert_eq!(read, format!("Subject: m{i}\r\n\r\nbody {i}\r\n"));
        }
    }

    /// A prepared file whose journal row went (its message expunged) is
    /// not renamed into the place of a message appended meanwhile that
    /// got the same row id.
    #[test]
    fn a_prepared_file_never_becomes_a_later_message_with_its_row_id() {
        let (_dir, store, uids) = store_with(1);
        let root = store.root().to_path_buf();
        let which = Unwritten::Oldest(ROUND);
        let prepared =
            Prepared::write(&store.reader().expect("reader"), &root, which).expect("prepared");
        flag(&store, uids[0], "\\Deleted");
        store
            .expunge("INBOX", 0, Some(&[UidRange::single(uids[0])]))
            .expect("expunge");
        let later = b"Subject: later\r\n\r\nanother message\r\n";
        let mut w = store
            .begin_append("INBOX", Flags::default(), None, later.len() as u64)
            .expect("append");
        w.write(later).expect("write");
        let uid = w.commit().expect("commit").uid;

        let mut conn = store.conn().expect("conn");
        let tx = begin_write(&mut conn).expect("tx");
        write_out_with(&tx, &root, which, prepared).expect("round");
        tx.commit().expect("commit");
        drop(conn);
        let (mut file, _) = store.open_message("INBOX", uid).expect("open");
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut read).expect("read");
        assert_eq!(read, later);
        assert!(names_in(&root.join("tmp")).is_empty());
    }

    /// Files written before the lock for messages a reader wrote meanwhile
    /// are removed, not renamed over the reader's.
    #[test]
    fn a_round_removes_files_whose_messages_were_written_meanwhile() {
        let (_dir, store, uids) = store_with(2);
        let root = store.root().to_path_buf();
        let which = Unwritten::Oldest(ROUND);
        let prepared =
            Prepared::write(&store.reader().expect("reader"), &root, which).expect("prepared");
        // A reader needs the first: the mailbox's files are written now.
        store.open_message("INBOX", uids[0]).expect("open");
        assert_eq!(names_in(&root.join("cur")).len(), 2);

        let mut conn = store.conn().expect("conn");
        let tx = begin_write(&mut conn).expect("tx");
        let done = write_out_with(&tx, &root, which, prepared).expect("round");
        drop(tx);
        drop(conn);
        assert_eq!(done, WrittenOut::default());
        assert!(names_in(&root.join("tmp")).is_empty());
        assert_eq!(names_in(&root.join("cur")).len(), 2);
    }
}

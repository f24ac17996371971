//! Recovery of the append journal when a store is opened: a crash or power
//! loss may have lost a journaled message's file (never fsynced), its
//! directory entry (the rename into `cur/`) or part of its bytes, and a
//! file not written yet is not there at all. Each such file is written
//! (again) from the journal — to `tmp/`, fsynced, renamed into place, the
//! directory fsynced — and a file that is intact is fsynced; then the rows
//! go. All under the write lock, so no other process appends, renames or
//! expunges meanwhile.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{Pending, count, pending, sync_file};
use crate::error::{Result, SqlContext, StoreError};
use crate::index::cached_execute;
use crate::mailbox::begin_write;
use crate::maildir;
use crate::sync::filename::base_name;

/// Repairs and flushes every journaled message (see the module docs).
pub(crate) fn recover(conn: &mut Connection, root: &Path) -> Result<()> {
    if count(conn)? == 0 {
        return Ok(());
    }
    let context = "recovering the append journal";
    let tx = begin_write(conn)?;
    // Rows whose message is gone are not mail any more.
    tx.execute(
        "DELETE FROM pending_bodies WHERE NOT EXISTS (SELECT 1 FROM messages m
             WHERE m.mailbox_id = pending_bodies.mailbox_id AND m.uid = pending_bodies.uid)",
        [],
    )
    .ctx(context)?;
    let rows = pending(&tx, root, i64::MAX)?;
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    let mut rewritten = 0usize;
    // The rows whose files are whole and durable now.
    let mut done: Vec<&Pending> = Vec::with_capacity(rows.len());
    for p in &rows {
        let body = super::write_out::body_of(&tx, p.id)?;
        let cur = p.dir.join("cur");
        // A file never written is written now (the append made none).
        let found = if p.unwritten {
            None
        } else {
            intact(&cur, &p.file, &body)
        };
        match found {
            Some(path) => sync_file(&path)?,
            None => match rewrite(root, p, &body) {
                Ok(()) => rewritten += usize::from(!p.unwritten),
                // A full disk: a file never written stays in the journal,
                // read from there, until there is room (the store opens
                // and serves its mail meanwhile).
                Err(StoreError::NoSpace { .. } | StoreError::OverQuota { .. }) if p.unwritten => {
                    continue;
                }
                Err(e) => return Err(e),
            },
        }
        dirs.insert(cur);
        done.push(p);
    }
    for dir in &dirs {
        maildir::fsync_dir(dir)?;
    }
    let forget = || -> Result<()> {
        for p in &done {
            cached_execute(&tx, "DELETE FROM pending_bodies WHERE id = ?1", [p.id]).ctx(context)?;
        }
        tx.commit().ctx(context)
    };
    match forget() {
        Ok(()) => {}
        // Every file is whole and durable by now: the rows may stay until
        // a flush can delete them, and the store opens on a full disk. (A
        // file that could not be written again fails the opening above.)
        Err(StoreError::NoSpace { context }) => {
            tracing::warn!(root = %root.display(), %context,
                "disk full: the journal's rows of durable messages stay until a flush");
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if done.len() < rows.len() {
        tracing::warn!(root = %root.display(), unwritten = rows.len() - done.len(),
            "disk full: messages whose files could not be written are read from the append journal until there is room");
    }
    if rewritten > 0 {
        tracing::warn!(root = %root.display(), rewritten, flushed = done.len(),
            "message files lost by a crash were written again from the append journal");
    }
    Ok(())
}

/// The message's file in `cur` if one holds exactly `body`: at the name
/// the index has, else at another name of the same base (an older flag
/// name whose rename a crash lost, or a newer one another program gave
/// it: the next sync reads the flags back from it either way).
fn intact(cur: &Path, file: &str, body: &[u8]) -> Option<PathBuf> {
    let path = cur.join(file);
    if holds(&path, body) {
        return Some(path);
    }
    let base = base_name(file);
    fs::read_dir(cur).ok()?.flatten().find_map(|e| {
        let name = e.file_name();
        let name = name.to_str()?;
        (base_name(name) == base && name != file && holds(&e.path(), body)).then(|| e.path())
    })
}

/// Whether the file at `path` holds exactly `body`.
fn holds(path: &Path, body: &[u8]) -> bool {
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(body.len() as u64) {
        return false;
    }
    let mut found = Vec::with_capacity(body.len());
    file.read_to_end(&mut found).is_ok() && found == body
}

/// Writes message `p`'s file again from `body`: any other name of it (a
/// damaged copy, in `cur/` or `new/`) is removed, the bytes go to
/// `tmp/`, are fsynced and renamed to the name the index has.
fn rewrite(root: &Path, p: &Pending, body: &[u8]) -> Result<()> {
    let cur = p.dir.join("cur");
    if !cur.is_dir() {
        maildir::ensure_maildir(&p.dir, p.dir != root)?;
    }
    let base = base_name(&p.file);
    // A file never written has no other copies to remove.
    for sub in ["cur", "new"].into_iter().filter(|_| !p.unwritten) {
        let Ok(entries) = fs::read_dir(p.dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if base_name(name) == base && !(sub == "cur" && name == p.file) {
                fs::remove_file(entry.path()).map_err(|e| {
                    StoreError::io(format!("removing {}", entry.path().display()), e)
                })?;
            }
        }
    }
    super::write_out::write_file(root, &cur.join(&p.file), body, super::write_out::Fsync::Yes)
}

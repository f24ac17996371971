//! Comparing a folder's files with the index and bringing the index in
//! line, in one write transaction per mailbox (so no append, flag change
//! or expunge of another process is half-seen: they hold the write lock
//! across their own renames).

use std::collections::{HashMap, HashSet};
use std::fs;

use rusqlite::{Connection, params};

use super::filename::{base_name, system_flags_of};
use super::own;
use super::scan;
use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, MailboxRow, cached_execute};
use crate::mailbox::begin_write;
use crate::maildir::fsync_dir;
use crate::{Store, names};

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether the folder was scanned (false: its stamp was unchanged).
    pub scanned: bool,
    /// Files moved from `new/` to `cur/`.
    pub moved_from_new: u32,
    /// UIDs given to files the index did not know.
    pub added: Vec<u32>,
    /// UIDs whose flags were taken from a changed file name.
    pub flags_changed: Vec<u32>,
    /// UIDs expunged because their file is gone.
    pub expunged: Vec<u32>,
    /// Files of already expunged messages that were removed.
    pub removed_leftovers: u32,
}

/// A stamp younger than this may hide a later change in the same clock
/// tick, so it is not stored (the next sync scans again).
pub(crate) const FRESH_NS: i64 = 2_000_000_000;

/// The wall clock in nanoseconds since the epoch (directory mtimes are
/// compared with it).
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What the sync needs of an indexed message.
struct Known {
    uid: u32,
    system: u8,
    file: String,
}

/// The indexed messages of mailbox `mailbox_id` (only the columns the
/// sync compares: a rescan reads every row).
fn known_files(conn: &Connection, mailbox_id: i64, context: &str) -> Result<Vec<Known>> {
    let mut stmt = conn
        .prepare_cached("SELECT uid, system_flags, file FROM messages WHERE mailbox_id = ?1")
        .ctx(context)?;
    stmt.query_map([mailbox_id], |r| {
        Ok(Known {
            uid: r.get(0)?,
            system: r.get(1)?,
            file: r.get(2)?,
        })
    })
    .ctx(context)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .ctx(context)
}

/// The sizes with CRLF line ends of the files in `dir`'s `cur/` and `new/`
/// that the index does not know and whose names carry no `W=`, by base
/// name: counting reads each file, which is done here, before the write
/// lock is taken, so that no other call waits for it. A file that cannot
/// be read now is left out (the sync counts it again, or fails on it).
fn sizes_of_unknown_files(
    store: &Store,
    name: &str,
    dir: &std::path::Path,
) -> Result<HashMap<String, u64>> {
    let known: HashSet<String> = {
        let conn = store.reader()?;
        let row = index::mailbox_row(&conn, name)?;
        known_files(&conn, row.id, "listing known files")?
            .into_iter()
            .map(|m| base_name(&m.file).to_owned())
            .collect()
    };
    let mut sizes = HashMap::new();
    for sub in ["cur", "new"] {
        let sub = dir.join(sub);
        for file in scan::names(&sub)? {
            let base = base_name(&file);
            if known.contains(base) || crate::crlf::size_in_name(&file).is_some() {
                continue;
            }
            let path = sub.join(&file);
            // Only regular files: opening a FIFO would wait for a writer.
            if !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            if let Ok(size) = crate::crlf::counted_size(&path) {
                sizes.insert(base.to_owned(), size);
            }
        }
    }
    Ok(sizes)
}

/// Syncs the canonical mailbox `name` (see [`Store::sync_mailbox`]).
/// Mailbox `name`'s row if its folder is as the index last saw it (its
/// stamp is covered by the stored one), so a read needs no scan; `None`
/// when it needs one. Read through `conn`, without the write connection.
pub(crate) fn settled(store: &Store, conn: &Connection, name: &str) -> Result<Option<MailboxRow>> {
    let dir = names::mailbox_dir(store.root(), name);
    let row = index::mailbox_row(conn, name)?;
    let before = scan::stamp(&dir)?;
    let covered = own::stored(conn, row.id)?.is_some_and(|s| s.covers(before, now_ns()));
    Ok(covered.then_some(row))
}

pub(crate) fn sync(store: &Store, name: &str, force: bool) -> Result<SyncReport> {
    let dir = names::mailbox_dir(store.root(), name);
    let mut report = SyncReport::default();
    // Cheap check without the write connection.
    if !force && settled(store, &*store.reader()?, name)?.is_some() {
        return Ok(report);
    }
    report.scanned = true;
    let presized = sizes_of_unknown_files(store, name, &dir)?;
    let mut conn = store.conn()?;
    let tx = begin_write(&mut conn)?;
    let mut row = index::mailbox_row(&tx, name)?;
    // Messages appended moments ago get their files from the append
    // journal first; one whose file a full disk leaves unwritten is not
    // missing (below): its bytes are in the journal.
    let unwritten = crate::journal::Unwritten::Mailbox(row.id);
    crate::journal::write_out(&tx, store.root(), unwritten)?;
    let still_unwritten = crate::journal::unwritten_files(&tx, row.id)?;
    let context = format!("syncing {name:?}");
    let (cur, new) = (dir.join("cur"), dir.join("new"));

    // new/ -> cur/, with an empty info if the name has none.
    for entry in scan::names(&new)? {
        let target = if entry.contains(':') {
            entry.clone()
        } else {
            format!("{entry}:2,")
        };
        match fs::rename(new.join(&entry), cur.join(&target)) {
            Ok(()) => report.moved_from_new += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::io(
                    format!("moving {entry} from new/ to cur/"),
                    e,
                ));
            }
        }
    }
    if report.moved_from_new > 0 {
        fsync_dir(&cur)?;
    }

    let files = scan::names(&cur)?;
    let rows = known_files(&tx, row.id, &context)?;
    let known: HashMap<&str, &Known> = rows.iter().map(|m| (base_name(&m.file), m)).collect();
    let gone: HashSet<String> = {
        let mut stmt = tx
            .prepare_cached("SELECT base FROM sync_gone WHERE mailbox_id = ?1")
            .ctx(&context)?;
        stmt.query_map([row.id], |r| r.get::<_, String>(0))
            .ctx(&context)?
            .collect::<rusqlite::Result<_>>()
            .ctx(&context)?
    };
    let mut seen: HashSet<&str> = HashSet::with_capacity(files.len());
    let mut unknown = Vec::new();
    for file in &files {
        let base = base_name(file);
        if !seen.insert(base) {
            tracing::warn!(mailbox = %name, file = %file, "duplicate message file base name; ignored");
            continue;
        }
        if let Some(m) = known.get(base) {
            let new_system = system_flags_of(file).unwrap_or(m.system);
            if new_system != m.system {
                row.highestmodseq += 1;
                cached_execute(&tx, "UPDATE messages SET system_flags = ?3, file = ?4, modseq = ?5 WHERE mailbox_id = ?1 AND uid = ?2",
                    params![row.id, m.uid, new_system, file, row.highestmodseq as i64],
                )
                .ctx(&context)?;
                report.flags_changed.push(m.uid);
            } else if *file != m.file {
                cached_execute(
                    &tx,
                    "UPDATE messages SET file = ?3 WHERE mailbox_id = ?1 AND uid = ?2",
                    params![row.id, m.uid, file],
                )
                .ctx(&context)?;
            }
        } else if gone.contains(base) {
            // An expunged message whose file removal is pending or was cut
            // short by a crash: finish the removal.
            match fs::remove_file(cur.join(file)) {
                Ok(()) => report.removed_leftovers += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %file, error = %e, "leftover of an expunged message could not be removed")
                }
            }
        } else if let Some(entry) = scan::entry(&cur, file)? {
            unknown.push(entry);
        }
    }

    // New files get UIDs in delivery order.
    scan::sort_by_delivery(&mut unknown);
    for entry in &unknown {
        let uid = row.uidnext;
        if uid == u32::MAX {
            return Err(StoreError::out_of_uids(name));
        }
        let file = if entry.name.contains(':') {
            entry.name.clone()
        } else {
            // A name without info: give it one, so flags can be written.
            let target = format!("{}:2,", entry.name);
            fs::rename(cur.join(&entry.name), cur.join(&target))
                .map_err(|e| StoreError::io(format!("renaming {}", entry.name), e))?;
            target
        };
        // The size as served: bare LFs count as CRLF.
        let size = match presized.get(base_name(&file)) {
            Some(&size) => size,
            None => crate::crlf::size_of_file(&cur.join(&file), &file)?,
        };
        row.uidnext += 1;
        row.highestmodseq += 1;
        cached_execute(
            &tx,
            "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                 internal_date, internal_date_offset, size, save_date)
             VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, 0, ?7, ?8)",
            params![
                row.id,
                uid,
                file,
                system_flags_of(&entry.name).unwrap_or(0),
                row.highestmodseq as i64,
                entry.mtime,
                size as i64,
                crate::now_secs(),
            ],
        )
        .ctx(&context)?;
        report.added.push(uid);
    }

    let missing: Vec<u32> = known
        .iter()
        .filter(|(base, m)| !seen.contains(*base) && !still_unwritten.contains(&m.file))
        .map(|(_, m)| m.uid)
        .collect();
    if !missing.is_empty() {
        row.highestmodseq += 1;
        let mut delete = tx
            .prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")
            .ctx(&context)?;
        let mut tomb = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
            )
            .ctx(&context)?;
        for uid in &missing {
            delete.execute(params![row.id, uid]).ctx(&context)?;
            tomb.execute(params![row.id, uid, row.highestmodseq as i64])
                .ctx(&context)?;
        }
        report.expunged = missing;
        report.expunged.sort_unstable();
    }
    // Bases no longer on disk need no removal any more.
    {
        let mut prune = tx
            .prepare_cached("DELETE FROM sync_gone WHERE mailbox_id = ?1 AND base = ?2")
            .ctx(&context)?;
        for base in gone.iter().filter(|b| !seen.contains(b.as_str())) {
            prune.execute(params![row.id, base]).ctx(&context)?;
        }
    }
    index::update_counters(&tx, &row)?;
    let after = scan::stamp(&dir)?;
    // A stamp as young as the clock's tick may hide a change made after
    // the listing in the same tick: kept, but verified by the first sync
    // once it is old enough.
    let newest = after.cur_mtime_ns.max(after.new_mtime_ns);
    let fresh = now_ns().saturating_sub(newest) < FRESH_NS;
    own::store(
        &tx,
        row.id,
        after,
        fresh.then(|| newest.saturating_add(FRESH_NS)),
    )?;
    tx.commit().ctx(&context)?;
    Ok(report)
}

//! Importing a Dovecot-written Maildir into a new index: every folder with
//! a `dovecot-uidlist` keeps its UIDVALIDITY, UIDNEXT and UIDs, its message
//! files keep their flags and keywords, and the subscriptions carry over,
//! so clients do not download everything again after a migration.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rusqlite::{Transaction, params};

use super::UidList;
use super::keywords::{keyword_letters, read_keywords};
use super::subscriptions::read_subscriptions;
use super::uidlist::base_name;
use crate::error::{Result, SqlContext, StoreError};
use crate::flags::Flags;
use crate::names::{self, INBOX};
use crate::sync::filename::system_flags_of;

/// Imports Dovecot's state into the index being created in `tx` when the
/// Maildir at `root` (or one of its folders) has a `dovecot-uidlist`.
/// Called once, when the index is created and holds only an empty INBOX.
/// Returns whether anything was imported.
pub(crate) fn import_if_dovecot(tx: &Transaction<'_>, root: &Path) -> Result<bool> {
    let folders = dovecot_folders(root)?;
    if folders.is_empty() {
        return Ok(false);
    }
    for (name, dir, list) in &folders {
        import_mailbox(tx, name, dir, list)?;
    }
    import_subscriptions(tx, root)?;
    crate::crlf::mark_sizes_counted(tx)?; // sizes were counted as served above
    tracing::info!(root = %root.display(), mailboxes = folders.len(),
        "imported the Dovecot uidlists, keywords and subscriptions");
    Ok(true)
}

/// The mailboxes to import: INBOX (the root) and every `.Name` folder,
/// with their uidlists; empty when no folder has one (not a Dovecot
/// Maildir). Folders without a uidlist get a fresh one.
fn dovecot_folders(root: &Path) -> Result<Vec<(String, PathBuf, UidList)>> {
    let mut found = Vec::new();
    let mut any = false;
    let fresh = UidList::empty;
    let inbox = UidList::read(root)?;
    any |= inbox.is_some();
    found.push((
        INBOX.to_owned(),
        root.to_path_buf(),
        inbox.unwrap_or_else(fresh),
    ));
    let entries =
        fs::read_dir(root).map_err(|e| StoreError::io(format!("listing {}", root.display()), e))?;
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("listing {}", root.display()), e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let Some(name) = file_name.strip_prefix('.') else {
            continue;
        };
        let dir = entry.path();
        if name.is_empty() || name == "." || !dir.join("cur").is_dir() {
            continue;
        }
        let Ok(name) = names::canonical(name) else {
            tracing::warn!(folder = %dir.display(), "Dovecot folder with an unusable name skipped");
            continue;
        };
        let list = UidList::read(&dir)?;
        any |= list.is_some();
        folders.push((name, dir, list.unwrap_or_else(fresh)));
    }
    if !any {
        return Ok(Vec::new());
    }
    folders.sort_by(|a, b| a.0.cmp(&b.0));
    found.extend(folders);
    Ok(found)
}

/// One message file found in a folder.
struct Found {
    /// The file name in `cur/` (after moving it from `new/`).
    name: String,
    /// Its modification time (Dovecot's internal date).
    mtime: i64,
    /// Its size as served, with CRLF line ends (`W=` of the name, or
    /// counted from the file).
    size: u64,
}

/// Imports one mailbox: its row with Dovecot's counters, and its messages.
fn import_mailbox(tx: &Transaction<'_>, name: &str, dir: &Path, list: &UidList) -> Result<()> {
    let mut row = if name == INBOX {
        crate::index::mailbox_row(tx, INBOX)?
    } else {
        crate::index::insert_mailbox(tx, name)?
    };
    if list.uidvalidity != 0 {
        row.uidvalidity = list.uidvalidity;
        tx.execute(
            "UPDATE mailboxes SET uidvalidity = ?2 WHERE id = ?1",
            params![row.id, row.uidvalidity],
        )
        .ctx(&format!("setting UIDVALIDITY of {name:?}"))?;
        tx.execute(
            "UPDATE meta SET value = max(value, ?1) WHERE key = 'last_uidvalidity'",
            [row.uidvalidity],
        )
        .ctx("storing last UIDVALIDITY")?;
    }
    let keywords = read_keywords(dir)?;
    let defined = Flags {
        system: 0,
        keywords: keywords.iter().map(|(_, k)| k.clone()).collect(),
    };
    crate::index::add_keywords(tx, row.id, &defined)?;

    let files = message_files(dir)?;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for file in files {
        match list.uid_of(base_name(&file.name)) {
            Some(uid) => known.push((uid, file)),
            None => unknown.push(file),
        }
    }
    known.sort_by_key(|(uid, _)| *uid);
    // Two files claiming one UID (a copy made by hand): the later is new.
    let mut uids = std::collections::HashSet::new();
    let mut assigned = Vec::new();
    for (uid, file) in known {
        if uids.insert(uid) {
            assigned.push((uid, file));
        } else {
            unknown.push(file);
        }
    }
    // Files Dovecot never saw get UIDs in delivery order (mtime, then name).
    unknown.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)));
    let mut next_uid = list.next_uid.max(1);
    for file in unknown {
        assigned.push((next_uid, file));
        next_uid = next_uid
            .checked_add(1)
            .ok_or_else(|| StoreError::out_of_uids(name))?;
    }
    for (uid, file) in &assigned {
        let info = file.name.split_once(":2,").map_or("", |(_, i)| i);
        let flags = Flags {
            system: system_flags_of(&file.name).unwrap_or(0),
            keywords: keyword_letters(info, &keywords).into_iter().collect(),
        };
        row.highestmodseq += 1;
        tx.execute(
            "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                 internal_date, internal_date_offset, size, save_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?7)",
            params![
                row.id,
                uid,
                file.name,
                flags.system,
                flags.keywords_text(),
                row.highestmodseq as i64,
                file.mtime,
                file.size as i64,
            ],
        )
        .ctx(&format!("importing UID {uid} of {name:?}"))?;
        if let Some(uidl) = list.pop3_uidl_of(base_name(&file.name)) {
            crate::maildrop::keep_uidl(tx, row.id, *uid, uidl)?;
        }
    }
    row.uidnext = next_uid;
    crate::index::update_counters(tx, &row)?;
    Ok(())
}

/// The message files of a folder: `new/` ones are moved to `cur/` first
/// (with an empty `:2,` info), as Dovecot would on its next sync.
fn message_files(dir: &Path) -> Result<Vec<Found>> {
    let cur = dir.join("cur");
    let new = dir.join("new");
    let mut found = Vec::new();
    // cur/ first: files moved from new/ must not be listed twice.
    for (sub, is_new) in [(&cur, false), (&new, true)] {
        let entries = match fs::read_dir(sub) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(format!("listing {}", sub.display()), e)),
        };
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError::io(format!("listing {}", sub.display()), e))?;
            let Some(mut name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(file = %entry.path().display(), "message file name not UTF-8; skipped");
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let mut path = entry.path();
            if is_new {
                if !name.contains(':') {
                    name.push_str(":2,");
                }
                let target = cur.join(&name);
                fs::rename(&path, &target).map_err(|e| {
                    StoreError::io(
                        format!("moving {} to {}", path.display(), target.display()),
                        e,
                    )
                })?;
                path = target;
            }
            let meta = fs::metadata(&path)
                .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
            if !meta.is_file() {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let size = crate::crlf::size_of_file(&path, &name)?;
            found.push(Found { name, mtime, size });
        }
    }
    if !found.is_empty() {
        crate::maildir::fsync_dir(&cur)?;
    }
    Ok(found)
}

/// Carries Dovecot's subscriptions over: into the `subscriptions` table
/// when this index has one, and as `mailboxes.subscribed` in any case.
fn import_subscriptions(tx: &Transaction<'_>, root: &Path) -> Result<()> {
    let has_table: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions')",
            [],
            |r| r.get(0),
        )
        .ctx("looking for the subscriptions table")?;
    for name in read_subscriptions(root)? {
        let Ok(name) = names::canonical(&name) else {
            tracing::warn!(name, "Dovecot subscription with an unusable name skipped");
            continue;
        };
        if has_table {
            tx.execute(
                "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)",
                [&name],
            )
            .ctx(&format!("importing the subscription to {name:?}"))?;
        }
        tx.execute(
            "UPDATE mailboxes SET subscribed = 1 WHERE name = ?1",
            [&name],
        )
        .ctx(&format!("importing the subscription to {name:?}"))?;
    }
    Ok(())
}

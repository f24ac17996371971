//! `Store::reindex`: rebuilding each mailbox's message rows from its files
//! (for `mailkeep admin reindex USER`), keeping UIDs the old index knows,
//! else those a Dovecot `dovecot-uidlist` gives, else assigning new ones.

use std::collections::{HashMap, HashSet};
use std::fs;

use rusqlite::params;

use crate::dovecot::UidList;
use crate::error::{Result, SqlContext, StoreError};
use crate::mailbox::begin_write;
use crate::maildir::fsync_dir;
use crate::sync::filename::{base_name, system_flags_of};
use crate::sync::scan;
use crate::{Store, index, names};

/// What [`Store::reindex`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Mailboxes rebuilt.
    pub mailboxes: u32,
    /// Messages indexed (files found).
    pub messages: u64,
    /// Messages that kept their UID from the old index.
    pub kept_from_index: u64,
    /// Messages whose UID came from a `dovecot-uidlist`.
    pub from_uidlist: u64,
    /// Messages given a new UID.
    pub new_uids: u64,
    /// Old index rows whose file is gone (expunged).
    pub expunged: u64,
}

impl std::fmt::Display for ReindexReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "reindexed {} mailboxes, {} messages: {} UIDs kept from the old index, {} from dovecot-uidlist, {} new; {} rows without a file expunged",
            self.mailboxes,
            self.messages,
            self.kept_from_index,
            self.from_uidlist,
            self.new_uids,
            self.expunged
        )
    }
}

impl Store {
    /// Rebuilds every mailbox's message rows from the files in its `cur/`
    /// and `new/` (moved to `cur/`): system flags from the file names,
    /// keywords and dates kept from the old rows (else the file mtime),
    /// sizes from the files. A message keeps the UID of the old row with
    /// the same base name; else the UID a `dovecot-uidlist` gives it (if
    /// unused; and an empty mailbox takes the uidlist's UIDVALIDITY); else
    /// it gets a new one. Every row gets one new MODSEQ; rows whose file
    /// is gone become expunged. The guests' private `\Seen` of a message
    /// the old index knew stays. One transaction per mailbox. The append
    /// journal is flushed first.
    ///
    /// An index that cannot be opened at all is not handled here: move it
    /// away and open the store (a new index), then reindex.
    pub fn reindex(&self) -> Result<ReindexReport> {
        // Every journaled message's file durable first: the rebuild reads
        // the files and replaces the rows the journal hangs on. (A file
        // gone by now was removed by another program since the open's
        // recovery: its row is expunged like any other.)
        self.flush_journal()?;
        let mut report = ReindexReport::default();
        let all = {
            let conn = self.conn()?;
            index::all_names(&conn)?
        };
        for name in all {
            self.reindex_mailbox(&name, &mut report)?;
            report.mailboxes += 1;
        }
        self.thread_pending()?;
        Ok(report)
    }

    fn reindex_mailbox(&self, name: &str, report: &mut ReindexReport) -> Result<()> {
        let dir = names::mailbox_dir(self.root(), name);
        let (cur, new) = (dir.join("cur"), dir.join("new"));
        if !cur.is_dir() {
            return Ok(());
        }
        let uidlist = UidList::read(&dir).unwrap_or_else(|e| {
            tracing::warn!(mailbox = %name, error = %e, "unreadable dovecot-uidlist ignored");
            None
        });
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let mut row = index::mailbox_row(&tx, name)?;
        // Every message's file first, in this transaction (an append since
        // the flush above has none yet): the rebuild takes a message
        // without a file for lost, and its row (so its journaled bytes)
        // would go. A full disk refuses the rebuild instead.
        crate::journal::write_out(&tx, self.root(), crate::journal::Unwritten::Mailbox(row.id))?
            .all("reindexing")?;
        let context = format!("reindexing {name:?}");
        let mut moved = false;
        for e in scan::list(&new)? {
            let target = if e.name.contains(':') {
                e.name.clone()
            } else {
                format!("{}:2,", e.name)
            };
            fs::rename(new.join(&e.name), cur.join(&target))
                .map_err(|err| StoreError::io(format!("moving new/{} to cur/", e.name), err))?;
            moved = true;
        }
        if moved {
            fsync_dir(&cur)?;
        }
        let old: HashMap<String, index::MessageMeta> = index::all_messages(&tx, &row)?
            .into_iter()
            .map(|m| (base_name(&m.file).to_owned(), m))
            .collect();
        if old.is_empty()
            && let Some(list) = &uidlist
            && list.uidvalidity != 0
        {
            row.uidvalidity = list.uidvalidity;
            tx.execute(
                "UPDATE mailboxes SET uidvalidity = ?2 WHERE id = ?1",
                params![row.id, list.uidvalidity],
            )
            .ctx(&context)?;
        }
        if let Some(list) = &uidlist {
            row.uidnext = row.uidnext.max(list.next_uid);
        }
        let files = scan::list(&cur)?;
        // First pass: UIDs that are claimed by the old index or the uidlist.
        let mut used: HashSet<u32> = HashSet::new();
        let mut plan: Vec<(Option<u32>, &scan::Entry, Option<&index::MessageMeta>)> = Vec::new();
        let mut bases: HashSet<&str> = HashSet::new();
        for e in &files {
            let base = base_name(&e.name);
            if !bases.insert(base) {
                tracing::warn!(mailbox = %name, file = %e.name, "duplicate base name skipped");
                continue;
            }
            let meta = old.get(base);
            let uid = meta.map(|m| m.uid).filter(|u| used.insert(*u));
            if uid.is_some() {
                report.kept_from_index += 1;
            }
            plan.push((uid, e, meta));
        }
        for (uid, e, _) in plan.iter_mut() {
            if uid.is_none()
                && let Some(u) = uidlist
                    .as_ref()
                    .and_then(|l| l.uid_of(base_name(&e.name)))
                    .filter(|u| *u != 0 && used.insert(*u))
            {
                *uid = Some(u);
                report.from_uidlist += 1;
            }
        }
        let max_used = used.iter().copied().max().unwrap_or(0);
        row.uidnext = row.uidnext.max(max_used.saturating_add(1));
        row.highestmodseq += 1;
        let modseq = row.highestmodseq as i64;
        // The guests' private \Seen goes with the rows deleted here; it is
        // put back on the messages the old index knew, under their UIDs.
        let private_seen = crate::private_seen::all_rows(&tx, row.id)?;
        let mut uid_now: HashMap<u32, u32> = HashMap::new();
        tx.execute("DELETE FROM messages WHERE mailbox_id = ?1", [row.id])
            .ctx(&context)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                         internal_date, internal_date_offset, size, save_date, email_id, thread_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .ctx(&context)?;
            for (uid, e, meta) in &plan {
                let uid = match uid {
                    Some(u) => *u,
                    None => {
                        let u = row.uidnext;
                        if u == u32::MAX {
                            return Err(StoreError::out_of_uids(name));
                        }
                        row.uidnext += 1;
                        report.new_uids += 1;
                        u
                    }
                };
                if let Some(m) = meta {
                    uid_now.insert(m.uid, uid);
                }
                let system = system_flags_of(&e.name)
                    .or(meta.map(|m| m.flags.system))
                    .unwrap_or(0);
                let keywords = meta.map(|m| m.flags.keywords_text()).unwrap_or_default();
                let (date, offset, saved) = meta.map_or((e.mtime, 0, crate::now_secs()), |m| {
                    (m.internal_date, m.internal_date_offset_minutes, m.save_date)
                });
                insert
                    .execute(params![
                            row.id,
                            uid,
                            e.name,
                            system,
                            keywords,
                            modseq,
                            date,
                            offset,
                            crate::crlf::size_of_file(&cur.join(&e.name), &e.name)? as i64,
                            saved,
                            // Ids of a message the old index knew stay; a new
                            // one gets them from the trigger and thread_pending.
                            meta.map(|m| m.email_id.as_str()),
                            meta.and_then(
                                |m| (!m.thread_id.is_empty()).then_some(m.thread_id.as_str())
                            ),
                        ])
                    .ctx(&context)?;
                report.messages += 1;
            }
            let mut tomb = tx
                .prepare(
                    "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
                )
                .ctx(&context)?;
            for (base, m) in &old {
                if !bases.contains(base.as_str()) {
                    tomb.execute(params![row.id, m.uid, modseq]).ctx(&context)?;
                    report.expunged += 1;
                }
            }
        }
        crate::private_seen::restore(&tx, row.id, &private_seen, |old| uid_now.get(&old).copied())?;
        // The rebuilt rows are the truth now: nothing is pending removal,
        // and the next sync scans again.
        tx.execute("DELETE FROM sync_gone WHERE mailbox_id = ?1", [row.id])
            .ctx(&context)?;
        tx.execute("DELETE FROM sync_state WHERE mailbox_id = ?1", [row.id])
            .ctx(&context)?;
        index::update_counters(&tx, &row)?;
        tx.commit().ctx(&context)?;
        Ok(())
    }
}

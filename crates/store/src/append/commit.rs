//! Committing staged messages: one transaction indexes every message of a
//! batch (MULTIAPPEND, RFC 3502: all or none) and may expunge the message
//! the batch replaces (REPLACE, RFC 8508). The commit journals the bytes
//! of the messages small enough and is made durable (`crate::journal`,
//! which writes their files afterwards); the file of a bigger message is
//! renamed into `cur/` while the write lock is held, before the commit,
//! and `cur/` fsynced; a failure removes such files again, so nothing
//! unacknowledged stays.

use std::fs;
use std::path::PathBuf;

use rusqlite::params;

use super::StagedMessage;
use crate::Store;
use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, MailboxRow, UidRange, cached_execute};
use crate::mailbox::begin_write;
use crate::{maildir, names};

/// The message a REPLACE expunges: it must still exist, in a mailbox of
/// this UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceTarget {
    /// Its mailbox (any spelling of INBOX).
    pub mailbox: String,
    /// The UIDVALIDITY the caller knows that mailbox by; 0: no check.
    pub uidvalidity: u32,
    /// Its UID.
    pub uid: u32,
}

/// What a REPLACE expunged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The canonical name of its mailbox.
    pub mailbox: String,
    /// That mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The expunged UID.
    pub uid: u32,
    /// That mailbox's HIGHESTMODSEQ after the expunge.
    pub highestmodseq: u64,
}

/// Where a committed batch landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedBatch {
    /// The target mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The new UIDs, in the order the messages were given.
    pub uids: Vec<u32>,
    /// The new messages' flags as stored (keywords spelled as the mailbox
    /// already knows them), in the order of `uids`.
    pub flags: Vec<Vec<String>>,
    /// The MODSEQ the new messages share (the target's HIGHESTMODSEQ then,
    /// unless the replaced message was in the same mailbox).
    pub modseq: u64,
    /// The message expunged by a REPLACE.
    pub replaced: Option<Replaced>,
    /// When the batch claimed the recent messages
    /// ([`crate::AppendWriter::claim_recent`]): the first UID it claimed;
    /// those from it to the last new UID are recent to the appender.
    pub first_recent: Option<u32>,
}

impl Store {
    /// Indexes `staged` (all for one mailbox) in one transaction: each
    /// file is moved into the mailbox's `cur/`, then every row is added
    /// with consecutive UIDs and one new MODSEQ and its bytes journaled,
    /// and the commit is fsynced (the one durable point). With
    /// `replace`, that message is expunged in the same transaction
    /// ([`StoreError::Expunged`] if it is already gone, and then nothing
    /// is appended). Either every message is indexed or none is, and no
    /// file of a failed batch is left behind.
    ///
    /// Batches without `replace` that arrive while another commit runs
    /// are committed together by the next one (group commit: one
    /// durable index commit for all of them;
    /// see [`super::group`]), each with its own UIDs and MODSEQ and its
    /// own success or failure.
    pub fn commit_appends(
        &self,
        staged: Vec<StagedMessage>,
        replace: Option<&ReplaceTarget>,
    ) -> Result<AppendedBatch> {
        match replace {
            None => self.commit_grouped(staged),
            Some(_) => self.commit_one(staged, replace),
        }
    }

    /// [`Store::commit_appends`] of one batch in a transaction of its own.
    fn commit_one(
        &self,
        mut staged: Vec<StagedMessage>,
        replace: Option<&ReplaceTarget>,
    ) -> Result<AppendedBatch> {
        let target = target_of(&staged)?;
        let replace = match replace {
            Some(r) => Some((names::canonical(&r.mailbox)?, r.uidvalidity, r.uid)),
            None => None,
        };
        let mut conn = self.conn()?;
        // The write lock is held across the renames so that the mailbox
        // cannot be renamed or deleted under us.
        let tx = begin_write(&mut conn)?;
        let mut dst = index::mailbox_row(&tx, &target)?;
        let source = match &replace {
            Some((name, uidvalidity, uid)) => {
                Some((replaced_row(&tx, name, *uidvalidity, *uid)?, *uid))
            }
            None => None,
        };
        let count = u32::try_from(staged.len()).unwrap_or(u32::MAX);
        if dst.uidnext.checked_add(count).is_none_or(|n| n == u32::MAX) {
            return Err(StoreError::out_of_uids(&dst.name));
        }
        let dir = names::mailbox_dir(self.root(), &dst.name);
        let cur = dir.join("cur");
        // Only a message with a file (too big for the journal) changes the
        // folder now.
        let has_files = staged.iter().any(|m| m.body.is_none());
        let own = if has_files {
            Some(crate::sync::own::OwnChange::begin(&tx, dst.id, &dir)?)
        } else {
            None
        };
        let mut moved: Vec<PathBuf> = Vec::with_capacity(staged.len());
        let mut journaled = (0, 0);
        let result = (|| {
            move_into(&mut staged, &cur, &mut moved)?;
            if has_files {
                maildir::fsync_dir(&cur)?;
            }
            if let Some(own) = own {
                own.record(&tx)?;
            }
            let (uids, flags) = insert_rows(&tx, &mut dst, &staged)?;
            let first_recent = crate::recent::claim_for_append(&tx, &dst, &staged, &uids)?;
            journaled = journal_rows(&tx, dst.id, &staged, &uids)?;
            let replaced = match source {
                Some((mut src, uid)) => {
                    if src.id == dst.id {
                        src = dst.clone();
                    }
                    let file = expunge_one(&tx, &mut src, uid)?;
                    if src.id == dst.id {
                        dst = src.clone();
                    }
                    Some((src, uid, file))
                }
                None => None,
            };
            // After the REPLACE's expunge: what it frees counts.
            check_cap(self, &tx, &staged)?;
            tx.commit()
                .ctx(&format!("committing append to {:?}", dst.name))?;
            Ok((uids, flags, replaced, first_recent))
        })();
        // Durable before it is acknowledged (committed already: a failure
        // here leaves the rows and files, and answers an error). Numbered
        // under the write lock, synced after it (see `crate::journal`).
        let ticket = (result.is_ok() && journaled.0 > 0).then(|| self.inner.durable.committed());
        // A REPLACE keeps the write lock until the replaced message's file
        // is gone: a folder scan of another process (which runs under it)
        // would otherwise find that file without its row and take it for
        // new mail. Others' appends wait meanwhile; REPLACE is rare.
        let replacing = matches!(&result, Ok((_, _, Some(_), _)));
        let conn = if replacing {
            Some(conn)
        } else {
            drop(conn);
            None
        };
        if let Some(ticket) = ticket {
            self.inner.durable.wait(self, ticket)?;
        }
        match result {
            Ok((uids, flags, replaced, first_recent)) => {
                self.inner.journal.noted(self, journaled.0, journaled.1);
                let replaced = replaced.map(|(src, uid, file)| {
                    // Acknowledged: the expunged message's file goes now (a
                    // crash first leaves it to the next sync, DESIGN §5).
                    let path = names::mailbox_dir(self.root(), &src.name)
                        .join("cur")
                        .join(file);
                    // (None if it was still only journaled.)
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::warn!(path = %path.display(), error = %e,
                            "replaced message's file could not be removed"),
                    }
                    Replaced {
                        mailbox: src.name,
                        uidvalidity: src.uidvalidity,
                        uid,
                        highestmodseq: src.highestmodseq,
                    }
                });
                drop(conn);
                let modseq = uids_modseq(&dst, replaced.as_ref());
                Ok(AppendedBatch {
                    uidvalidity: dst.uidvalidity,
                    uids,
                    flags,
                    modseq,
                    replaced,
                    first_recent,
                })
            }
            Err(e) => {
                // Not acknowledged, so not kept.
                for path in &moved {
                    if let Err(rm) = fs::remove_file(path) {
                        tracing::warn!(path = %path.display(), error = %rm,
                            "unindexed message file of a failed append could not be removed");
                    }
                }
                Err(e)
            }
        }
    }
}

/// The one mailbox every message of a batch goes to.
pub(super) fn target_of(staged: &[StagedMessage]) -> Result<String> {
    let Some(first) = staged.first() else {
        return Err(StoreError::InvalidArgument(
            "an append batch needs at least one message".into(),
        ));
    };
    let target = first.mailbox.clone();
    if let Some(other) = staged.iter().find(|m| m.mailbox != target) {
        return Err(StoreError::InvalidArgument(format!(
            "one append batch goes to one mailbox, not {target:?} and {:?}",
            other.mailbox
        )));
    }
    Ok(target)
}

/// Renames each staged message that has a file (one too big for the
/// append journal) into `cur` (a mailbox's `cur/`), adding each new path
/// to `moved` (so a failure can remove them again).
pub(super) fn move_into(
    staged: &mut [StagedMessage],
    cur: &std::path::Path,
    moved: &mut Vec<PathBuf>,
) -> Result<()> {
    for m in staged.iter_mut().filter(|m| m.body.is_none()) {
        let final_path = cur.join(&m.file_name);
        fs::rename(&m.tmp_path, &final_path).map_err(|e| {
            StoreError::io(
                format!(
                    "renaming {} to {}",
                    m.tmp_path.display(),
                    final_path.display()
                ),
                e,
            )
        })?;
        // Moved: the staged message no longer owns a file in tmp/.
        m.tmp_path = PathBuf::new();
        moved.push(final_path);
    }
    Ok(())
}

/// The MODSEQ of the new messages: the target's HIGHESTMODSEQ, less the
/// step a REPLACE in the same mailbox took after them.
fn uids_modseq(dst: &MailboxRow, replaced: Option<&Replaced>) -> u64 {
    match replaced {
        Some(r) if r.mailbox == dst.name => dst.highestmodseq - 1,
        _ => dst.highestmodseq,
    }
}

/// The row of the mailbox holding the message to replace, checked against
/// the caller's UIDVALIDITY; [`StoreError::Expunged`] if the message is
/// not there any more.
fn replaced_row(
    tx: &rusqlite::Connection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<MailboxRow> {
    let row = index::mailbox_checked(tx, mailbox, uidvalidity)?;
    if index::messages_in(tx, &row, &[UidRange::single(uid)])?.is_empty() {
        return Err(StoreError::Expunged {
            what: format!("UID {uid} in {mailbox:?}, which the append was to replace"),
        });
    }
    Ok(row)
}

/// Indexes the staged messages in `dst` with consecutive new UIDs and one
/// new MODSEQ; returns the UIDs and the flags as stored, in the order of
/// `staged`.
pub(super) fn insert_rows(
    tx: &rusqlite::Connection,
    dst: &mut MailboxRow,
    staged: &[StagedMessage],
) -> Result<(Vec<u32>, Vec<Vec<String>>)> {
    let context = format!("indexing new messages in {:?}", dst.name);
    dst.highestmodseq += 1;
    let now = crate::now_secs();
    let mut uids = Vec::with_capacity(staged.len());
    let mut names = Vec::with_capacity(staged.len());
    for m in staged {
        let uid = dst.uidnext;
        dst.uidnext += 1;
        let mut flags = m.flags.clone();
        index::canonical_keywords(tx, dst.id, &mut flags)?;
        let thread = crate::objectid::assign_thread(tx, &m.thread)?;
        // The EMAILID is made here, as the insert trigger would make it
        // (which then does nothing): one statement less per message.
        cached_execute(
            tx,
            "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                 internal_date, internal_date_offset, size, save_date, thread_id, email_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                 'M' || lower(hex(randomblob(12))))",
            params![
                dst.id,
                uid,
                m.file_name,
                flags.system,
                flags.keywords_text(),
                dst.highestmodseq as i64,
                m.internal_date.secs,
                m.internal_date.offset_minutes,
                m.size as i64,
                now,
                thread,
            ],
        )
        .ctx(&context)?;
        index::add_keywords(tx, dst.id, &flags)?;
        if let Some(user) = &m.seen_by {
            crate::private_seen::set(tx, dst.id, uid, user, true)?;
        }
        uids.push(uid);
        names.push(flags.names());
    }
    index::update_counters(tx, dst)?;
    Ok((uids, names))
}

/// Refuses a batch whose messages, just indexed in `conn`'s transaction,
/// take the owner's usage past the store's cap (see `crate::quota_cap`);
/// a batch of messages all [`super::AppendWriter::outside_quota`] passes.
pub(super) fn check_cap(
    store: &Store,
    conn: &rusqlite::Connection,
    staged: &[StagedMessage],
) -> Result<()> {
    if staged.iter().all(|m| m.outside_quota) {
        return Ok(());
    }
    let bytes = staged.iter().map(|m| m.size).sum();
    crate::quota_cap::check(conn, store.usage_cap(), (bytes, staged.len() as u64))
}

/// Journals the bytes of each of `staged` that has them, as message
/// `uids[i]` of `mailbox_id`; returns how many messages and bytes.
pub(super) fn journal_rows(
    tx: &rusqlite::Connection,
    mailbox_id: i64,
    staged: &[StagedMessage],
    uids: &[u32],
) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    for (m, uid) in staged.iter().zip(uids) {
        if let Some(body) = &m.body {
            crate::journal::record(tx, mailbox_id, *uid, body)?;
            count += 1;
            bytes += body.len() as u64;
        }
    }
    Ok((count, bytes))
}

/// Expunges message `uid` of `src` (a tombstone with a new MODSEQ, as
/// EXPUNGE leaves); returns its file name for removal after the commit.
fn expunge_one(tx: &rusqlite::Connection, src: &mut MailboxRow, uid: u32) -> Result<String> {
    let context = format!("expunging the replaced message in {:?}", src.name);
    let file: String = index::cached_row(
        tx,
        "SELECT file FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
        params![src.id, uid],
        |r| r.get(0),
    )
    .ctx(&context)?;
    src.highestmodseq += 1;
    cached_execute(
        tx,
        "DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
        params![src.id, uid],
    )
    .ctx(&context)?;
    cached_execute(
        tx,
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
        params![src.id, uid, src.highestmodseq as i64],
    )
    .ctx(&context)?;
    index::update_counters(tx, src)?;
    Ok(file)
}

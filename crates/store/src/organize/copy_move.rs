//! COPY and MOVE (RFC 9051 §6.4.7–6.4.8, RFC 6851): new UIDs in the target
//! in source UID order, same flags, internal date, EMAILID and THREADID
//! (RFC 8474: copies share their ids), a new MODSEQ; files
//! hard-linked into the target's `cur/` (copied if linking fails), every
//! index row in one transaction. MOVE expunges the sources in that same
//! transaction and removes their files after commit.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::params;

use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, MailboxRow, MessageMeta, UidRange};
use crate::mailbox::begin_write;
use crate::{Store, Viewer, maildir, names};

/// What a COPY or MOVE did, for the COPYUID response code (RFC 4315).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The target mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The source UIDs that were copied, ascending.
    pub source_uids: Vec<u32>,
    /// The new UIDs in the target, in the same order as `source_uids`.
    pub new_uids: Vec<u32>,
    /// The source mailbox's HIGHESTMODSEQ after a MOVE (its expunges'
    /// MODSEQ); for COPY the unchanged source value.
    pub source_highestmodseq: u64,
    /// The target mailbox's HIGHESTMODSEQ after the copies were indexed
    /// (unchanged when nothing was copied), for change notifications.
    pub target_highestmodseq: u64,
}

/// A new file name for a copy of `old`: a fresh unique base with the old
/// name's `,S=…,W=…:2,…` tail, so sizes and flag letters stay.
fn new_file_name(host: &str, old: &str) -> String {
    let base = maildir::unique_base(host);
    match old.find([',', ':']) {
        Some(i) => format!("{base}{}", &old[i..]),
        None => base,
    }
}

/// Puts `from` at `to`: a hard link, or a copy (fsynced) when linking is
/// not possible (other file system, no link support).
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).map_err(|e| {
        StoreError::io(format!("copying {} to {}", from.display(), to.display()), e)
    })?;
    fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(format!("fsync of {}", to.display()), e))
}

/// Removes files created by a failed copy, logging what cannot be removed.
fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        if let Err(e) = fs::remove_file(p) {
            tracing::warn!(path = %p.display(), error = %e,
                "file of a failed or finished copy could not be removed");
        }
    }
}

impl Store {
    /// Copies the messages of `source` (checked against `uidvalidity`; 0:
    /// no check) whose UIDs lie in `ranges` into `target`. A missing target
    /// is [`StoreError::NotFound`] (IMAP: `[TRYCREATE]`); copying into the
    /// same mailbox is allowed.
    pub fn copy_messages(
        &self,
        source: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        target: &str,
    ) -> Result<Copied> {
        self.copy_or_move(source, uidvalidity, ranges, target, false, Viewer::Owner)
    }

    /// [`Store::copy_messages`] done by `viewer`: a guest's copies get
    /// the guest's private `\Seen` of their sources.
    pub fn copy_messages_as(
        &self,
        source: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        target: &str,
        viewer: Viewer<'_>,
    ) -> Result<Copied> {
        self.copy_or_move(source, uidvalidity, ranges, target, false, viewer)
    }

    /// Moves messages like [`Store::copy_messages`], expunging the sources
    /// (tombstones with a new MODSEQ) in the same transaction; the source
    /// files are removed after commit. Every guest's private `\Seen`
    /// moves with the messages.
    pub fn move_messages(
        &self,
        source: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        target: &str,
    ) -> Result<Copied> {
        self.copy_or_move(source, uidvalidity, ranges, target, true, Viewer::Owner)
    }

    fn copy_or_move(
        &self,
        source: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        target: &str,
        is_move: bool,
        viewer: Viewer<'_>,
    ) -> Result<Copied> {
        let source = names::canonical(source)?;
        let target = names::canonical(target)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let mut src = index::mailbox_checked(&tx, &source, uidvalidity)?;
        let mut dst = index::mailbox_row(&tx, &target)?;
        let same = src.id == dst.id;
        let messages = index::messages_in(&tx, &src, ranges)?;
        if messages.is_empty() {
            return Ok(Copied {
                uidvalidity: dst.uidvalidity,
                source_uids: Vec::new(),
                new_uids: Vec::new(),
                source_highestmodseq: src.highestmodseq,
                target_highestmodseq: dst.highestmodseq,
            });
        }
        let src_cur = names::mailbox_dir(self.root(), &src.name).join("cur");
        let dst_dir = names::mailbox_dir(self.root(), &dst.name);
        let dst_cur = dst_dir.join("cur");
        // Sources appended moments ago get their files from the append
        // journal first (they are linked or copied below).
        let unwritten = crate::journal::Unwritten::Mailbox(src.id);
        crate::journal::write_out(&tx, self.root(), unwritten)?.all("copying")?;
        // A move's removals come after the commit: its source scans once.
        let own = crate::sync::own::OwnChange::begin(&tx, dst.id, &dst_dir)?;
        let mut created = Vec::with_capacity(messages.len());
        let result = (|| {
            // A link shares its source's data: a source whose bytes are
            // still only in the append journal is fsynced first, so the
            // copy is durable with its directory below (and a MOVE, which
            // drops the source's journal row, loses nothing).
            let sources: Vec<(u32, &str)> =
                messages.iter().map(|m| (m.uid, m.file.as_str())).collect();
            crate::journal::sync_pending_files(&tx, src.id, &sources, &src_cur)?;
            let mut files = Vec::with_capacity(messages.len());
            for m in &messages {
                let name = new_file_name(self.host(), &m.file);
                let to = dst_cur.join(&name);
                link_or_copy(&src_cur.join(&m.file), &to)?;
                created.push(to);
                files.push(name);
            }
            maildir::fsync_dir(&dst_cur)?;
            own.record(&tx)?;
            let new_uids = insert_copies(&tx, &mut dst, &messages, &files)?;
            if !is_move {
                // A MOVE leaves the usage as it was; a COPY adds to it.
                let bytes = messages.iter().map(|m| m.size).sum();
                let added = (bytes, messages.len() as u64);
                crate::quota_cap::check(&tx, self.usage_cap(), added)?;
            }
            // The private \Seen of the sources: a MOVE takes every user's
            // along (the same messages, elsewhere), a guest's COPY the
            // guest's own; before the sources' rows (and so theirs) go.
            let carried = if is_move {
                Some(None)
            } else {
                viewer.guest().map(Some)
            };
            if let Some(user) = carried {
                let pairs: Vec<(u32, u32)> = messages
                    .iter()
                    .map(|m| m.uid)
                    .zip(new_uids.iter().copied())
                    .collect();
                crate::private_seen::carry(&tx, src.id, dst.id, &pairs, user)?;
            }
            if is_move {
                if same {
                    src = dst.clone();
                }
                expunge_rows(&tx, &mut src, &messages)?;
                if same {
                    dst = src.clone();
                }
            }
            tx.commit()
                .ctx(&format!("committing copy from {source:?} to {target:?}"))?;
            Ok(new_uids)
        })();
        drop(conn);
        match result {
            Ok(new_uids) => {
                if is_move {
                    let old: Vec<PathBuf> =
                        messages.iter().map(|m| src_cur.join(&m.file)).collect();
                    remove_all(&old);
                }
                Ok(Copied {
                    uidvalidity: dst.uidvalidity,
                    source_uids: messages.iter().map(|m| m.uid).collect(),
                    new_uids,
                    source_highestmodseq: src.highestmodseq,
                    target_highestmodseq: dst.highestmodseq,
                })
            }
            Err(e) => {
                remove_all(&created);
                Err(e)
            }
        }
    }
}

/// Indexes the copies in `dst` with consecutive new UIDs and one new
/// MODSEQ; returns the new UIDs in the order of `messages`.
fn insert_copies(
    tx: &rusqlite::Connection,
    dst: &mut MailboxRow,
    messages: &[MessageMeta],
    files: &[String],
) -> Result<Vec<u32>> {
    let context = format!("indexing copies in {:?}", dst.name);
    let count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
    if dst.uidnext.checked_add(count).is_none_or(|n| n == u32::MAX) {
        return Err(StoreError::out_of_uids(&dst.name));
    }
    dst.highestmodseq += 1;
    let now = crate::now_secs();
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                 internal_date, internal_date_offset, size, save_date, email_id, thread_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .ctx(&context)?;
    let mut new_uids = Vec::with_capacity(messages.len());
    for (m, file) in messages.iter().zip(files) {
        let uid = dst.uidnext;
        dst.uidnext += 1;
        let mut flags = m.flags.clone();
        index::canonical_keywords(tx, dst.id, &mut flags)?;
        insert
            .execute(params![
                dst.id,
                uid,
                file,
                flags.system,
                flags.keywords_text(),
                dst.highestmodseq as i64,
                m.internal_date,
                m.internal_date_offset_minutes,
                m.size as i64,
                now,
                m.email_id,
                m.thread_id,
            ])
            .ctx(&context)?;
        index::add_keywords(tx, dst.id, &flags)?;
        new_uids.push(uid);
    }
    index::update_counters(tx, dst)?;
    Ok(new_uids)
}

/// Deletes the moved messages' rows from `src`, leaving tombstones with one
/// new MODSEQ (as expunge does).
fn expunge_rows(
    tx: &rusqlite::Connection,
    src: &mut MailboxRow,
    messages: &[MessageMeta],
) -> Result<()> {
    let context = format!("expunging moved messages in {:?}", src.name);
    src.highestmodseq += 1;
    let mut delete = tx
        .prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")
        .ctx(&context)?;
    let mut tomb = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
        )
        .ctx(&context)?;
    for m in messages {
        delete.execute(params![src.id, m.uid]).ctx(&context)?;
        tomb.execute(params![src.id, m.uid, src.highestmodseq as i64])
            .ctx(&context)?;
    }
    index::update_counters(tx, src)
}

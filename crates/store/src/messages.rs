//! Reading and changing messages: select, changes since a MODSEQ, fetch,
//! opening a message's file, storing flags and expunging.

use std::collections::HashSet;
use std::fs::{self, File};

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::flags::{DELETED, Flags, SEEN, StoreMode};
use crate::index::{self, MessageMeta, UidRange};
use crate::mailbox::begin_write;
use crate::private_seen::{self, Viewer};
use crate::txn::Txn;
use crate::view_cache::{ViewCache, ViewKey};
use crate::{MailboxStatus, Store};
use crate::{maildir, names};

/// A message's UID, flags and MODSEQ: one entry of a mailbox view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFlags {
    /// The UID.
    pub uid: u32,
    /// The flags.
    pub flags: Flags,
    /// The MODSEQ of the message's last change.
    pub modseq: u64,
    /// Its EMAILID (RFC 8474).
    pub email_id: String,
    /// Its THREADID (RFC 8474); empty for none.
    pub thread_id: String,
}

impl From<&MessageMeta> for MessageFlags {
    fn from(m: &MessageMeta) -> MessageFlags {
        MessageFlags {
            uid: m.uid,
            flags: m.flags.clone(),
            modseq: m.modseq,
            email_id: m.email_id.clone(),
            thread_id: m.thread_id.clone(),
        }
    }
}

/// Every message of a mailbox as a view holds it, ascending UID: only the
/// columns of [`MessageFlags`] (SELECT reads every message, and the file
/// names, sizes and dates of a full [`MessageMeta`] would be read and
/// dropped).
/// With `object_ids` false the EMAILIDs and THREADIDs are left empty.
fn view_of(
    conn: &Connection,
    mailbox: &index::MailboxRow,
    object_ids: bool,
) -> Result<Vec<MessageFlags>> {
    let context = format!("reading the view of {:?}", mailbox.name);
    let sql = if object_ids {
        "SELECT uid, system_flags, keywords, modseq, COALESCE(email_id, ''),
                COALESCE(thread_id, '')
         FROM messages WHERE mailbox_id = ?1 ORDER BY uid"
    } else {
        "SELECT uid, system_flags, keywords, modseq
         FROM messages WHERE mailbox_id = ?1 ORDER BY uid"
    };
    let mut stmt = conn.prepare_cached(sql).ctx(&context)?;
    let rows = stmt
        .query_map([mailbox.id], |r| {
            let system: u8 = r.get(1)?;
            let keywords: rusqlite::types::ValueRef<'_> = r.get_ref(2)?;
            let id = |column| {
                if object_ids {
                    r.get(column)
                } else {
                    Ok(String::new())
                }
            };
            Ok(MessageFlags {
                uid: r.get(0)?,
                flags: Flags::from_columns(system, keywords.as_str().unwrap_or_default()),
                modseq: r.get::<_, i64>(3)? as u64,
                email_id: id(4)?,
                thread_id: id(5)?,
            })
        })
        .ctx(&context)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&context)
}

/// The flags view of a mailbox (no object ids), from `views` when the
/// mailbox's counters are still those it was read at (see `view_cache`).
fn flags_view(
    conn: &Connection,
    row: &index::MailboxRow,
    messages: u32,
    views: &ViewCache,
) -> Result<Vec<MessageFlags>> {
    let key = ViewKey {
        mailbox_id: row.id,
        uidvalidity: row.uidvalidity,
        uidnext: row.uidnext,
        highestmodseq: row.highestmodseq,
        messages,
    };
    if let Some(view) = views.get(&key) {
        return Ok(view.as_ref().clone());
    }
    let view = view_of(conn, row, false)?;
    views.put(key, std::sync::Arc::new(view.clone()));
    Ok(view)
}

/// The whole view of a mailbox, for SELECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Counts and counters.
    pub status: MailboxStatus,
    /// Every message, ascending UID.
    pub messages: Vec<MessageFlags>,
    /// Keywords defined in the mailbox.
    pub keywords: Vec<String>,
    /// The first UID no session has claimed as recent (see
    /// [`Store::claim_recent`]).
    pub first_recent: u32,
}

/// What changed in a mailbox since a MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Counts and counters now.
    pub status: MailboxStatus,
    /// Messages added or changed since, ascending UID.
    pub changed: Vec<MessageFlags>,
    /// UIDs expunged since, ascending.
    pub vanished: Vec<u32>,
}

/// The outcome of [`Store::store_flags`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsStored {
    /// Messages whose flags changed, with their new flags and MODSEQ.
    pub updated: Vec<MessageFlags>,
    /// Messages left alone because their MODSEQ was above `unchanged_since`.
    pub failed: Vec<u32>,
    /// The mailbox's HIGHESTMODSEQ just before this change: a session
    /// that knew the mailbox up to it knows it, after this reply, up to
    /// [`FlagsStored::highestmodseq`] without asking what changed.
    pub previous_highestmodseq: u64,
    /// The mailbox's HIGHESTMODSEQ afterwards.
    pub highestmodseq: u64,
    /// How many messages in the ranges exist: a caller that knows of more
    /// learns that some were expunged meanwhile.
    pub found: u64,
}

/// The outcome of [`Store::expunge`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expunged {
    /// The UIDs removed, ascending.
    pub uids: Vec<u32>,
    /// The mailbox's HIGHESTMODSEQ just before (see
    /// [`FlagsStored::previous_highestmodseq`]).
    pub previous_highestmodseq: u64,
    /// The mailbox's HIGHESTMODSEQ afterwards.
    pub highestmodseq: u64,
}

/// Which messages [`Store::remove_messages`] removes.
pub(crate) struct Doomed<'a> {
    /// Those in these ranges...
    pub(crate) ranges: &'a [UidRange],
    /// ...flagged `\Deleted` (IMAP EXPUNGE), or all of them (POP3 QUIT).
    pub(crate) flagged_only: bool,
    /// Whether the removal is fsynced before the call returns.
    pub(crate) durable: bool,
}

impl Store {
    /// The whole current view of a mailbox: status, every message's UID,
    /// flags and MODSEQ, and the keywords defined in it, from one snapshot.
    pub fn select(&self, mailbox: &str) -> Result<Selected> {
        self.select_as(mailbox, Viewer::Owner)
    }

    /// [`Store::select`] as `viewer` sees it: for a guest, `\Seen` and the
    /// unseen count are the guest's own.
    pub fn select_as(&self, mailbox: &str, viewer: Viewer<'_>) -> Result<Selected> {
        let name = names::canonical(mailbox)?;
        // After outside changes are picked up (DESIGN §5).
        self.read_synced(&name, |conn| select_in(conn, &name, viewer, None))
    }

    /// [`Store::select_as`] without the messages' object ids (EMAILID and
    /// THREADID left empty), which lets the view read last be used again
    /// while the mailbox has not changed (see `view_cache`).
    pub fn select_flags_as(&self, mailbox: &str, viewer: Viewer<'_>) -> Result<Selected> {
        let name = names::canonical(mailbox)?;
        let views = &self.inner.views;
        self.read_synced(&name, |conn| select_in(conn, &name, viewer, Some(views)))
    }

    /// Messages added or changed, and UIDs expunged, after `since_modseq`.
    /// Fails with [`StoreError::UidValidityChanged`] if the mailbox's
    /// UIDVALIDITY is not `uidvalidity`.
    pub fn changes_since(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        since_modseq: u64,
    ) -> Result<Changes> {
        self.changes_since_as(mailbox, uidvalidity, since_modseq, Viewer::Owner)
    }

    /// [`Store::changes_since`] as `viewer` sees it: for a guest, `\Seen`
    /// and the unseen count are the guest's own (a guest's own `\Seen`
    /// change gave the message a new MODSEQ, so it is among the changes).
    pub fn changes_since_as(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        since_modseq: u64,
        viewer: Viewer<'_>,
    ) -> Result<Changes> {
        let name = names::canonical(mailbox)?;
        // After outside changes are picked up (DESIGN §5).
        self.read_synced(&name, |conn| {
            changes_in(conn, &name, uidvalidity, since_modseq, viewer)
        })
    }

    /// The index rows of the messages in `ranges`, ascending UID.
    /// `uidvalidity` 0 skips the UIDVALIDITY check.
    pub fn fetch(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
    ) -> Result<Vec<MessageMeta>> {
        self.fetch_as(mailbox, uidvalidity, ranges, Viewer::Owner)
    }

    /// [`Store::fetch`] as `viewer` sees it: for a guest, `\Seen` is the
    /// guest's own.
    pub fn fetch_as(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        viewer: Viewer<'_>,
    ) -> Result<Vec<MessageMeta>> {
        let name = names::canonical(mailbox)?;
        // After outside changes are picked up (DESIGN §5).
        self.read_synced(&name, |conn| {
            fetch_in(conn, &name, uidvalidity, ranges, viewer)
        })
    }

    /// Opens the file of a message whose index row the caller read moments
    /// ago (a Fetch's [`Store::fetch_as`]), without reading the index
    /// again: a Fetch of 20 messages' header fields or bodies then makes
    /// no index lookups beyond its first. A file renamed since (its flags
    /// changed) or a message expunged since is looked up afresh as
    /// [`Store::open_message`] does; the row returned is then the fresh one.
    pub fn open_listed(&self, mailbox: &str, meta: &MessageMeta) -> Result<(File, MessageMeta)> {
        let name = names::canonical(mailbox)?;
        let path = names::mailbox_dir(self.root(), &name)
            .join("cur")
            .join(&meta.file);
        match File::open(&path) {
            Ok(file) => Ok((file, meta.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.open_message(mailbox, meta.uid)
            }
            Err(e) => Err(StoreError::io(format!("opening {}", path.display()), e)),
        }
    }

    /// Whether every message of `metas` (rows of `mailbox` read moments
    /// ago) has its file: one appended moments ago may not yet (its file
    /// is written from the append journal, which takes the write lock),
    /// so a caller that must not wait reads only when this holds.
    pub fn files_present(&self, mailbox: &str, metas: &[MessageMeta]) -> bool {
        let Ok(name) = names::canonical(mailbox) else {
            return false;
        };
        let cur = names::mailbox_dir(self.root(), &name).join("cur");
        metas.iter().all(|m| maildir::present(&cur.join(&m.file)))
    }

    /// Opens a message's file for reading (streaming its bytes), with its
    /// index row. A row whose file is gone is
    /// [`StoreError::MessageFileMissing`].
    pub fn open_message(&self, mailbox: &str, uid: u32) -> Result<(File, MessageMeta)> {
        let name = names::canonical(mailbox)?;
        // A rename by another process between the lookup and the open moves
        // the file's directory; one fresh lookup then finds it again.
        let mut attempt = 0;
        let mut written_out = false;
        loop {
            let (mailbox_id, mailbox_name, meta) = {
                let conn = self.reader()?;
                let row = index::mailbox_row(&conn, &name)?;
                let meta = index::messages_in(&conn, &row, &[UidRange::single(uid)])?
                    .into_iter()
                    .find(|m| m.uid == uid)
                    // Not in the index (any more): expunged, by this or
                    // another session, since the caller's view of it.
                    .ok_or_else(|| StoreError::Expunged {
                        what: format!("message UID {uid} in {name:?}"),
                    })?;
                (row.id, row.name, meta)
            };
            let path = names::mailbox_dir(self.root(), &mailbox_name)
                .join("cur")
                .join(&meta.file);
            match File::open(&path) {
                Ok(f) => return Ok((f, meta)),
                // Appended moments ago: its file is written from the
                // append journal now (see `crate::journal`), then looked
                // up again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !written_out => {
                    written_out = true;
                    let which = crate::journal::Unwritten::Mailbox(mailbox_id);
                    if self.write_out_journaled(which)?.left > 0 {
                        // A full disk: served from the journal.
                        let conn = self.reader()?;
                        if let Some(f) = crate::journal::body_in_memory(&conn, mailbox_id, uid)? {
                            return Ok((f, meta));
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt == 0 => {
                    attempt += 1;
                    // Renamed by another program (flags in the name)?
                    let base = crate::sync::filename::base_name(&meta.file);
                    if let Some(found) = path
                        .parent()
                        .and_then(|cur| crate::sync::find_by_base(cur, base))
                        && let Ok(f) = File::open(&found)
                    {
                        return Ok((f, meta));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::MessageFileMissing {
                        mailbox: name,
                        uid,
                        path,
                    });
                }
                Err(e) => return Err(StoreError::io(format!("opening {}", path.display()), e)),
            }
        }
    }

    /// Changes the flags of the messages in `ranges`. Only messages whose
    /// flags actually change get a new MODSEQ and are reported in
    /// `updated`; with `unchanged_since`, messages whose MODSEQ is greater
    /// are left alone and reported in `failed` (CONDSTORE).
    pub fn store_flags<S: AsRef<str>>(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        mode: StoreMode,
        flags: &[S],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsStored> {
        self.store_flags_as(
            Viewer::Owner,
            mailbox,
            uidvalidity,
            ranges,
            mode,
            flags,
            unchanged_since,
        )
    }

    /// [`Store::store_flags`] made by `viewer`. A guest's `\Seen` is the
    /// guest's own: adding, removing or replacing it changes only the
    /// guest's record (never the shared flag, nor the file name), while
    /// the other flags of the same call change the shared ones. A message
    /// whose private `\Seen` changed gets a new MODSEQ all the same, so
    /// that the guest's CONDSTORE/QRESYNC view sees the change (others see
    /// a new MODSEQ with their flags as they were). `updated` carries the
    /// flags as the viewer sees them.
    #[allow(clippy::too_many_arguments)] // store_flags' arguments and who makes the call
    pub fn store_flags_as<S: AsRef<str>>(
        &self,
        viewer: Viewer<'_>,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
        mode: StoreMode,
        flags: &[S],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsStored> {
        let change = FlagChange::parse(viewer, mailbox, uidvalidity, ranges, mode, flags)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        self.store_flags_in(tx, change, unchanged_since)
    }

    /// Applies `change` in `tx` (a write transaction) and commits it.
    pub(crate) fn store_flags_in(
        &self,
        tx: Txn<'_>,
        change: FlagChange<'_>,
        unchanged_since: Option<u64>,
    ) -> Result<FlagsStored> {
        let FlagChange {
            name,
            uidvalidity,
            ranges,
            mode,
            mut given,
            guest,
            private_given,
        } = change;
        let mut row = index::mailbox_checked(&tx, &name, uidvalidity)?;
        index::canonical_keywords(&tx, row.id, &mut given)?;
        let mut out = FlagsStored {
            previous_highestmodseq: row.highestmodseq,
            ..FlagsStored::default()
        };
        let context = format!("storing flags in {name:?}");
        let mut renames: Vec<(String, String)> = Vec::new();
        {
            let mut update = tx
                .prepare_cached("UPDATE messages SET system_flags = ?3, keywords = ?4, modseq = ?5, file = ?6 WHERE mailbox_id = ?1 AND uid = ?2")
                .ctx(&context)?;
            let metas = index::messages_in(&tx, &row, ranges)?;
            out.found = metas.len() as u64;
            let seen = match (guest, metas.first(), metas.last()) {
                (Some(user), Some(first), Some(last)) => {
                    private_seen::seen_between(&tx, row.id, user, first.uid, last.uid)?
                }
                _ => HashSet::new(),
            };
            for m in metas {
                if unchanged_since.is_some_and(|limit| m.modseq > limit) {
                    out.failed.push(m.uid);
                    continue;
                }
                let mut new = m.flags.apply(mode, &given);
                // For a guest: the private `\Seen` before and after.
                let mut private = None;
                if let Some(user) = guest {
                    // REPLACE leaves the shared `\Seen` as it was.
                    new.system = (new.system & !SEEN) | (m.flags.system & SEEN);
                    let was = seen.contains(&m.uid);
                    let now = match mode {
                        StoreMode::Add => was || private_given,
                        StoreMode::Remove => was && !private_given,
                        StoreMode::Replace => private_given,
                    };
                    private = Some(now);
                    if was != now {
                        private_seen::set(&tx, row.id, m.uid, user, now)?;
                    } else if new == m.flags {
                        continue;
                    }
                } else if new == m.flags {
                    continue;
                }
                row.highestmodseq += 1;
                // The file name carries the system flags (`:2,` info).
                let file = if new.system != m.flags.system {
                    let renamed = crate::sync::filename::with_system_flags(&m.file, new.system);
                    renames.push((m.file.clone(), renamed.clone()));
                    renamed
                } else {
                    m.file.clone()
                };
                update
                    .execute(params![
                        row.id,
                        m.uid,
                        new.system,
                        new.keywords_text(),
                        row.highestmodseq as i64,
                        file
                    ])
                    .ctx(&context)?;
                if let Some(now) = private {
                    new.system = (new.system & !SEEN) | if now { SEEN } else { 0 };
                }
                out.updated.push(MessageFlags {
                    uid: m.uid,
                    flags: new,
                    modseq: row.highestmodseq,
                    email_id: m.email_id,
                    thread_id: m.thread_id,
                });
            }
        }
        if mode != StoreMode::Remove {
            index::add_keywords(&tx, row.id, &given)?;
        }
        index::update_counters(&tx, &row)?;
        // Files are renamed while the write lock is held (before the
        // commit), so that another process's sync never sees the index and
        // the file names disagree; the index `file` column was updated in
        // the same transaction. A commit failure renames them back.
        let dir = names::mailbox_dir(self.root(), &row.name);
        let cur = dir.join("cur");
        if renames
            .iter()
            .any(|(from, _)| !maildir::present(&cur.join(from)))
        {
            // A message appended moments ago has no file yet: it gets one
            // under its new name when it is written from the journal.
            let unwritten = crate::journal::unwritten_files(&tx, row.id)?;
            renames
                .retain(|(from, to)| !unwritten.contains(to) || maildir::present(&cur.join(from)));
        }
        let own = (!renames.is_empty())
            .then(|| crate::sync::own::OwnChange::begin(&tx, row.id, &dir))
            .transpose()?;
        let done = crate::sync::rename_for_flags(&cur, &renames);
        if let Some(own) = own {
            own.record(&tx)?;
        }
        if let Err(e) = tx.commit() {
            crate::sync::undo_renames(&done);
            return Err(StoreError::sqlite(context, e));
        }
        out.highestmodseq = row.highestmodseq;
        Ok(out)
    }

    /// Removes the messages flagged `\Deleted` (only those in `ranges`, if
    /// given: UID EXPUNGE). The index is committed first (the expunged UIDs
    /// are kept with their MODSEQ for [`Store::changes_since`]), then the
    /// files are removed; a crash in between leaves files the index does
    /// not know, which a later scan picks up again (DESIGN §5).
    pub fn expunge(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: Option<&[UidRange]>,
    ) -> Result<Expunged> {
        let all = [UidRange::all()];
        let which = Doomed {
            ranges: ranges.unwrap_or(&all),
            flagged_only: true,
            durable: false,
        };
        self.remove_messages(mailbox, uidvalidity, which)
    }

    /// Removes the messages `which` names: the index first, then the
    /// files (see [`Store::expunge`]); with `durable`, the folder is
    /// fsynced after the files are gone, so that a crash cannot bring one
    /// back as a new message (POP3 QUIT).
    pub(crate) fn remove_messages(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        which: Doomed<'_>,
    ) -> Result<Expunged> {
        let name = names::canonical(mailbox)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let mut row = index::mailbox_checked(&tx, &name, uidvalidity)?;
        let only = if which.flagged_only { DELETED } else { 0 };
        // Nothing marked \Deleted (the common EXPUNGE and CLOSE): known
        // from the mailbox's counts without reading its messages.
        let none_marked = which.flagged_only
            && crate::counts::of(&tx, row.id, &name).is_ok_and(|counts| counts.deleted == 0);
        let doomed = if none_marked {
            Vec::new()
        } else {
            index::messages_flagged_in(&tx, &row, which.ranges, only)?
        };
        if doomed.is_empty() {
            return Ok(Expunged {
                uids: Vec::new(),
                previous_highestmodseq: row.highestmodseq,
                highestmodseq: row.highestmodseq,
            });
        }
        let context = format!("expunging in {name:?}");
        let previous_highestmodseq = row.highestmodseq;
        row.highestmodseq += 1;
        {
            let mut delete = tx
                .prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")
                .ctx(&context)?;
            let mut tomb = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
                )
                .ctx(&context)?;
            for m in &doomed {
                delete.execute(params![row.id, m.uid]).ctx(&context)?;
                tomb.execute(params![row.id, m.uid, row.highestmodseq as i64])
                    .ctx(&context)?;
            }
        }
        index::update_counters(&tx, &row)?;
        let dir = names::mailbox_dir(self.root(), &name);
        let own = crate::sync::own::OwnChange::begin(&tx, row.id, &dir)?;
        tx.commit().ctx(&context)?;
        let cur = dir.join("cur");
        for m in &doomed {
            let path = cur.join(&m.file);
            match fs::remove_file(&path) {
                Ok(()) => {}
                // None yet (appended moments ago: its journal row went with
                // its message row), or gone already.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(mailbox = %name, uid = m.uid, path = %path.display(),
                    error = %e, "expunged message's file could not be removed"),
            }
        }
        if which.durable {
            crate::maildir::fsync_dir(&cur)?;
        }
        // Best effort: without it the next call scans the folder once.
        let recorded = begin_write(&mut conn).and_then(|tx| {
            own.record_if_unchanged(&tx)?;
            tx.commit()
                .ctx("recording the folder stamp after an expunge")
        });
        if let Err(e) = recorded {
            tracing::debug!(mailbox = %name, error = %e, "folder stamp after expunge not recorded");
        }
        drop(conn);
        Ok(Expunged {
            uids: doomed.iter().map(|m| m.uid).collect(),
            previous_highestmodseq,
            highestmodseq: row.highestmodseq,
        })
    }
}

/// The messages of mailbox `?1` changed after MODSEQ `?2`, found through
/// their MODSEQ index. Told so: with `ORDER BY uid` and no statistics,
/// SQLite walks the whole mailbox by its primary key instead, and a poll
/// (NOOP, the end of IDLE) cost time in proportion to the mailbox, not to
/// what changed.
pub(crate) const CHANGED_SINCE: &str =
    "INDEXED BY messages_by_modseq WHERE mailbox_id = ?1 AND modseq > ?2";

/// The UIDs of mailbox `?1` expunged after MODSEQ `?2` (kept for QRESYNC
/// for the mailbox's whole life), likewise through their MODSEQ index.
pub(crate) const EXPUNGED_SINCE: &str =
    "INDEXED BY expunged_by_modseq WHERE mailbox_id = ?1 AND modseq > ?2";

/// What changed after `since_modseq` in the mailbox with canonical name
/// `name` (see [`Store::changes_since`]), read through `conn` in one
/// snapshot.
pub(crate) fn changes_in(
    conn: &mut Connection,
    name: &str,
    uidvalidity: u32,
    since_modseq: u64,
    viewer: Viewer<'_>,
) -> Result<Changes> {
    let tx = crate::txn::Txn::read(conn).ctx("starting a read")?;
    let row = index::mailbox_checked(&tx, name, uidvalidity)?;
    let status = index::status_for(&tx, &row, viewer)?;
    let since = i64::try_from(since_modseq).unwrap_or(i64::MAX);
    let context = format!("reading changes of {name:?}");
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {} FROM messages {CHANGED_SINCE} ORDER BY uid",
            index::MESSAGE_COLUMNS
        ))
        .ctx(&context)?;
    let mut changed = stmt
        .query_map(params![row.id, since], index::message_from_row)
        .ctx(&context)?
        .map(|m| m.map(|m| MessageFlags::from(&m)))
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(&context)?;
    drop(stmt);
    private_seen::overlay(&tx, row.id, viewer, &mut changed)?;
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT uid FROM expunged {EXPUNGED_SINCE} ORDER BY uid"
        ))
        .ctx(&context)?;
    let vanished = stmt
        .query_map(params![row.id, since], |r| r.get::<_, u32>(0))
        .ctx(&context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(&context)?;
    Ok(Changes {
        status,
        changed,
        vanished,
    })
}

/// SELECT's read of mailbox `name` (canonical) as `viewer` sees it, in one
/// read transaction on `conn`.
pub(crate) fn select_in(
    conn: &mut Connection,
    name: &str,
    viewer: Viewer<'_>,
    views: Option<&ViewCache>,
) -> Result<Selected> {
    let tx = crate::txn::Txn::read(conn).ctx("starting a read")?;
    let row = index::mailbox_row(&tx, name)?;
    let status = index::status_for(&tx, &row, viewer)?;
    let mut messages = match views {
        Some(views) => flags_view(&tx, &row, status.messages, views)?,
        None => view_of(&tx, &row, true)?,
    };
    private_seen::overlay(&tx, row.id, viewer, &mut messages)?;
    let mut stmt = tx
        .prepare_cached("SELECT name FROM keywords WHERE mailbox_id = ?1 ORDER BY name")
        .ctx("reading keywords")?;
    let keywords = stmt
        .query_map([row.id], |r| r.get::<_, String>(0))
        .ctx("reading keywords")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading keywords")?;
    let first_recent = crate::recent::first_unclaimed(&tx, &row)?;
    Ok(Selected {
        status,
        messages,
        keywords,
        first_recent,
    })
}

/// The index rows of the messages in `ranges` of the mailbox with
/// canonical name `name` as `viewer` sees them (see [`Store::fetch_as`]),
/// read through `conn`.
pub(crate) fn fetch_in(
    conn: &mut Connection,
    name: &str,
    uidvalidity: u32,
    ranges: &[UidRange],
    viewer: Viewer<'_>,
) -> Result<Vec<MessageMeta>> {
    let tx = crate::txn::Txn::read(conn).ctx("starting a read")?;
    let row = index::mailbox_checked(&tx, name, uidvalidity)?;
    let mut metas = index::messages_in(&tx, &row, ranges)?;
    private_seen::overlay(&tx, row.id, viewer, &mut metas)?;
    Ok(metas)
}

/// A flag change, parsed and checked: what [`Store::store_flags_as`] and
/// [`Store::store_flags_now`] apply.
pub(crate) struct FlagChange<'a> {
    /// The mailbox (canonical name).
    pub(crate) name: String,
    uidvalidity: u32,
    ranges: &'a [UidRange],
    mode: StoreMode,
    /// The flags given, without a guest's `\Seen`.
    given: Flags,
    /// The guest making the change, if not the owner.
    guest: Option<&'a str>,
    /// Whether `\Seen` was given (a guest's goes to the guest's record).
    private_given: bool,
}

impl<'a> FlagChange<'a> {
    /// The change `viewer` asks for: `flags` set by `mode` on the messages
    /// of `ranges` in `mailbox` (at `uidvalidity`).
    pub(crate) fn parse<S: AsRef<str>>(
        viewer: Viewer<'a>,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &'a [UidRange],
        mode: StoreMode,
        flags: &[S],
    ) -> Result<FlagChange<'a>> {
        let mut given = Flags::parse(flags)?;
        // A guest's `\Seen` goes to the guest's record, the rest is shared.
        let guest = viewer.guest();
        let private_given = given.system & SEEN != 0;
        if guest.is_some() {
            given.system &= !SEEN;
        }
        Ok(FlagChange {
            name: names::canonical(mailbox)?,
            uidvalidity,
            ranges,
            mode,
            given,
            guest,
            private_given,
        })
    }
}

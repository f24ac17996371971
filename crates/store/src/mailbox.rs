//! Mailbox operations: list, create, delete, rename, status.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, MailboxRow, cached_execute};
use crate::maildir;
use crate::names::{self, DELIMITER, INBOX};
use crate::{MailboxStatus, Store};

/// `\HasChildren`.
pub const HAS_CHILDREN: &str = "\\HasChildren";
/// `\HasNoChildren`.
pub const HAS_NO_CHILDREN: &str = "\\HasNoChildren";
/// `\Noselect`: given to a parent that does not exist as a mailbox itself.
pub const NOSELECT: &str = "\\Noselect";
/// `\Marked`: the mailbox holds messages added since a session last
/// selected it (no session has claimed them as recent).
pub const MARKED: &str = "\\Marked";
/// `\Unmarked`: nothing was added since a session last selected it.
pub const UNMARKED: &str = "\\Unmarked";

/// A mailbox as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The canonical name, `.` as delimiter.
    pub name: String,
    /// IMAP attributes: `\HasChildren` or `\HasNoChildren`, and `\Noselect`
    /// for a parent that only exists because it has children, `\Marked`
    /// or `\Unmarked` for a mailbox.
    pub attributes: Vec<String>,
    /// The MAILBOXID (RFC 8474); empty for a `\Noselect` parent, which is
    /// no mailbox.
    pub mailbox_id: String,
}

impl Store {
    /// Every mailbox, INBOX first, then by name. Parents that do not exist
    /// but have children (`a` when only `a.b` was created) are listed with
    /// `\Noselect \HasChildren`, so a client can walk the hierarchy.
    pub fn list(&self) -> Result<Vec<MailboxInfo>> {
        let conn = self.conn()?;
        let existing: BTreeMap<String, String> =
            index::all_mailbox_ids(&conn)?.into_iter().collect();
        let marked = crate::recent::marked_mailboxes(&conn)?;
        drop(conn);
        let mut all: BTreeSet<String> = existing.keys().cloned().collect();
        for name in existing.keys() {
            all.extend(names::ancestors(name).map(str::to_owned));
        }
        let mut out: Vec<MailboxInfo> = all
            .iter()
            .map(|name| {
                let prefix = format!("{name}{DELIMITER}");
                let has_children = all
                    .range(prefix.clone()..)
                    .next()
                    .is_some_and(|n| n.starts_with(&prefix));
                let mut attributes = Vec::new();
                let mailbox_id = existing.get(name).cloned();
                if mailbox_id.is_none() {
                    attributes.push(NOSELECT.to_owned());
                }
                attributes.push(
                    if has_children {
                        HAS_CHILDREN
                    } else {
                        HAS_NO_CHILDREN
                    }
                    .to_owned(),
                );
                if mailbox_id.is_some() {
                    let mark = if marked.contains(name) {
                        MARKED
                    } else {
                        UNMARKED
                    };
                    attributes.push(mark.to_owned());
                }
                MailboxInfo {
                    name: name.clone(),
                    attributes,
                    mailbox_id: mailbox_id.unwrap_or_default(),
                }
            })
            .collect();
        crate::organize::add_special_use(self, &mut out)?;
        out.sort_by(|a, b| (a.name != INBOX, &a.name).cmp(&(b.name != INBOX, &b.name)));
        Ok(out)
    }

    /// Creates a mailbox (its Maildir++ folder and index row) and returns
    /// its new MAILBOXID. Parents are not created. An existing name is
    /// [`StoreError::AlreadyExists`].
    pub fn create(&self, name: &str) -> Result<String> {
        self.create_within(name, u64::MAX)
    }

    /// [`Store::create`], refused with [`StoreError::Limit`] when the owner
    /// has `max_mailboxes` mailboxes (INBOX included) already: each costs a
    /// folder, an index row and a line in every LIST. Counted in the same
    /// write transaction as the insert, so racing CREATEs cannot pass it.
    pub fn create_within(&self, name: &str, max_mailboxes: u64) -> Result<String> {
        let name = names::canonical(name)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        if index::mailbox_exists(&tx, &name)? {
            return Err(StoreError::AlreadyExists { mailbox: name });
        }
        if index::mailbox_count(&tx)? >= max_mailboxes {
            return Err(StoreError::Limit {
                what: format!("creating {name:?}: number of mailboxes"),
                max: max_mailboxes,
            });
        }
        maildir::ensure_maildir(&names::mailbox_dir(self.root(), &name), true)?;
        let row = index::insert_mailbox(&tx, &name)?;
        tx.commit()
            .ctx(&format!("committing creation of {name:?}"))?;
        Ok(row.object_id)
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted
    /// ([`StoreError::Cannot`]), and a
    /// mailbox with children is refused ([`StoreError::HasChildren`]): the
    /// client deletes the children first.
    pub fn delete(&self, name: &str) -> Result<()> {
        let name = names::canonical(name)?;
        if name == INBOX {
            return Err(StoreError::Cannot("INBOX cannot be deleted".into()));
        }
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let row = index::mailbox_row(&tx, &name)?;
        if !index::children(&tx, &name)?.is_empty() {
            return Err(StoreError::HasChildren { mailbox: name });
        }
        cached_execute(&tx, "DELETE FROM mailboxes WHERE id = ?1", [row.id])
            .ctx(&format!("deleting mailbox {name:?}"))?;
        // Move the folder out of the way inside the transaction (atomic, on
        // the same file system), remove its files after the commit.
        let dir = names::mailbox_dir(self.root(), &name);
        let trash = self.root().join("tmp").join(format!(
            "{}{}",
            maildir::DELETED_PREFIX,
            maildir::unique_base(self.host())
        ));
        let moved = match fs::rename(&dir, &trash) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(StoreError::io(format!("moving {} away", dir.display()), e)),
        };
        if let Err(e) = tx.commit() {
            if moved {
                let _ = fs::rename(&trash, &dir);
            }
            return Err(StoreError::sqlite(
                format!("committing deletion of {name:?}"),
                e,
            ));
        }
        if moved && let Err(e) = fs::remove_dir_all(&trash) {
            tracing::warn!(mailbox = %name, path = %trash.display(), error = %e,
                "deleted mailbox's files could not all be removed");
        }
        Ok(())
    }

    /// Renames a mailbox and its children; a name that exists only as the
    /// parent of others renames those. Renaming INBOX moves its
    /// messages into a new mailbox `to` and leaves INBOX empty (RFC 9051
    /// §6.3.6); INBOX's children stay where they are. The guests' private
    /// `\Seen` stays with the messages either way.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let from = names::canonical(from)?;
        let to = names::canonical(to)?;
        if to == INBOX || from == to {
            return Err(StoreError::AlreadyExists { mailbox: to });
        }
        if names::is_descendant(&to, &from) {
            return Err(StoreError::Cannot(format!(
                "cannot rename {from:?} below itself to {to:?}"
            )));
        }
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        // A name that only holds children (`\Noselect` in LIST) is renamed
        // by renaming its children, as a client that shows it as a folder
        // expects.
        let row = match index::mailbox_row(&tx, &from) {
            Ok(row) => Some(row),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if index::mailbox_exists(&tx, &to)? {
            return Err(StoreError::AlreadyExists { mailbox: to });
        }
        if from == INBOX
            && let Some(row) = &row
        {
            let moved = self.move_inbox(&tx, row, &to)?;
            if let Err(e) = tx.commit() {
                self.unmove_files(&moved);
                return Err(StoreError::sqlite("committing rename of INBOX", e));
            }
            return Ok(());
        }
        let children = index::children(&tx, &from)?;
        if row.is_none() && children.is_empty() {
            return Err(StoreError::mailbox_not_found(&from));
        }
        let mut plan = Vec::with_capacity(children.len() + 1);
        if row.is_some() {
            plan.push((from.clone(), to.clone()));
        }
        for child in children {
            let new = format!("{to}{}", &child[from.len()..]);
            names::check_length(&new)?;
            if index::mailbox_exists(&tx, &new)? {
                return Err(StoreError::AlreadyExists { mailbox: new });
            }
            plan.push((child, new));
        }
        for (old, new) in &plan {
            cached_execute(
                &tx,
                "UPDATE mailboxes SET name = ?2 WHERE name = ?1",
                params![old, new],
            )
            .ctx(&format!("renaming {old:?} to {new:?}"))?;
        }
        let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
        for (old, new) in &plan {
            let (a, b) = (
                names::mailbox_dir(self.root(), old),
                names::mailbox_dir(self.root(), new),
            );
            match fs::rename(&a, &b) {
                Ok(()) => done.push((a, b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    maildir::ensure_maildir(&b, true)?;
                }
                Err(e) => {
                    self.unmove_files(&done);
                    return Err(StoreError::io(
                        format!("renaming {} to {}", a.display(), b.display()),
                        e,
                    ));
                }
            }
        }
        if let Err(e) = tx.commit() {
            self.unmove_files(&done);
            return Err(StoreError::sqlite(
                format!("committing rename of {from:?}"),
                e,
            ));
        }
        Ok(())
    }

    /// Moves every INBOX message into the new mailbox `to` (same UIDs and
    /// flags, under the new mailbox's own UIDVALIDITY); INBOX records them
    /// as expunged. Returns the file moves done, for undoing.
    fn move_inbox(
        &self,
        conn: &Connection,
        inbox: &MailboxRow,
        to: &str,
    ) -> Result<Vec<(PathBuf, PathBuf)>> {
        // Messages appended moments ago get their files (moved below)
        // from the append journal first.
        let unwritten = crate::journal::Unwritten::Mailbox(inbox.id);
        crate::journal::write_out(conn, self.root(), unwritten)?.all("renaming INBOX")?;
        let messages = index::all_messages(conn, inbox)?;
        // Their journal rows go with INBOX's message rows: files still
        // only journaled are made durable before they move.
        let files: Vec<(u32, &str)> = messages.iter().map(|m| (m.uid, m.file.as_str())).collect();
        crate::journal::sync_pending_files(conn, inbox.id, &files, &self.root().join("cur"))?;
        let to_dir = names::mailbox_dir(self.root(), to);
        maildir::ensure_maildir(&to_dir, true)?;
        let mut target = index::insert_mailbox(conn, to)?;
        target.uidnext = inbox.uidnext;
        index::update_counters(conn, &target)?;
        let mut inbox = inbox.clone();
        inbox.highestmodseq += 1;
        let mut done = Vec::new();
        let from_cur = self.root().join("cur");
        let to_cur = to_dir.join("cur");
        for m in &messages {
            let (a, b) = (from_cur.join(&m.file), to_cur.join(&m.file));
            if let Err(e) = fs::rename(&a, &b) {
                self.unmove_files(&done);
                return Err(StoreError::io(
                    format!("moving {} to {}", a.display(), b.display()),
                    e,
                ));
            }
            done.push((a, b));
            cached_execute(
                conn,
                "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                     internal_date, internal_date_offset, size, save_date, email_id, thread_id)
                 SELECT ?2, uid, file, system_flags, keywords, 1,
                     internal_date, internal_date_offset, size, save_date, email_id, thread_id
                 FROM messages WHERE mailbox_id = ?1 AND uid = ?3",
                params![inbox.id, target.id, m.uid],
            )
            .ctx("moving INBOX messages")?;
            cached_execute(
                conn,
                "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
                params![inbox.id, m.uid, inbox.highestmodseq as i64],
            )
            .ctx("recording INBOX messages as expunged")?;
        }
        // The same messages under the same UIDs: every guest's private
        // \Seen goes with them, before INBOX's rows (and so its) go.
        let pairs: Vec<(u32, u32)> = messages.iter().map(|m| (m.uid, m.uid)).collect();
        crate::private_seen::carry(conn, inbox.id, target.id, &pairs, None)?;
        cached_execute(
            conn,
            "DELETE FROM messages WHERE mailbox_id = ?1",
            [inbox.id],
        )
        .ctx("emptying INBOX")?;
        cached_execute(conn, "INSERT OR IGNORE INTO keywords (mailbox_id, name) SELECT ?2, name FROM keywords WHERE mailbox_id = ?1",
            params![inbox.id, target.id],
        )
        .ctx("copying INBOX keywords")?;
        index::update_counters(conn, &inbox)?;
        maildir::fsync_dir(&to_cur)?;
        maildir::fsync_dir(&from_cur)?;
        Ok(done)
    }

    /// Best-effort undo of renames after a failed transaction.
    fn unmove_files(&self, done: &[(PathBuf, PathBuf)]) {
        for (a, b) in done.iter().rev() {
            if let Err(e) = fs::rename(b, a) {
                tracing::error!(from = %b.display(), to = %a.display(), error = %e,
                    "could not undo a rename after a failed index transaction");
            }
        }
    }

    /// The canonical name of mailbox `name` if it exists (LMTP's
    /// `+detail` folder), `None` if not. An invalid name does not exist.
    pub fn mailbox_exists(&self, name: &str) -> Result<Option<String>> {
        let Ok(name) = names::canonical(name) else {
            return Ok(None);
        };
        match self.sync_mailbox(&name) {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut conn = self.reader()?;
        let tx = crate::txn::Txn::read(&mut conn).ctx("starting a read")?;
        match index::mailbox_row(&tx, &name) {
            Ok(row) => Ok(Some(row.name)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and counts of a mailbox.
    pub fn status(&self, name: &str) -> Result<MailboxStatus> {
        self.status_as(name, crate::Viewer::Owner)
    }

    /// [`Store::status`] as `viewer` sees it: a guest's unseen count is
    /// of the guest's own `\Seen`.
    pub fn status_as(&self, name: &str, viewer: crate::Viewer<'_>) -> Result<MailboxStatus> {
        let name = names::canonical(name)?;
        // After outside changes are picked up (DESIGN §5).
        self.read_synced(&name, |conn| status_in(conn, &name, viewer))
    }
}

/// The status of the mailbox with canonical name `name` as `viewer` sees
/// it, read through `conn` in one snapshot.
pub(crate) fn status_in(
    conn: &mut Connection,
    name: &str,
    viewer: crate::Viewer<'_>,
) -> Result<MailboxStatus> {
    let tx = crate::txn::Txn::read(conn).ctx("starting a read")?;
    let row = index::mailbox_row(&tx, name)?;
    index::status_for(&tx, &row, viewer)
}

/// Starts a write transaction that takes the database's write lock at once
/// (`BEGIN IMMEDIATE`), so concurrent processes serialise instead of failing
/// on lock upgrades.
pub(crate) fn begin_write(conn: &mut Connection) -> Result<crate::txn::Txn<'_>> {
    crate::txn::Txn::write(conn).ctx("starting a write transaction")
}

//! `\Seen` kept per user on shared mailboxes, as Dovecot's private index
//! does: when another user (a guest, by the owner's ACLs) reads the
//! owner's mailbox, the guest's `\Seen` is the guest's own. It lives in
//! the `private_seen` table (one row per message a guest has seen), never
//! in the message's shared flags or its file name, so the owner and the
//! other guests do not see it. Every other flag and keyword stays shared.
//! The owner's reads and writes never look at the table.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext};
use crate::flags::{Flags, SEEN};
use crate::index::MessageMeta;
use crate::messages::MessageFlags;

/// Whose view of a mailbox a call reads or changes: the owner's shared
/// flags, or a guest's, whose `\Seen` is private (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// The owner: shared flags, exactly as without sharing.
    Owner,
    /// Another user reading the owner's mailbox: their own `\Seen`.
    Guest(&'a str),
}

impl<'a> Viewer<'a> {
    /// The guest's name, `None` for the owner.
    pub fn guest(self) -> Option<&'a str> {
        match self {
            Viewer::Owner => None,
            Viewer::Guest(user) => Some(user),
        }
    }
}

/// The guests' seen messages. A row goes with its message (the trigger on
/// `messages`: an expunge, a MOVE's source, a sync that finds the file
/// gone) and with its mailbox (the cascade). The primary key leads with
/// the message, so the trigger's delete is one short range; the second
/// index serves a guest's reads.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS private_seen (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    user       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid, user)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS private_seen_by_user ON private_seen (mailbox_id, user, uid);
CREATE TRIGGER IF NOT EXISTS private_seen_gone AFTER DELETE ON messages
BEGIN
    DELETE FROM private_seen WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
";

/// Something that carries a message's UID and flags (an index row or a
/// view entry), whose `\Seen` a guest's view replaces.
pub(crate) trait Flagged {
    /// The message's UID.
    fn uid(&self) -> u32;
    /// Its flags, to be overlaid.
    fn flags_mut(&mut self) -> &mut Flags;
}

impl Flagged for MessageMeta {
    fn uid(&self) -> u32 {
        self.uid
    }
    fn flags_mut(&mut self) -> &mut Flags {
        &mut self.flags
    }
}

impl Flagged for MessageFlags {
    fn uid(&self) -> u32 {
        self.uid
    }
    fn flags_mut(&mut self) -> &mut Flags {
        &mut self.flags
    }
}

/// The UIDs between `low` and `high` (inclusive) that `user` has seen in
/// the mailbox with id `mailbox_id`.
pub(crate) fn seen_between(
    conn: &Connection,
    mailbox_id: i64,
    user: &str,
    low: u32,
    high: u32,
) -> Result<HashSet<u32>> {
    let context = format!("reading the messages {user:?} has seen");
    let mut stmt = conn
        .prepare_cached(
            "SELECT uid FROM private_seen
             WHERE mailbox_id = ?1 AND user = ?2 AND uid BETWEEN ?3 AND ?4",
        )
        .ctx(&context)?;
    let uids = stmt
        .query_map(params![mailbox_id, user, low, high], |r| r.get::<_, u32>(0))
        .ctx(&context)?
        .collect::<rusqlite::Result<HashSet<_>>>()
        .ctx(&context)?;
    Ok(uids)
}

/// Gives `items` (messages of the mailbox with id `mailbox_id`) the view
/// of `viewer`: for a guest, `\Seen` is set exactly on the messages the
/// guest has seen; for the owner nothing is read or changed.
pub(crate) fn overlay<T: Flagged>(
    conn: &Connection,
    mailbox_id: i64,
    viewer: Viewer<'_>,
    items: &mut [T],
) -> Result<()> {
    let Some(user) = viewer.guest() else {
        return Ok(());
    };
    let low = items.iter().map(Flagged::uid).min();
    let high = items.iter().map(Flagged::uid).max();
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(());
    };
    let seen = seen_between(conn, mailbox_id, user, low, high)?;
    for item in items {
        let on = seen.contains(&item.uid());
        let flags = item.flags_mut();
        flags.system = (flags.system & !SEEN) | if on { SEEN } else { 0 };
    }
    Ok(())
}

/// How many of the mailbox's `messages` messages `user` has not seen.
pub(crate) fn unseen(conn: &Connection, mailbox_id: i64, user: &str, messages: u32) -> Result<u32> {
    // Joined with the messages: a row whose message is gone never counts.
    let seen: u32 = crate::index::cached_row(
        conn,
        "SELECT COUNT(*) FROM private_seen p
         JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
         WHERE p.mailbox_id = ?1 AND p.user = ?2",
        params![mailbox_id, user],
        |r| r.get(0),
    )
    .ctx(&format!("counting the messages {user:?} has seen"))?;
    Ok(messages.saturating_sub(seen))
}

/// Records whether `user` has seen message `uid` of the mailbox with id
/// `mailbox_id`.
pub(crate) fn set(
    conn: &Connection,
    mailbox_id: i64,
    uid: u32,
    user: &str,
    seen: bool,
) -> Result<()> {
    let sql = if seen {
        "INSERT OR IGNORE INTO private_seen (mailbox_id, uid, user) VALUES (?1, ?2, ?3)"
    } else {
        "DELETE FROM private_seen WHERE mailbox_id = ?1 AND uid = ?2 AND user = ?3"
    };
    crate::index::cached_execute(conn, sql, params![mailbox_id, uid, user])
        .ctx(&format!("recording what {user:?} has seen"))?;
    Ok(())
}

/// Every `(uid, user)` row of the mailbox with id `mailbox_id`: what a
/// rebuild of its message rows (reindex) takes out first and puts back
/// with [`restore`] (deleting the rows drops them, by the trigger).
pub(crate) fn all_rows(conn: &Connection, mailbox_id: i64) -> Result<Vec<(u32, String)>> {
    let context = "reading the private \\Seen of a mailbox";
    let mut stmt = conn
        .prepare_cached("SELECT uid, user FROM private_seen WHERE mailbox_id = ?1")
        .ctx(context)?;
    let rows = stmt
        .query_map([mailbox_id], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })
        .ctx(context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(context)?;
    Ok(rows)
}

/// Puts `rows` (taken with [`all_rows`]) back into the mailbox with id
/// `mailbox_id`, each under the UID `uid_of` gives its old one now;
/// a message `uid_of` does not know any more (gone) loses its rows.
pub(crate) fn restore(
    conn: &Connection,
    mailbox_id: i64,
    rows: &[(u32, String)],
    uid_of: impl Fn(u32) -> Option<u32>,
) -> Result<()> {
    for (old, user) in rows {
        if let Some(uid) = uid_of(*old) {
            set(conn, mailbox_id, uid, user, true)?;
        }
    }
    Ok(())
}

/// Gives the messages `pairs` (source UID, new UID) copied or moved from
/// the mailbox `from` into `to` the private `\Seen` they had there: of
/// `user` alone (a guest's COPY or MOVE carries the guest's own), or with
/// `None` of every user (a move by the owner, or RENAME INBOX: the same
/// messages in a new place). Runs before the sources' rows are deleted.
pub(crate) fn carry(
    conn: &Connection,
    from: i64,
    to: i64,
    pairs: &[(u32, u32)],
    user: Option<&str>,
) -> Result<()> {
    let context = "carrying private \\Seen to copied messages";
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO private_seen (mailbox_id, uid, user)
             SELECT ?2, ?4, user FROM private_seen
             WHERE mailbox_id = ?1 AND uid = ?3 AND (?5 IS NULL OR user = ?5)",
        )
        .ctx(context)?;
    for (source, new) in pairs {
        stmt.execute(params![from, to, source, new, user])
            .ctx(context)?;
    }
    Ok(())
}

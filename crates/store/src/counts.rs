//! Each mailbox's message count, unseen and deleted counts, total size and
//! the size of its deleted messages,
//! kept up to date by triggers on `messages`, so STATUS, SELECT and
//! Changes read one row instead of aggregating every message (the cost
//! of which grew with the mailbox: a few hundred microseconds at 50,000
//! messages). Every change of a message row goes through SQL, whoever
//! makes it (own writes, the sync of outside changes, reindex, Dovecot
//! import, the CRLF size fix-up), so the triggers see all of them.

use rusqlite::Connection;

use crate::error::{Result, SqlContext};

/// The counts table and its triggers (a message never changes mailbox in
/// place: COPY and MOVE insert and delete rows). `unseen` counts messages without
/// `\Seen` (bit 1 of `system_flags`), `deleted` those with `\Deleted`
/// (bit 8).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailbox_counts (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    messages   INTEGER NOT NULL DEFAULT 0,
    unseen     INTEGER NOT NULL DEFAULT 0,
    deleted    INTEGER NOT NULL DEFAULT 0,
    size       INTEGER NOT NULL DEFAULT 0,
    deleted_size INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS counts_new_mailbox AFTER INSERT ON mailboxes
BEGIN
    INSERT OR IGNORE INTO mailbox_counts (mailbox_id) VALUES (NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS counts_insert AFTER INSERT ON messages
BEGIN
    UPDATE mailbox_counts SET
        messages = messages + 1,
        unseen = unseen + ((NEW.system_flags & 1) = 0),
        deleted = deleted + ((NEW.system_flags & 8) != 0),
        size = size + NEW.size,
        deleted_size = deleted_size + (((NEW.system_flags & 8) != 0) * NEW.size)
    WHERE mailbox_id = NEW.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS counts_delete AFTER DELETE ON messages
BEGIN
    UPDATE mailbox_counts SET
        messages = messages - 1,
        unseen = unseen - ((OLD.system_flags & 1) = 0),
        deleted = deleted - ((OLD.system_flags & 8) != 0),
        size = size - OLD.size,
        deleted_size = deleted_size - (((OLD.system_flags & 8) != 0) * OLD.size)
    WHERE mailbox_id = OLD.mailbox_id;
END;
CREATE TRIGGER IF NOT EXISTS counts_update AFTER UPDATE OF system_flags, size ON messages
BEGIN
    UPDATE mailbox_counts SET
        unseen = unseen + ((NEW.system_flags & 1) = 0) - ((OLD.system_flags & 1) = 0),
        deleted = deleted + ((NEW.system_flags & 8) != 0) - ((OLD.system_flags & 8) != 0),
        size = size + NEW.size - OLD.size,
        deleted_size = deleted_size + (((NEW.system_flags & 8) != 0) * NEW.size)
                                    - (((OLD.system_flags & 8) != 0) * OLD.size)
    WHERE mailbox_id = NEW.mailbox_id;
END;
";

/// Counts the mailboxes that have no counts row yet (every mailbox of an
/// index made before the counts existed; none afterwards), in the index's
/// opening transaction.
pub(crate) const BACKFILL: &str = "
INSERT INTO mailbox_counts (mailbox_id, messages, unseen, deleted, size, deleted_size)
SELECT b.id,
       COUNT(m.uid),
       COALESCE(SUM((m.system_flags & 1) = 0), 0),
       COALESCE(SUM((m.system_flags & 8) != 0), 0),
       COALESCE(SUM(m.size), 0),
       COALESCE(SUM(((m.system_flags & 8) != 0) * m.size), 0)
FROM mailboxes b LEFT JOIN messages m ON m.mailbox_id = b.id
WHERE b.id NOT IN (SELECT mailbox_id FROM mailbox_counts)
GROUP BY b.id;
";

/// A mailbox's counts: messages, unseen, deleted, total size, and the
/// size of the deleted ones (STATUS DELETED-STORAGE).
pub(crate) struct Counts {
    /// Messages.
    pub(crate) messages: u32,
    /// Messages without `\Seen`.
    pub(crate) unseen: u32,
    /// Messages with `\Deleted`.
    pub(crate) deleted: u32,
    /// The sum of their sizes (with CRLF line ends).
    pub(crate) size: u64,
    /// The sum of the sizes of the messages with `\Deleted`.
    pub(crate) deleted_size: u64,
}

/// The counts of the mailbox with id `mailbox_id`.
pub(crate) fn of(conn: &Connection, mailbox_id: i64, name: &str) -> Result<Counts> {
    crate::index::cached_row(
        conn,
        "SELECT messages, unseen, deleted, size, deleted_size FROM mailbox_counts
         WHERE mailbox_id = ?1",
        [mailbox_id],
        |r| {
            Ok(Counts {
                messages: r.get(0)?,
                unseen: r.get(1)?,
                deleted: r.get(2)?,
                size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                deleted_size: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
            })
        },
    )
    .ctx(&format!("reading the counts of {name:?}"))
}

//! Each mailbox's ACL stamp: a number that moves whenever an entry of the
//! mailbox's ACL is added, changed or removed, by whatever process writes
//! it (the serving storage process, another storage process of the owner,
//! `mailkeep admin acl`). A storage process that tells guests of the
//! owner's changes compares the stamps it last read with the index's
//! (they come with [`crate::MailboxCounters`]) to notice ACL changes made
//! elsewhere, as it does for messages with the counters.
//!
//! Triggers on the `acl` table keep the stamps, so no ACL write can miss
//! its bump. The table and triggers came without a new schema version:
//! they are created at every open like any table (an existing index gets
//! them at its next open; its mailboxes start at stamp 0), an older
//! program reads and writes the index as before, and the triggers bump
//! the stamps for its ACL writes too.

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext};
use crate::index::cached_row;

/// The stamps table (a mailbox without a row has stamp 0) and the
/// triggers that bump a mailbox's stamp with each change of its ACL. A
/// removal bumps only a mailbox that still exists: the entries that go
/// with a deleted mailbox (by cascade, after its row is gone) leave no
/// stamp behind.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS acl_stamps (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    stamp      INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS acl_stamp_insert AFTER INSERT ON acl
BEGIN
    INSERT INTO acl_stamps (mailbox_id, stamp) VALUES (NEW.mailbox_id, 1)
    ON CONFLICT (mailbox_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER IF NOT EXISTS acl_stamp_update AFTER UPDATE ON acl
WHEN OLD.rights IS NOT NEW.rights OR OLD.mailbox_id IS NOT NEW.mailbox_id
BEGIN
    INSERT INTO acl_stamps (mailbox_id, stamp) VALUES (NEW.mailbox_id, 1)
    ON CONFLICT (mailbox_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER IF NOT EXISTS acl_stamp_delete AFTER DELETE ON acl
BEGIN
    INSERT INTO acl_stamps (mailbox_id, stamp)
    SELECT id, 1 FROM mailboxes WHERE id = OLD.mailbox_id
    ON CONFLICT (mailbox_id) DO UPDATE SET stamp = stamp + 1;
END;
";

/// The ACL stamp of mailbox `id` (0 while its ACL never changed).
pub(super) fn of(conn: &Connection, id: i64) -> Result<u64> {
    let stamp: i64 = cached_row(
        conn,
        "SELECT COALESCE((SELECT stamp FROM acl_stamps WHERE mailbox_id = ?1), 0)",
        params![id],
        |r| r.get(0),
    )
    .ctx("reading an ACL stamp")?;
    Ok(u64::try_from(stamp).unwrap_or(0))
}

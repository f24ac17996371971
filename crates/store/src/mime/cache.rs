//! The per-message cache of ENVELOPE, BODY, BODYSTRUCTURE and PREVIEW:
//! parsed once, kept until the message is expunged (trigger) or its
//! mailbox deleted (cascade).

use rusqlite::{Connection, OptionalExtension, params};

use super::Structure;
use crate::Result;
use crate::error::SqlContext;

/// The cache table and the trigger that drops rows of expunged messages.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mime_cache (
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    envelope      BLOB NOT NULL,
    body          BLOB NOT NULL,
    bodystructure BLOB NOT NULL,
    preview       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS mime_cache_expunge AFTER DELETE ON messages BEGIN
    DELETE FROM mime_cache WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
";

/// The cached structure of one message, if any.
pub(crate) fn get(conn: &Connection, mailbox_id: i64, uid: u32) -> Result<Option<Structure>> {
    conn.prepare_cached(
        "SELECT envelope, body, bodystructure, preview FROM mime_cache WHERE mailbox_id = ?1 AND uid = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![mailbox_id, uid], |r| {
            Ok(Structure {
                envelope: r.get(0)?,
                body: r.get(1)?,
                bodystructure: r.get(2)?,
                preview: r.get(3)?,
            })
        })
        .optional()
    })
    .ctx("reading the MIME cache")
}

/// Caches `s`, but only while the message still exists (an expunge in
/// between must not leave a row behind).
pub(crate) fn put(conn: &Connection, mailbox_id: i64, uid: u32, s: &Structure) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO mime_cache (mailbox_id, uid, envelope, body, bodystructure, preview)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS
           (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2)",
    )
    .and_then(|mut st| {
        st.execute(params![
            mailbox_id,
            uid,
            s.envelope,
            s.body,
            s.bodystructure,
            s.preview
        ])
    })
    .ctx("writing the MIME cache")?;
    Ok(())
}

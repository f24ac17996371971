//! The per-message cache of the envelope, body structure and PREVIEW:
//! parsed once, kept until the message is expunged (trigger) or its
//! mailbox deleted (cascade). Structures are kept in [`super::codec`]'s
//! compact form; a row of another format is a miss, parsed again and
//! overwritten.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Structure, codec};
use crate::Result;
use crate::error::SqlContext;

/// The cache tables (structures, and BINARY parts' decoded sizes) and
/// the triggers that drop rows of expunged messages. `mime_cache`, which
/// held IMAP text, is dropped: its rows are parsed again into the new
/// table as messages are fetched. So is `mime_decoded`, the decoded sizes
/// as a development build kept them (without where the part lies):
/// sizes are measured again.
pub(crate) const SCHEMA: &str = "
DROP TRIGGER IF EXISTS mime_cache_expunge;
DROP TABLE IF EXISTS mime_cache;
CREATE TABLE IF NOT EXISTS mime_structure (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    structure  BLOB NOT NULL,
    preview    TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS mime_structure_expunge AFTER DELETE ON messages BEGIN
    DELETE FROM mime_structure WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
DROP TRIGGER IF EXISTS mime_decoded_expunge;
DROP TABLE IF EXISTS mime_decoded;
CREATE TABLE IF NOT EXISTS mime_binary_size (
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid          INTEGER NOT NULL,
    part         TEXT NOT NULL,
    body_start   INTEGER NOT NULL,
    body_end     INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    contains_nul INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid, part)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS mime_binary_size_expunge AFTER DELETE ON messages BEGIN
    DELETE FROM mime_binary_size WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
";

/// A part's body with its transfer encoding undone, measured once (a
/// BINARY or BINARY.SIZE of a large part decodes it all) and kept beside
/// the structure, as Dovecot keeps it, so that the next BINARY.SIZE is a
/// lookup and the next BINARY needs no measuring pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Bytes, decoded.
    pub size: u64,
    /// The decoded bytes hold a NUL.
    pub contains_nul: bool,
}

/// Which part's decoded size: the message, its part numbers and where
/// the part's body lies in it (from the structure it was found by: a row
/// measured for a part that lies elsewhere is not taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodedKey {
    pub mailbox_id: i64,
    pub uid: u32,
    pub parts: Vec<u32>,
    pub body_start: u64,
    pub body_end: u64,
}

impl DecodedKey {
    /// The part path as the cache keys it (`2.1`).
    fn part(&self) -> String {
        self.parts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The kept decoded size of the part `key` names, if measured.
pub(crate) fn get_decoded(conn: &Connection, key: &DecodedKey) -> Result<Option<Decoded>> {
    conn.prepare_cached(
        "SELECT size, contains_nul FROM mime_binary_size
         WHERE mailbox_id = ?1 AND uid = ?2 AND part = ?3
           AND body_start = ?4 AND body_end = ?5",
    )
    .and_then(|mut s| {
        let at = params![
            key.mailbox_id,
            key.uid,
            key.part(),
            key.body_start,
            key.body_end
        ];
        s.query_row(at, |r| {
            Ok(Decoded {
                size: r.get(0)?,
                contains_nul: r.get(1)?,
            })
        })
        .optional()
    })
    .ctx("reading the decoded sizes")
}

/// Keeps the decoded size of the part `key` names, while the message
/// exists.
pub(crate) fn put_decoded(conn: &Connection, key: &DecodedKey, decoded: Decoded) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO mime_binary_size
           (mailbox_id, uid, part, body_start, body_end, size, contains_nul)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS
           (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2)",
    )
    .and_then(|mut st| {
        st.execute(params![
            key.mailbox_id,
            key.uid,
            key.part(),
            key.body_start,
            key.body_end,
            decoded.size,
            decoded.contains_nul
        ])
    })
    .ctx("writing the decoded sizes")?;
    Ok(())
}

/// The cached structure of one message, if any (and readable).
pub(crate) fn get(conn: &Connection, mailbox_id: i64, uid: u32) -> Result<Option<Structure>> {
    let row: Option<(Vec<u8>, String)> = conn
        .prepare_cached(
            "SELECT structure, preview FROM mime_structure WHERE mailbox_id = ?1 AND uid = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![mailbox_id, uid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .ctx("reading the MIME cache")?;
    Ok(row.and_then(|(bytes, preview)| structure_of(&bytes, preview)))
}

/// A row's structure, if its bytes are of this program's format.
fn structure_of(bytes: &[u8], preview: String) -> Option<Structure> {
    let (envelope, body) = codec::decode(bytes)?;
    Some(Structure {
        envelope,
        body,
        preview,
    })
}

/// The cached structures of the messages `uids` (ascending), in their
/// order: read in one pass over the rows between the first and the last
/// when the UIDs lie close together (a FETCH of a message list), one by
/// one otherwise.
pub(crate) fn get_all(
    conn: &Connection,
    mailbox_id: i64,
    uids: &[u32],
) -> Result<Vec<Option<Structure>>> {
    let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
        return Ok(Vec::new());
    };
    let span = u64::from(last.saturating_sub(first)) + 1;
    if span > 2 * uids.len() as u64 || !uids.is_sorted() {
        return uids.iter().map(|&uid| get(conn, mailbox_id, uid)).collect();
    }
    let mut rows = conn
        .prepare_cached(
            "SELECT uid, structure, preview FROM mime_structure
             WHERE mailbox_id = ?1 AND uid >= ?2 AND uid <= ?3 ORDER BY uid",
        )
        .ctx("reading the MIME cache")?;
    let mut found = rows
        .query(params![mailbox_id, first, last])
        .ctx("reading the MIME cache")?;
    let mut out = Vec::with_capacity(uids.len());
    let mut wanted = uids.iter().peekable();
    while let Some(row) = found.next().ctx("reading the MIME cache")? {
        let uid: u32 = row.get(0).ctx("reading the MIME cache")?;
        while wanted.next_if(|&&w| w < uid).is_some() {
            out.push(None);
        }
        if wanted.next_if(|&&w| w == uid).is_none() {
            continue;
        }
        let bytes = row.get_ref(1).ctx("reading the MIME cache")?;
        let preview: String = row.get(2).ctx("reading the MIME cache")?;
        out.push(
            bytes
                .as_blob()
                .ok()
                .and_then(|bytes| structure_of(bytes, preview)),
        );
    }
    out.extend(wanted.map(|_| None));
    Ok(out)
}

/// Caches `s`, but only while the message still exists (an expunge in
/// between must not leave a row behind).
pub(crate) fn put(conn: &Connection, mailbox_id: i64, uid: u32, s: &Structure) -> Result<()> {
    let bytes = codec::encode(&s.envelope, &s.body);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO mime_structure (mailbox_id, uid, structure, preview)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS
           (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2)",
    )
    .and_then(|mut st| st.execute(params![mailbox_id, uid, bytes, s.preview]))
    .ctx("writing the MIME cache")?;
    Ok(())
}

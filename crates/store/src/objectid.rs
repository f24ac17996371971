//! Object ids (RFC 8474 OBJECTID): MAILBOXID, EMAILID and THREADID.
//!
//! A mailbox's id lives on its row, so RENAME keeps it, and a mailbox
//! deleted and created again is a new row with a new id. A message's
//! EMAILID is given when it is first stored and travels with its row
//! through COPY and MOVE, so copies share it. Ids are random, so none
//! comes back after a delete.
//!
//! THREADID groups messages that name each other (Message-ID, In-Reply-To,
//! References): `thread_refs` maps every message id seen to its thread; a
//! new message joins the thread of the first known id among its own and
//! the ones it references, or starts a thread. A message with none of
//! these headers has no thread: an empty id, which IMAP sends as NIL (RFC
//! 8474 §5.2 allows it). Rows whose thread is not known yet (NULL: found
//! by a sync, imported, or migrated from an older index) get one from
//! [`Store::thread_pending`], which reads their headers.

use std::io::Read;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, SqlContext};
use crate::index::{cached_execute, cached_row};
use crate::{Store, names};

/// The tables, index and trigger of object ids, applied with the schema.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS thread_refs (
    message_id TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_unthreaded ON messages (mailbox_id)
    WHERE thread_id IS NULL;
CREATE TRIGGER IF NOT EXISTS message_email_id AFTER INSERT ON messages
WHEN NEW.email_id IS NULL BEGIN
    UPDATE messages SET email_id = 'M' || lower(hex(randomblob(12)))
    WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
END;
";

/// The SQL expression of a new MAILBOXID (an RFC 8474 `objectid`: a
/// letter, then 24 hex digits).
pub(crate) const NEW_MAILBOX_ID: &str = "'F' || lower(hex(randomblob(12)))";

/// How much of a message's start is read for its thread headers.
pub(crate) const HEAD_MAX: usize = 64 * 1024;

/// Most message ids of one message that take part in threading.
const MAX_IDS: usize = 256;

/// The message ids a message names for threading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ThreadHeaders {
    /// Its own Message-ID.
    pub(crate) own: Option<String>,
    /// Those of References, then In-Reply-To.
    pub(crate) referenced: Vec<String>,
}

impl ThreadHeaders {
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.own
            .iter()
            .chain(self.referenced.iter())
            .map(String::as_str)
            .take(MAX_IDS)
    }
}

/// The thread headers of a message whose first bytes are `head` (the
/// header block ends at the first empty line; a cut last line is fine).
pub(crate) fn thread_headers(head: &[u8]) -> ThreadHeaders {
    let mut out = ThreadHeaders::default();
    let mut in_reply_to = Vec::new();
    let mut field: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut finish = |field: Option<(Vec<u8>, Vec<u8>)>, out: &mut ThreadHeaders| {
        let Some((name, value)) = field else { return };
        match name.to_ascii_lowercase().as_slice() {
            b"message-id" if out.own.is_none() => out.own = msg_ids(&value).next(),
            b"references" => out.referenced.extend(msg_ids(&value)),
            b"in-reply-to" => in_reply_to.extend(msg_ids(&value)),
            _ => {}
        }
    };
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = field.as_mut() {
                value.push(b' ');
                value.extend_from_slice(line);
            }
            continue;
        }
        finish(field.take(), &mut out);
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            field = Some((
                line[..colon].trim_ascii().to_vec(),
                line[colon + 1..].to_vec(),
            ));
        }
    }
    finish(field, &mut out);
    out.referenced.append(&mut in_reply_to);
    out
}

/// The `<...>` message ids in a header value, without the brackets.
fn msg_ids(value: &[u8]) -> impl Iterator<Item = String> + '_ {
    value.split(|&b| b == b'<').skip(1).filter_map(|rest| {
        let end = rest.iter().position(|&b| b == b'>')?;
        let id = rest[..end].trim_ascii();
        let plain = !id.is_empty() && id.len() <= 998 && id.iter().all(|b| b.is_ascii_graphic());
        plain.then(|| String::from_utf8_lossy(id).into_owned())
    })
}

/// The thread of a message with `headers`, recording its ids; empty when
/// it names no message id.
pub(crate) fn assign_thread(conn: &Connection, headers: &ThreadHeaders) -> Result<String> {
    let context = "assigning a thread";
    let mut thread: Option<String> = None;
    for id in headers.ids() {
        thread = cached_row(
            conn,
            "SELECT thread_id FROM thread_refs WHERE message_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .ctx(context)?;
        if thread.is_some() {
            break;
        }
    }
    let thread = match thread {
        Some(t) => t,
        None if headers.ids().next().is_none() => return Ok(String::new()),
        None => cached_row(conn, "SELECT 'T' || lower(hex(randomblob(12)))", [], |r| {
            r.get(0)
        })
        .ctx(context)?,
    };
    for id in headers.ids() {
        cached_execute(
            conn,
            "INSERT OR IGNORE INTO thread_refs (message_id, thread_id) VALUES (?1, ?2)",
            params![id, thread],
        )
        .ctx(context)?;
    }
    Ok(thread)
}

/// The thread headers of the message file at `path`; `None` if it cannot
/// be read (gone meanwhile: the next sync deals with it).
fn read_thread_headers(path: &std::path::Path) -> Option<ThreadHeaders> {
    let file = std::fs::File::open(path).ok()?;
    let mut head = Vec::with_capacity(8192);
    file.take(HEAD_MAX as u64).read_to_end(&mut head).ok()?;
    Some(thread_headers(&head))
}

/// Rows threaded per transaction, so other writers get their turn.
const THREAD_BATCH: usize = 1000;

impl Store {
    /// Gives every message without a thread id yet its thread (see the
    /// module docs): run when the store opens and after a sync found new
    /// files. Cheap when there are none (a partial index finds them).
    pub(crate) fn thread_pending(&self) -> Result<()> {
        loop {
            let pending: Vec<(i64, String, u32, String)> = {
                let conn = self.conn()?;
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT m.mailbox_id, b.name, m.uid, m.file FROM messages m
                         JOIN mailboxes b ON b.id = m.mailbox_id
                         WHERE m.thread_id IS NULL LIMIT ?1",
                    )
                    .ctx("finding unthreaded messages")?;
                stmt.query_map([THREAD_BATCH as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .ctx("finding unthreaded messages")?
                .collect::<rusqlite::Result<_>>()
                .ctx("finding unthreaded messages")?
            };
            if pending.is_empty() {
                return Ok(());
            }
            let full = pending.len() == THREAD_BATCH;
            // Files are read without holding the index.
            let read: Vec<(i64, u32, ThreadHeaders)> = pending
                .into_iter()
                .map(|(mailbox_id, mailbox, uid, file)| {
                    let path = names::mailbox_dir(self.root(), &mailbox)
                        .join("cur")
                        .join(file);
                    let headers = read_thread_headers(&path).unwrap_or_default();
                    (mailbox_id, uid, headers)
                })
                .collect();
            let mut conn = self.conn()?;
            let tx = crate::mailbox::begin_write(&mut conn)?;
            for (mailbox_id, uid, headers) in &read {
                let thread = assign_thread(&tx, headers)?;
                cached_execute(
                    &tx,
                    "UPDATE messages SET thread_id = ?3
                     WHERE mailbox_id = ?1 AND uid = ?2 AND thread_id IS NULL",
                    params![mailbox_id, uid, thread],
                )
                .ctx("storing thread ids")?;
            }
            tx.commit().ctx("storing thread ids")?;
            if !full {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_headers_are_read_unfolded_and_in_any_case() {
        let head = b"From: a@example.org\r\nmessage-ID:\r\n <own@x>\r\n\
            References: <r1@x> <r2@x>\r\n\t<r3@x>\r\nIn-Reply-To: <r3@x> (a comment)\r\n\
            Subject: <not@an.id>\r\n\r\nMessage-ID: <body@x>\r\n";
        let h = thread_headers(head);
        assert_eq!(h.own.as_deref(), Some("own@x"));
        assert_eq!(h.referenced, ["r1@x", "r2@x", "r3@x", "r3@x"]);
        assert_eq!(thread_headers(b"Subject: x\n\n"), ThreadHeaders::default());
        // Bare LF line ends and a header cut short are fine.
        let h = thread_headers(b"Message-Id: <a@b>\nReferences: <c@d> <e@");
        assert_eq!(h.own.as_deref(), Some("a@b"));
        assert_eq!(h.referenced, ["c@d"]);
    }
}

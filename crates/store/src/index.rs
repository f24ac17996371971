//! Index rows and the queries shared by several operations: mailbox
//! lookup, UIDVALIDITY allocation, message rows and UID ranges.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::flags::Flags;

/// A mailbox's row.
#[derive(Debug, Clone)]
pub(crate) struct MailboxRow {
    pub id: i64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    /// The MAILBOXID (RFC 8474).
    pub object_id: String,
}

/// A UID range, inclusive; `u32::MAX` in either end stands for `*`, the
/// highest UID in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    /// First UID.
    pub first: u32,
    /// Last UID (inclusive).
    pub last: u32,
}

impl UidRange {
    /// The range `first:last`.
    pub fn new(first: u32, last: u32) -> UidRange {
        UidRange { first, last }
    }

    /// The single UID `uid`.
    pub fn single(uid: u32) -> UidRange {
        UidRange {
            first: uid,
            last: uid,
        }
    }

    /// `1:*`: every message.
    pub fn all() -> UidRange {
        UidRange {
            first: 1,
            last: u32::MAX,
        }
    }

    /// How many UIDs `ranges` span together (a range may be given high
    /// end first); `None` when one of them ends at `*`, which reaches as
    /// far as the mailbox does.
    pub fn spanned(ranges: &[UidRange]) -> Option<u64> {
        let mut spanned: u64 = 0;
        for range in ranges {
            if range.first == u32::MAX || range.last == u32::MAX {
                return None;
            }
            spanned = spanned.saturating_add(u64::from(range.first.abs_diff(range.last)) + 1);
        }
        Some(spanned)
    }

    /// The concrete `(low, high)` given the mailbox's highest UID, per
    /// RFC 9051: `*` is the highest UID and `n:*` always includes it.
    fn resolve(self, max_uid: u32) -> (u32, u32) {
        let fix = |v: u32| if v == u32::MAX { max_uid } else { v };
        let (a, b) = (fix(self.first), fix(self.last));
        (a.min(b), a.max(b))
    }
}

/// A message's index row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// The UID.
    pub uid: u32,
    /// Its flags.
    pub flags: Flags,
    /// The MODSEQ of its last change.
    pub modseq: u64,
    /// Its size as served, with CRLF line ends (RFC822.SIZE; a Maildir
    /// name's `W=`): the file's size unless the file has bare LFs.
    pub size: u64,
    /// Internal date, seconds since the epoch.
    pub internal_date: i64,
    /// The internal date's zone, minutes east of UTC.
    pub internal_date_offset_minutes: i32,
    /// When it was saved here, seconds since the epoch.
    pub save_date: i64,
    /// Its file name in the mailbox's `cur/`.
    pub file: String,
    /// Its EMAILID (RFC 8474), shared with its copies.
    pub email_id: String,
    /// Its THREADID (RFC 8474); empty when it has none (IMAP NIL).
    pub thread_id: String,
}

/// The columns [`message_from_row`] reads, in order.
pub(crate) const MESSAGE_COLUMNS: &str = "uid, system_flags, keywords, modseq, size, internal_date, internal_date_offset, save_date, file, COALESCE(email_id, ''), COALESCE(thread_id, '')";

pub(crate) fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageMeta> {
    let system: u8 = r.get(1)?;
    let keywords: String = r.get(2)?;
    Ok(MessageMeta {
        uid: r.get(0)?,
        flags: Flags::from_columns(system, &keywords),
        modseq: r.get::<_, i64>(3)? as u64,
        size: r.get::<_, i64>(4)? as u64,
        internal_date: r.get(5)?,
        internal_date_offset_minutes: r.get(6)?,
        save_date: r.get(7)?,
        file: r.get(8)?,
        email_id: r.get(9)?,
        thread_id: r.get(10)?,
    })
}

/// Reads one row with a statement from the connection's statement cache:
/// the hot paths (every IMAP command syncs and looks its mailbox up) run
/// the same few statements over and over, and compiling them each time
/// cost more than running them.
pub(crate) fn cached_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, row)
}

/// Runs one statement from the connection's statement cache (see
/// [`cached_row`]); returns the number of rows changed.
pub(crate) fn cached_execute<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Looks up the canonical mailbox `name`.
pub(crate) fn mailbox_row(conn: &Connection, name: &str) -> Result<MailboxRow> {
    cached_row(
        conn,
        "SELECT id, name, uidvalidity, uidnext, highestmodseq, COALESCE(object_id, '')
         FROM mailboxes WHERE name = ?1",
        [name],
        |r| {
            Ok(MailboxRow {
                id: r.get(0)?,
                name: r.get(1)?,
                uidvalidity: r.get(2)?,
                uidnext: r.get(3)?,
                highestmodseq: r.get::<_, i64>(4)? as u64,
                object_id: r.get(5)?,
            })
        },
    )
    .optional()
    .ctx(&format!("looking up mailbox {name:?}"))?
    .ok_or_else(|| StoreError::mailbox_not_found(name))
}

/// Looks up a mailbox and checks the caller's UIDVALIDITY (0: no check).
pub(crate) fn mailbox_checked(
    conn: &Connection,
    name: &str,
    uidvalidity: u32,
) -> Result<MailboxRow> {
    let row = mailbox_row(conn, name)?;
    if uidvalidity != 0 && uidvalidity != row.uidvalidity {
        return Err(StoreError::UidValidityChanged {
            mailbox: row.name,
            expected: uidvalidity,
            current: row.uidvalidity,
        });
    }
    Ok(row)
}

/// Whether a mailbox named `name` exists.
pub(crate) fn mailbox_exists(conn: &Connection, name: &str) -> Result<bool> {
    cached_row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )
    .ctx(&format!("looking up mailbox {name:?}"))
}

/// How many mailboxes the owner has, INBOX included.
pub(crate) fn mailbox_count(conn: &Connection) -> Result<u64> {
    let count: i64 = cached_row(conn, "SELECT COUNT(*) FROM mailboxes", [], |r| r.get(0))
        .ctx("counting mailboxes")?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The canonical names of the mailboxes below `name`.
pub(crate) fn children(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let all = all_names(conn)?;
    Ok(all
        .into_iter()
        .filter(|n| crate::names::is_descendant(n, name))
        .collect())
}

/// Every mailbox's name and MAILBOXID, sorted by name.
pub(crate) fn all_mailbox_ids(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare_cached("SELECT name, COALESCE(object_id, '') FROM mailboxes ORDER BY name")
        .ctx("listing mailboxes")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx("listing mailboxes")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("listing mailboxes")?;
    Ok(rows)
}

/// Every mailbox name, sorted.
pub(crate) fn all_names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT name FROM mailboxes ORDER BY name")
        .ctx("listing mailboxes")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .ctx("listing mailboxes")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("listing mailboxes")?;
    Ok(names)
}

/// A new UIDVALIDITY: the current time in seconds, but always greater than
/// any given before in this index, so a recreated mailbox never gets its
/// predecessor's.
pub(crate) fn next_uidvalidity(conn: &Connection) -> Result<u32> {
    let last: u32 = cached_row(
        conn,
        "SELECT value FROM meta WHERE key = 'last_uidvalidity'",
        [],
        |r| r.get(0),
    )
    .optional()
    .ctx("reading last UIDVALIDITY")?
    .unwrap_or(0);
    let now = u32::try_from(crate::now_secs()).unwrap_or(u32::MAX - 1);
    let value = now.max(last.saturating_add(1)).max(1);
    cached_execute(
        conn,
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [value],
    )
    .ctx("storing last UIDVALIDITY")?;
    Ok(value)
}

/// Inserts a new, empty mailbox row (UIDNEXT 1, HIGHESTMODSEQ 1) with a
/// new MAILBOXID.
pub(crate) fn insert_mailbox(conn: &Connection, name: &str) -> Result<MailboxRow> {
    let uidvalidity = next_uidvalidity(conn)?;
    let (id, object_id) = cached_row(
        conn,
        &format!(
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, object_id)
             VALUES (?1, ?2, 1, 1, {}) RETURNING id, object_id",
            crate::objectid::NEW_MAILBOX_ID
        ),
        params![name, uidvalidity],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ctx(&format!("inserting mailbox {name:?}"))?;
    Ok(MailboxRow {
        id,
        name: name.to_owned(),
        uidvalidity,
        uidnext: 1,
        highestmodseq: 1,
        object_id,
    })
}

/// Stores a mailbox's UIDNEXT and HIGHESTMODSEQ.
pub(crate) fn update_counters(conn: &Connection, mailbox: &MailboxRow) -> Result<()> {
    cached_execute(
        conn,
        "UPDATE mailboxes SET uidnext = ?2, highestmodseq = ?3 WHERE id = ?1",
        params![mailbox.id, mailbox.uidnext, mailbox.highestmodseq as i64],
    )
    .ctx(&format!("updating counters of {:?}", mailbox.name))?;
    Ok(())
}

/// Records keywords as defined in a mailbox.
/// Spells each keyword of `flags` as the mailbox first recorded it: flag
/// names are case-insensitive (RFC 9051 §2.3.2), so `$junk` and `$Junk`
/// are one keyword, kept in the spelling first seen.
pub(crate) fn canonical_keywords(
    conn: &Connection,
    mailbox_id: i64,
    flags: &mut Flags,
) -> Result<()> {
    if flags.keywords.is_empty() {
        return Ok(());
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT name FROM keywords WHERE mailbox_id = ?1 AND name = ?2 COLLATE NOCASE",
        )
        .ctx("looking keywords up")?;
    let given = std::mem::take(&mut flags.keywords);
    for k in given {
        let known: Option<String> = stmt
            .query_row(params![mailbox_id, k], |r| r.get(0))
            .optional()
            .ctx("looking keywords up")?;
        let spelled = known.unwrap_or(k);
        // Two spellings of one new keyword in one command: keep the first.
        if !flags
            .keywords
            .iter()
            .any(|have| have.eq_ignore_ascii_case(&spelled))
        {
            flags.keywords.insert(spelled);
        }
    }
    Ok(())
}

/// Keywords one mailbox may define, at most. Every SELECT lists them all
/// (FLAGS, PERMANENTFLAGS), so an unbounded set (a client storing
/// thousands of made-up keywords) would make each one slower for every
/// session; Cyrus allows 128, real clients use a handful.
pub const MAX_KEYWORDS: u64 = 1000;

/// Records the keywords of `flags` as defined in the mailbox. Refused as
/// [`StoreError::Limit`] (IMAP: `NO [LIMIT]`) when new ones take the
/// mailbox past [`MAX_KEYWORDS`]; the caller's transaction (or savepoint)
/// then undoes what was recorded. Counted only when a keyword is new.
pub(crate) fn add_keywords(conn: &Connection, mailbox_id: i64, flags: &Flags) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO keywords (mailbox_id, name) VALUES (?1, ?2)")
        .ctx("recording keywords")?;
    let mut added = 0usize;
    for k in &flags.keywords {
        added += stmt
            .execute(params![mailbox_id, k])
            .ctx("recording keywords")?;
    }
    if added == 0 {
        return Ok(());
    }
    let defined: i64 = cached_row(
        conn,
        "SELECT COUNT(*) FROM keywords WHERE mailbox_id = ?1",
        [mailbox_id],
        |r| r.get(0),
    )
    .ctx("counting keywords")?;
    if u64::try_from(defined).unwrap_or(0) > MAX_KEYWORDS {
        return Err(StoreError::Limit {
            what: "keywords defined in one mailbox".into(),
            max: MAX_KEYWORDS,
        });
    }
    Ok(())
}

/// The messages of a mailbox whose UIDs lie in `ranges`, ascending.
pub(crate) fn messages_in(
    conn: &Connection,
    mailbox: &MailboxRow,
    ranges: &[UidRange],
) -> Result<Vec<MessageMeta>> {
    messages_flagged_in(conn, mailbox, ranges, 0)
}

/// [`messages_in`], only those with one of the system flags `flags` set
/// (0: all): EXPUNGE reads the few `\Deleted` rows of a mailbox, not every
/// row of it.
pub(crate) fn messages_flagged_in(
    conn: &Connection,
    mailbox: &MailboxRow,
    ranges: &[UidRange],
    flags: u8,
) -> Result<Vec<MessageMeta>> {
    let context = format!("reading messages of {:?}", mailbox.name);
    let max_uid: Option<u32> = cached_row(
        conn,
        "SELECT MAX(uid) FROM messages WHERE mailbox_id = ?1",
        [mailbox.id],
        |r| r.get(0),
    )
    .ctx(&context)?;
    let Some(max_uid) = max_uid else {
        return Ok(Vec::new());
    };
    let mut stmt = if flags == 0 {
        conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid"
        ))
    } else {
        conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3
               AND (system_flags & {flags}) != 0 ORDER BY uid"
        ))
    }
    .ctx(&context)?;
    let mut found = BTreeMap::new();
    for range in ranges {
        let (low, high) = range.resolve(max_uid);
        let rows = stmt
            .query_map(params![mailbox.id, low, high], message_from_row)
            .ctx(&context)?;
        for row in rows {
            let meta = row.ctx(&context)?;
            found.insert(meta.uid, meta);
        }
    }
    Ok(found.into_values().collect())
}

/// Every message of a mailbox, ascending UID.
pub(crate) fn all_messages(conn: &Connection, mailbox: &MailboxRow) -> Result<Vec<MessageMeta>> {
    let context = format!("reading messages of {:?}", mailbox.name);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ?1 ORDER BY uid"
        ))
        .ctx(&context)?;
    let rows = stmt
        .query_map([mailbox.id], message_from_row)
        .ctx(&context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(&context)?;
    Ok(rows)
}

/// The counts and sums of a mailbox for STATUS and SELECT.
pub(crate) fn status_of(conn: &Connection, mailbox: &MailboxRow) -> Result<crate::MailboxStatus> {
    let counts = crate::counts::of(conn, mailbox.id, &mailbox.name)?;
    Ok(crate::MailboxStatus {
        uidvalidity: mailbox.uidvalidity,
        uidnext: mailbox.uidnext,
        highestmodseq: mailbox.highestmodseq,
        messages: counts.messages,
        unseen: counts.unseen,
        deleted: counts.deleted,
        size: counts.size,
        deleted_size: counts.deleted_size,
        mailbox_id: mailbox.object_id.clone(),
    })
}

/// [`status_of`] as `viewer` sees it: a guest's unseen count is of the
/// guest's own `\Seen` (see `private_seen`), the owner's the kept one.
pub(crate) fn status_for(
    conn: &Connection,
    mailbox: &MailboxRow,
    viewer: crate::Viewer<'_>,
) -> Result<crate::MailboxStatus> {
    let mut status = status_of(conn, mailbox)?;
    if let Some(user) = viewer.guest() {
        status.unseen = crate::private_seen::unseen(conn, mailbox.id, user, status.messages)?;
    }
    Ok(status)
}

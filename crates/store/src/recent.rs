//! `\Recent` (IMAP4rev1, RFC 3501 §2.3.2): a message is recent in the
//! first session told of it, and in no later one. What sessions have been
//! told of is one UID per mailbox, the first not yet claimed; a session
//! claims the messages below the UIDs it was told of in one write, so two
//! sessions (of any storage process) never both get a message as recent.
//! IMAP4rev2 has no `\Recent`; a read-only look (EXAMINE, STATUS) claims
//! nothing: a SELECT reads the first unclaimed UID with the view
//! ([`crate::Selected::first_recent`]).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, SqlContext};
use crate::index::{MailboxRow, cached_execute, cached_row, mailbox_checked};
use crate::mailbox::begin_write;
use crate::{Store, names};

/// The first UID not yet claimed, per mailbox. A mailbox without a row
/// has had nothing claimed; a row of another UIDVALIDITY (the mailbox was
/// rebuilt with new UIDs) counts as none. The row goes with its mailbox.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS recent_claims (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    uidvalidity INTEGER NOT NULL,
    first_uid   INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The first UID of `mailbox` no session has claimed.
pub(crate) fn first_unclaimed(conn: &Connection, mailbox: &MailboxRow) -> Result<u32> {
    let claimed: Option<(u32, u32)> = cached_row(
        conn,
        "SELECT uidvalidity, first_uid FROM recent_claims WHERE mailbox_id = ?1",
        [mailbox.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx("reading the recent messages' claim")?;
    Ok(match claimed {
        Some((uidvalidity, first)) if uidvalidity == mailbox.uidvalidity => first,
        _ => 1,
    })
}

/// Claims, inside the write transaction `tx`, the messages of `mailbox`
/// up to `up_to` that no session has claimed; returns the first of them
/// (above `up_to`: none were left to claim, and nothing is written).
pub(crate) fn claim_in(tx: &Connection, mailbox: &MailboxRow, up_to: u32) -> Result<u32> {
    let first = first_unclaimed(tx, mailbox)?;
    if first <= up_to {
        cached_execute(
            tx,
            "INSERT INTO recent_claims (mailbox_id, uidvalidity, first_uid)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (mailbox_id) DO UPDATE
             SET uidvalidity = excluded.uidvalidity, first_uid = excluded.first_uid",
            params![mailbox.id, mailbox.uidvalidity, up_to.saturating_add(1)],
        )
        .ctx(&format!(
            "claiming the recent messages of {:?}",
            mailbox.name
        ))?;
    }
    Ok(first)
}

/// The mailboxes that hold messages no session has claimed: LIST's
/// `\Marked` (RFC 9051 §7.3.1: messages added since the mailbox was last
/// selected), one index probe per mailbox.
pub(crate) fn marked_mailboxes(conn: &Connection) -> Result<std::collections::BTreeSet<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.name FROM mailboxes m
             LEFT JOIN recent_claims r ON r.mailbox_id = m.id AND r.uidvalidity = m.uidvalidity
             WHERE EXISTS (SELECT 1 FROM messages
                           WHERE mailbox_id = m.id AND uid >= COALESCE(r.first_uid, 1))",
        )
        .ctx("listing the mailboxes with recent messages")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .ctx("listing the mailboxes with recent messages")?
        .collect::<rusqlite::Result<_>>()
        .ctx("listing the mailboxes with recent messages")?;
    Ok(names)
}

/// The claim an append batch asked for ([`crate::AppendWriter::claim_recent`]),
/// in its transaction: up to its last new UID (`uids`, just indexed in
/// `mailbox`); the first UID claimed, `None` when it did not ask.
pub(crate) fn claim_for_append(
    tx: &Connection,
    mailbox: &MailboxRow,
    staged: &[crate::StagedMessage],
    uids: &[u32],
) -> Result<Option<u32>> {
    match uids.iter().max() {
        Some(&last) if staged.iter().any(|m| m.claims_recent) => {
            claim_in(tx, mailbox, last).map(Some)
        }
        _ => Ok(None),
    }
}

impl Store {
    /// Claims for the calling session the messages of `mailbox` up to
    /// `up_to` (a UID it has been told of) that no session has claimed,
    /// and returns the first UID of them: the caller's recent messages
    /// are those from it to `up_to`; none when it is above `up_to`.
    /// Nothing is written when there is nothing to claim.
    pub fn claim_recent(&self, mailbox: &str, uidvalidity: u32, up_to: u32) -> Result<u32> {
        let name = names::canonical(mailbox)?;
        let mut conn = self.conn()?;
        let row = mailbox_checked(&conn, &name, uidvalidity)?;
        let first = first_unclaimed(&conn, &row)?;
        if first > up_to {
            return Ok(first);
        }
        let tx = begin_write(&mut conn)?;
        // Again under the write lock: another process may have claimed
        // in between.
        let row = mailbox_checked(&tx, &name, uidvalidity)?;
        let first = claim_in(&tx, &row, up_to)?;
        tx.commit()
            .ctx(&format!("claiming the recent messages of {name:?}"))?;
        Ok(first)
    }

    /// How many messages of `mailbox` no session has claimed (STATUS
    /// RECENT).
    pub fn recent_count(&self, mailbox: &str) -> Result<u32> {
        let name = names::canonical(mailbox)?;
        let conn = self.conn()?;
        let row = mailbox_checked(&conn, &name, 0)?;
        let first = first_unclaimed(&conn, &row)?;
        cached_row(
            &conn,
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = ?1 AND uid >= ?2",
            params![row.id, first],
            |r| r.get(0),
        )
        .ctx(&format!("counting the recent messages of {name:?}"))
    }
}

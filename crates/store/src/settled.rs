//! Reads that answer at once when the mailbox is settled: its folder is as
//! the index last saw it (no scan needed) and a pooled reader is open. They
//! cost a few tens of microseconds, so the storage process makes them on
//! the thread that decoded the call instead of handing them to a worker
//! thread and back (two thread wake-ups, the larger part of a settled
//! call's cost). When the mailbox is not settled, or no reader is idle,
//! they answer `None` and the caller makes the ordinary read, which syncs.
//! They read the owner's view (shared `\Seen`): a guest's reads go the
//! ordinary way with their [`Viewer`].

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext};
use crate::index::{MessageMeta, UidRange};
use crate::messages::{
    CHANGED_SINCE, Changes, EXPUNGED_SINCE, Selected, changes_in, fetch_in, select_in,
};
use crate::txn::Txn;
use crate::{MailboxStatus, Maildrop, Store, Structure, Viewer, names, sync};

/// The most messages a read made at once may list (a millisecond or so at
/// most, so the caller's thread is never held long): the mailbox's size
/// for a whole list, the UIDs spanned for a list of given ranges, the
/// changed rows for a poll. Bigger reads go the ordinary way.
const SMALL_MAILBOX: u32 = 2000;

/// A settled Fetch's rows and, when every one is cached, the messages'
/// structures by UID (see [`Store::fetch_with_structures_if_settled`]).
pub type FetchedWithStructures = (Vec<MessageMeta>, Option<Vec<(u32, Structure)>>);

/// Whether a settled read's cost grows with the mailbox.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    /// It does not (STATUS reads the counts).
    Any,
    /// It does (a message list): only for small mailboxes.
    Small,
    /// It grows with what changed after this MODSEQ (a poll's changes,
    /// read through the MODSEQ indexes): for any mailbox where that is
    /// little, as it is between one command and the next.
    ChangedSince(i64),
}

impl Store {
    /// [`Store::status`], if `mailbox` is settled.
    pub fn status_if_settled(&self, mailbox: &str) -> Result<Option<MailboxStatus>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, Size::Any, |conn| {
            crate::mailbox::status_in(conn, &name, Viewer::Owner)
        })
    }

    /// [`Store::changes_since`], if `mailbox` is settled.
    pub fn changes_if_settled(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        since_modseq: u64,
    ) -> Result<Option<Changes>> {
        let name = names::canonical(mailbox)?;
        let since = i64::try_from(since_modseq).unwrap_or(i64::MAX);
        self.if_settled(&name, Size::ChangedSince(since), |conn| {
            changes_in(conn, &name, uidvalidity, since_modseq, Viewer::Owner)
        })
    }

    /// [`Store::select`], if `mailbox` is settled.
    pub fn select_if_settled(&self, mailbox: &str) -> Result<Option<Selected>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, Size::Small, |conn| {
            select_in(conn, &name, Viewer::Owner, None)
        })
    }

    /// [`Store::select_flags_as`] for the owner, if `mailbox` is settled.
    pub fn select_flags_if_settled(&self, mailbox: &str) -> Result<Option<Selected>> {
        let name = names::canonical(mailbox)?;
        let views = &self.inner.views;
        self.if_settled(&name, Size::Small, |conn| {
            select_in(conn, &name, Viewer::Owner, Some(views))
        })
    }

    /// [`Store::fetch`], if `mailbox` is settled.
    pub fn fetch_if_settled(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
    ) -> Result<Option<Vec<MessageMeta>>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, size_of_ranges(ranges), |conn| {
            fetch_in(conn, &name, uidvalidity, ranges, Viewer::Owner)
        })
    }

    /// [`Store::fetch`] together with the messages' cached structures
    /// (envelope, body structure, preview), if `mailbox` is settled: one
    /// snapshot for both. The structures are `None` when any message's
    /// is not cached yet (parsing it is work for a store thread, see
    /// [`Store::message_structures`]).
    pub fn fetch_with_structures_if_settled(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        ranges: &[UidRange],
    ) -> Result<Option<FetchedWithStructures>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, size_of_ranges(ranges), |conn| {
            let metas = fetch_in(conn, &name, uidvalidity, ranges, Viewer::Owner)?;
            let id = crate::index::mailbox_row(conn, &name)?.id;
            let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
            let cached = crate::mime::cache::get_all(conn, id, &uids)?;
            let structures: Option<Vec<_>> = uids
                .into_iter()
                .zip(cached)
                .map(|(uid, s)| s.map(|s| (uid, s)))
                .collect();
            Ok((metas, structures))
        })
    }

    /// [`Store::maildrop`], if `mailbox` is settled (a POP3 login: the
    /// listing is one indexed read).
    pub fn maildrop_if_settled(&self, mailbox: &str) -> Result<Option<Maildrop>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, Size::Small, |conn| {
            crate::maildrop::maildrop_in(conn, &name)
        })
    }

    /// Runs `read` on an idle reader if mailbox `name` (canonical) is
    /// settled and, for reads whose cost grows with the mailbox, small;
    /// the check and the read in one read transaction.
    fn if_settled<T>(
        &self,
        name: &str,
        size: Size,
        read: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(mut conn) = self.idle_reader() else {
            return Ok(None);
        };
        // One snapshot for the check and the read (the read joins it).
        let mut tx = Txn::read(&mut conn).ctx("starting a read")?;
        let Some(row) = sync::settled(self, &tx, name)? else {
            return Ok(None);
        };
        let big = match size {
            Size::Any => false,
            Size::Small => crate::counts::of(&tx, row.id, name)?.messages > SMALL_MAILBOX,
            Size::ChangedSince(since) => changed_since_over(&tx, row.id, since, SMALL_MAILBOX)?,
        };
        if big {
            return Ok(None);
        }
        read(&mut tx).map(Some)
    }
}

/// How a read of the messages in `ranges` grows: with the ranges alone
/// when each has two ends and together they span few UIDs (a client
/// opening one message of a big mailbox), else with the mailbox.
fn size_of_ranges(ranges: &[UidRange]) -> Size {
    match UidRange::spanned(ranges) {
        Some(spanned) if spanned <= u64::from(SMALL_MAILBOX) => Size::Any,
        _ => Size::Small,
    }
}

/// Whether more than `limit` messages of mailbox `id` changed, or more
/// than `limit` were expunged, after MODSEQ `since`: counted through the
/// MODSEQ indexes and never past `limit + 1` rows.
fn changed_since_over(conn: &Connection, id: i64, since: i64, limit: u32) -> Result<bool> {
    let over = i64::from(limit) + 1;
    for from in [
        format!("messages {CHANGED_SINCE}"),
        format!("expunged {EXPUNGED_SINCE}"),
    ] {
        let counted: i64 = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM {from} LIMIT ?3)"
            ))
            .and_then(|mut stmt| stmt.query_row(params![id, since, over], |r| r.get(0)))
            .ctx("counting a mailbox's changes")?;
        if counted >= over {
            return Ok(true);
        }
    }
    Ok(false)
}

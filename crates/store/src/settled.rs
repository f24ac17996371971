//! Reads that answer at once when the mailbox is settled: its folder is as
//! the index last saw it (no scan needed) and a pooled reader is open. They
//! cost a few tens of microseconds, so the storage process makes them on
//! the thread that decoded the call instead of handing them to a worker
//! thread and back (two thread wake-ups, the larger part of a settled
//! call's cost). When the mailbox is not settled, or no reader is idle,
//! they answer `None` and the caller makes the ordinary read, which syncs.
//! They read the owner's view (shared `\Seen`): a guest's reads go the
//! ordinary way with their [`Viewer`].

use rusqlite::Connection;

use crate::error::{Result, SqlContext};
use crate::index::{MessageMeta, UidRange};
use crate::messages::{Changes, Selected, changes_in, fetch_in, select_in};
use crate::txn::Txn;
use crate::{MailboxStatus, Maildrop, Store, Structure, Viewer, names, sync};

/// The most messages a mailbox may hold for a read of a message list to
/// be made at once (a millisecond or so at most, so the caller's thread is
/// never held long); bigger ones go the ordinary way.
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
        self.if_settled(&name, Size::Small, |conn| {
            changes_in(conn, &name, uidvalidity, since_modseq, Viewer::Owner)
        })
    }

    /// [`Store::select`], if `mailbox` is settled.
    pub fn select_if_settled(&self, mailbox: &str) -> Result<Option<Selected>> {
        let name = names::canonical(mailbox)?;
        self.if_settled(&name, Size::Small, |conn| {
            select_in(conn, &name, Viewer::Owner)
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
        self.if_settled(&name, Size::Small, |conn| {
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
        self.if_settled(&name, Size::Small, |conn| {
            let metas = fetch_in(conn, &name, uidvalidity, ranges, Viewer::Owner)?;
            let id = crate::index::mailbox_row(conn, &name)?.id;
            let mut structures = Vec::with_capacity(metas.len());
            for m in &metas {
                match crate::mime::cache::get(conn, id, m.uid)? {
                    Some(s) => structures.push((m.uid, s)),
                    None => return Ok((metas, None)),
                }
            }
            Ok((metas, Some(structures)))
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
        if size == Size::Small && crate::counts::of(&tx, row.id, name)?.messages > SMALL_MAILBOX {
            return Ok(None);
        }
        read(&mut tx).map(Some)
    }
}

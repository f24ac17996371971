//! STATUS mailbox (items) (RFC 9051 §6.3.11) and the status items, which
//! LIST-STATUS (RFC 5819) asks for too.

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, PResult, bad};

/// STATUS data items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES
    Messages,
    /// RECENT (IMAP4rev1)
    Recent,
    /// UIDNEXT
    UidNext,
    /// UIDVALIDITY
    UidValidity,
    /// UNSEEN
    Unseen,
    /// DELETED (RFC 9051)
    Deleted,
    /// SIZE (RFC 9051, STATUS=SIZE)
    Size,
    /// HIGHESTMODSEQ (RFC 7162)
    HighestModSeq,
    /// APPENDLIMIT (RFC 7889)
    AppendLimit,
    /// MAILBOXID (RFC 8474)
    MailboxId,
    /// DELETED-STORAGE (RFC 9208, for the QUOTA plugin)
    DeletedStorage,
}

impl StatusItem {
    /// The item's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
            StatusItem::MailboxId => "MAILBOXID",
            StatusItem::DeletedStorage => "DELETED-STORAGE",
        }
    }
}

/// Every item, for lookup by name.
const ITEMS: [StatusItem; 11] = [
    StatusItem::Messages,
    StatusItem::Recent,
    StatusItem::UidNext,
    StatusItem::UidValidity,
    StatusItem::Unseen,
    StatusItem::Deleted,
    StatusItem::Size,
    StatusItem::HighestModSeq,
    StatusItem::AppendLimit,
    StatusItem::MailboxId,
    StatusItem::DeletedStorage,
];

/// STATUS: counters of a mailbox other than the selected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The mailbox asked about.
    pub mailbox: String,
    /// The items asked for, in the order given.
    pub items: Vec<StatusItem>,
}

/// `SP mailbox SP "(" status-att *(SP status-att) ")"`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.sp("status items")?;
    let items = status_items(c)?;
    c.eol()?;
    Ok(CommandBody::Status(Status { mailbox, items }))
}

/// `"(" status-att *(SP status-att) ")"`.
pub(crate) fn status_items(c: &mut Cursor<'_>) -> PResult<Vec<StatusItem>> {
    c.paren_list("status item", false, |c| {
        let raw = c.atom("status item")?;
        match ITEMS
            .iter()
            .find(|item| item.name().as_bytes().eq_ignore_ascii_case(raw))
        {
            Some(item) => Ok(*item),
            None => bad(format!(
                "Unknown status item {}",
                String::from_utf8_lossy(raw)
            )),
        }
    })
}

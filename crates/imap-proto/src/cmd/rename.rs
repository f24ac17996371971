//! RENAME existing-mailbox new-mailbox (RFC 9051 §6.3.6).

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, PResult};

/// RENAME: give a mailbox (and its children) a new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The existing name.
    pub from: String,
    /// The new name.
    pub to: String,
}

/// `SP mailbox SP mailbox`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let from = mailbox(c, "mailbox name")?;
    c.sp("new mailbox name")?;
    let to = mailbox(c, "new mailbox name")?;
    c.eol()?;
    Ok(CommandBody::Rename(Rename { from, to }))
}

//! LSUB reference pattern (IMAP4rev1, RFC 3501 §6.3.9).

use super::CommandBody;
use crate::grammar::mailbox::{list_mailbox, mailbox};
use crate::grammar::{Cursor, PResult};

/// LSUB: list subscribed names matching a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsub {
    /// The reference name.
    pub reference: String,
    /// The mailbox pattern with `*` and `%` wildcards.
    pub pattern: String,
}

/// `SP mailbox SP list-mailbox`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("reference name")?;
    let reference = mailbox(c, "reference name")?;
    c.sp("mailbox pattern")?;
    let pattern = list_mailbox(c)?;
    c.eol()?;
    Ok(CommandBody::Lsub(Lsub { reference, pattern }))
}

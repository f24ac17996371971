//! SUBSCRIBE and UNSUBSCRIBE mailbox (RFC 9051 §6.3.7, §6.3.8).

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, PResult};

/// SUBSCRIBE: add a name to the subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The mailbox name (it need not exist).
    pub mailbox: String,
}

/// UNSUBSCRIBE: remove a name from the subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The mailbox name.
    pub mailbox: String,
}

/// `SP mailbox`.
fn name(c: &mut Cursor<'_>) -> PResult<String> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.eol()?;
    Ok(mailbox)
}

/// SUBSCRIBE's arguments.
pub(crate) fn subscribe(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Subscribe(Subscribe { mailbox: name(c)? }))
}

/// UNSUBSCRIBE's arguments.
pub(crate) fn unsubscribe(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Unsubscribe(Unsubscribe { mailbox: name(c)? }))
}

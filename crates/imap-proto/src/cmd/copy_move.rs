//! COPY and MOVE (RFC 9051 §6.4.7, §6.4.8; RFC 6851), with their UID
//! forms.

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::seqset::sequence_set;
use crate::grammar::{Cursor, PResult};
use crate::types::SequenceSet;

/// COPY or MOVE: the same arguments, the variant of
/// [`CommandBody`] says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMove {
    /// UID COPY / UID MOVE: `set` holds UIDs.
    pub uid: bool,
    /// The messages.
    pub set: SequenceSet,
    /// The target mailbox.
    pub mailbox: String,
}

/// `SP sequence-set SP mailbox`.
fn args(c: &mut Cursor<'_>, uid: bool) -> PResult<CopyMove> {
    c.sp("sequence set")?;
    let set = sequence_set(c)?;
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.eol()?;
    Ok(CopyMove { uid, set, mailbox })
}

/// COPY's arguments.
pub(crate) fn copy(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Copy(args(c, uid)?))
}

/// MOVE's arguments.
pub(crate) fn move_(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Move(args(c, uid)?))
}

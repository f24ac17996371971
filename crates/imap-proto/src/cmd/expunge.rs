//! EXPUNGE and UID EXPUNGE uid-set (RFC 9051 §6.4.3, RFC 4315).

use super::CommandBody;
use crate::grammar::seqset::sequence_set;
use crate::grammar::{Cursor, PResult};
use crate::types::SequenceSet;

/// EXPUNGE: remove the \Deleted messages, or with UID EXPUNGE only those
/// of them in a UID set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expunge {
    /// UID EXPUNGE's UIDs; `None` for plain EXPUNGE.
    pub uid_set: Option<SequenceSet>,
}

/// Nothing, or `SP sequence-set` after UID.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    let uid_set = if uid {
        c.sp("UID set")?;
        Some(sequence_set(c)?)
    } else {
        None
    };
    c.eol()?;
    Ok(CommandBody::Expunge(Expunge { uid_set }))
}

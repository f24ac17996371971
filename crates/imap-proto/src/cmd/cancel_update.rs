//! CANCELUPDATE "tag" ... (RFC 5267 §4.3): stop updating the results of
//! earlier SEARCH/SORT ... RETURN (UPDATE) commands.

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// CANCELUPDATE: the tags of the searches to stop updating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelUpdate {
    /// The tags, as sent.
    pub tags: Vec<String>,
}

/// `1*(SP tag-string)`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mut tags = Vec::new();
    loop {
        c.sp("tag")?;
        let tag = c.string("tag")?;
        tags.push(String::from_utf8_lossy(&tag).into_owned());
        if c.at_eol() {
            break;
        }
    }
    c.eol()?;
    Ok(CommandBody::CancelUpdate(CancelUpdate { tags }))
}

//! COMPRESS algorithm (RFC 4978).

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// COMPRESS: compress the rest of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compress {
    /// The algorithm, upper-cased (`DEFLATE` is the one defined); the
    /// server answers BAD for one it does not know (RFC 4978 §3).
    pub algorithm: String,
}

/// `SP algorithm`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("compression algorithm")?;
    let algorithm = String::from_utf8_lossy(c.atom("compression algorithm")?).to_ascii_uppercase();
    c.eol()?;
    Ok(CommandBody::Compress(Compress { algorithm }))
}

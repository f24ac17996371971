//! LOGIN user password (RFC 9051 §6.2.3).

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// LOGIN: plain-text login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name as sent.
    pub username: String,
    /// The password bytes as sent.
    pub password: Vec<u8>,
}

/// `SP userid SP password`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("user name")?;
    let username = c.astring_utf8("user name")?;
    c.sp("password")?;
    let password = c.astring("password")?;
    c.eol()?;
    Ok(CommandBody::Login(Login { username, password }))
}

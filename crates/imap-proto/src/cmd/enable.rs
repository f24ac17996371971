//! ENABLE capability ... (RFC 5161).

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// ENABLE: turn on extensions that change how the server talks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enable {
    /// The capability names, upper-cased, in the order given.
    pub capabilities: Vec<String>,
}

/// `1*(SP capability)`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mut capabilities = Vec::new();
    loop {
        c.sp("capability")?;
        let cap = c.atom("capability")?;
        capabilities.push(String::from_utf8_lossy(cap).to_ascii_uppercase());
        if c.at_eol() {
            break;
        }
    }
    c.eol()?;
    Ok(CommandBody::Enable(Enable { capabilities }))
}

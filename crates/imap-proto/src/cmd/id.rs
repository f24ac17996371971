//! ID (RFC 2971): the client says who it is.

use super::CommandBody;
use crate::grammar::{Cursor, Fail, PResult, bad};

/// RFC 2971 §3.3's limits on what a client may send.
const MAX_PAIRS: usize = 30;
/// The longest field name.
const MAX_FIELD: usize = 30;
/// The longest value.
const MAX_VALUE: usize = 1024;

/// ID: the client's identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id {
    /// The field-value pairs in the order sent (values may be NIL);
    /// `None` for `ID NIL`.
    pub params: Option<Vec<(String, Option<String>)>>,
}

/// `SP ("(" [string SP nstring *(SP string SP nstring)] ")" / "NIL")`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("ID parameters")?;
    if c.eat_word("NIL") {
        c.eol()?;
        return Ok(CommandBody::Id(Id { params: None }));
    }
    c.expect(b'(', "'(' or NIL")?;
    let mut params = Vec::new();
    if !c.eat(b')') {
        loop {
            // The limits count the text kept (invalid UTF-8 replaced),
            // so that a kept value can always be sent back as it is.
            let field = String::from_utf8_lossy(&c.string("ID field name")?).into_owned();
            if field.len() > MAX_FIELD {
                return bad(format!("ID field names are at most {MAX_FIELD} bytes"));
            }
            c.sp("ID field value")?;
            let value = if c.eat_word("NIL") {
                None
            } else {
                let v = String::from_utf8_lossy(&c.string("ID field value")?).into_owned();
                if v.len() > MAX_VALUE {
                    return bad(format!("ID values are at most {MAX_VALUE} bytes"));
                }
                Some(v)
            };
            params.push((field, value));
            if params.len() > MAX_PAIRS {
                return bad(format!("At most {MAX_PAIRS} ID field-value pairs"));
            }
            match c.peek() {
                Some(b')') => {
                    c.eat(b')');
                    break;
                }
                Some(b' ') => c.sp("ID field name")?,
                None => return Err(Fail::Incomplete),
                Some(_) => return bad("Expected ')' or another ID field"),
            }
        }
    }
    c.eol()?;
    Ok(CommandBody::Id(Id {
        params: Some(params),
    }))
}

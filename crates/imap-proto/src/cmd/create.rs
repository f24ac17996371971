//! CREATE mailbox [(USE (special-use ...))] (RFC 9051 §6.3.4, RFC 6154
//! CREATE-SPECIAL-USE).

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, Fail, PResult, bad};

/// The special-use attributes of RFC 6154 and RFC 8457, canonical case.
pub(crate) const SPECIAL_USES: [&str; 8] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
    "\\Important",
];

/// CREATE: make a mailbox. Check its name with
/// [`crate::check_new_mailbox_name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The new mailbox's name.
    pub mailbox: String,
    /// The special uses asked for with `USE (...)`: known ones in their
    /// canonical case (`\Drafts`), others as sent (the server refuses
    /// those with `NO [USEATTR]`).
    pub special_use: Vec<String>,
}

/// `SP mailbox [SP "(" create-param *(SP create-param) ")"]`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    let mut special_use = Vec::new();
    if !c.at_eol() {
        c.sp("CREATE parameters")?;
        c.expect(b'(', "'(' to start the CREATE parameters")?;
        loop {
            if c.eat_word("USE") {
                c.sp("special-use list")?;
                special_use.extend(use_list(c)?);
            } else {
                let name = c.atom("CREATE parameter")?;
                return bad(format!(
                    "Unknown CREATE parameter {}",
                    String::from_utf8_lossy(name)
                ));
            }
            match c.peek() {
                Some(b')') => {
                    c.eat(b')');
                    break;
                }
                Some(b' ') => c.sp("CREATE parameter")?,
                None => return Err(Fail::Incomplete),
                Some(_) => return bad("Expected ')' or another CREATE parameter"),
            }
        }
    }
    c.eol()?;
    Ok(CommandBody::Create(Create {
        mailbox,
        special_use,
    }))
}

/// `"(" [use-attr *(SP use-attr)] ")"`, each `\atom`.
pub(crate) fn use_list(c: &mut Cursor<'_>) -> PResult<Vec<String>> {
    c.expect(b'(', "'(' to start the special-use list")?;
    let mut uses = Vec::new();
    if c.eat(b')') {
        return Ok(uses);
    }
    loop {
        c.expect(b'\\', "a special-use attribute such as \\Drafts")?;
        let name = String::from_utf8_lossy(c.atom("special-use attribute")?).into_owned();
        let canonical = SPECIAL_USES
            .iter()
            .find(|k| k[1..].eq_ignore_ascii_case(&name))
            .map(|k| (*k).to_string());
        uses.push(canonical.unwrap_or_else(|| format!("\\{name}")));
        match c.peek() {
            Some(b')') => {
                c.eat(b')');
                return Ok(uses);
            }
            Some(b' ') => c.sp("special-use attribute")?,
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected ')' or another special-use attribute"),
        }
    }
}

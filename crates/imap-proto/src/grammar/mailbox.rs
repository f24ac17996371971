//! Mailbox names and LIST patterns as clients send them: modified UTF-7
//! unless the connection enabled UTF8=ACCEPT, then UTF-8; decoded here so
//! that everything past the parser sees UTF-8, with INBOX in one spelling.

use super::cursor::{Cursor, Fail, PResult, bad, is_atom_char};
use crate::mutf7::decode_mutf7;

/// Turns the bytes of a name or pattern into UTF-8 by the connection's
/// rules; `what` names the argument in errors.
fn decode(c: &Cursor<'_>, raw: Vec<u8>, what: &str) -> PResult<String> {
    if c.utf8 {
        return String::from_utf8(raw).map_err(|_| Fail::Bad(format!("Invalid UTF-8 in {what}")));
    }
    decode_mutf7(&raw).map_err(|e| Fail::Bad(format!("Invalid {what}: {e}")))
}

/// `mailbox`: an astring in the connection's encoding, `INBOX` in any case
/// becoming `INBOX`.
pub(crate) fn mailbox(c: &mut Cursor<'_>, what: &str) -> PResult<String> {
    let raw = c.astring(what)?;
    let name = decode(c, raw, what)?;
    if name.eq_ignore_ascii_case("INBOX") {
        Ok("INBOX".to_string())
    } else {
        Ok(name)
    }
}

/// `list-mailbox`: list-chars (atom chars, the wildcards `%` and `*`, and
/// `]`) or a string, in the connection's encoding.
pub(crate) fn list_mailbox(c: &mut Cursor<'_>) -> PResult<String> {
    let what = "mailbox pattern";
    let raw = match c.peek() {
        Some(b'"' | b'{') | None => c.string(what)?,
        Some(b'~') if c.peek2() == Some(b'{') => c.string(what)?,
        Some(b'\r' | b'\n') => return bad("Missing mailbox pattern"),
        Some(_) => {
            let raw = c.take_while(|b| is_atom_char(b) || matches!(b, b'%' | b'*' | b']'));
            if raw.is_empty() {
                return bad("Expected mailbox pattern");
            }
            raw.to_vec()
        }
    };
    decode(c, raw, what)
}

/// One mailbox or a parenthesised list of them (NOTIFY's
/// `one-or-more-mailbox`).
pub(crate) fn mailbox_list(c: &mut Cursor<'_>) -> PResult<Vec<String>> {
    if !c.eat(b'(') {
        return Ok(vec![mailbox(c, "mailbox name")?]);
    }
    let mut names = vec![mailbox(c, "mailbox name")?];
    loop {
        match c.peek() {
            Some(b')') => {
                c.eat(b')');
                return Ok(names);
            }
            Some(b' ') => {
                c.sp("mailbox name")?;
                names.push(mailbox(c, "mailbox name")?);
            }
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected ')' or another mailbox name"),
        }
    }
}

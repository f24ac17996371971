//! Message flags (`flag`, `flag-list`): system flags canonicalised, keywords
//! kept as sent.

use super::cursor::{Cursor, Fail, PResult, bad, is_atom_char};

/// The system flags in their canonical spelling.
const SYSTEM_FLAGS: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// One flag: `\Seen` etc. or `\Recent` (any case, canonicalised), or a
/// keyword atom. Another `\atom` (a flag-extension of RFC 9051, for
/// future standards) is BAD: no system flag of that name exists here, and
/// the client should hear so at once, not from storage.
pub(crate) fn flag(c: &mut Cursor<'_>) -> PResult<String> {
    let backslash = c.eat(b'\\');
    let name = c.atom("flag")?;
    // Atoms are ASCII, so this never replaces anything.
    let name = String::from_utf8_lossy(name);
    if !backslash {
        // NIL is an atom by the grammar, but a keyword of that name would
        // read as nil wherever a flag list is parsed by a client.
        if name.eq_ignore_ascii_case("NIL") {
            return bad("NIL is not a valid keyword");
        }
        return Ok(name.into_owned());
    }
    for canonical in SYSTEM_FLAGS.iter().chain(&["\\Recent"]) {
        if canonical[1..].eq_ignore_ascii_case(&name) {
            return Ok((*canonical).to_string());
        }
    }
    bad(format!("Unknown system flag \\{name}"))
}

/// `"(" [flag *(SP flag)] ")"`, read as Dovecot reads it: spaces after
/// `(`, before `)` and more than one between flags are let pass, since
/// Dovecot's own IMAP client (imapc, which `doveadm sync` uses to
/// migrate mail) sends `( $Label1 Junk)` for keywords without system
/// flags, and refusing it would stop a migration.
pub(crate) fn flag_list(c: &mut Cursor<'_>) -> PResult<Vec<String>> {
    c.expect(b'(', "'(' to start the flag list")?;
    let mut flags = Vec::new();
    loop {
        while c.eat(b' ') {}
        match c.peek() {
            Some(b')') => {
                c.eat(b')');
                return Ok(flags);
            }
            None => return Err(Fail::Incomplete),
            Some(_) => flags.push(flag(c)?),
        }
        match c.peek() {
            Some(b' ' | b')') => {}
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected ')' or another flag in the flag list"),
        }
    }
}

/// Whether `b` can start a flag.
pub(crate) fn starts_flag(b: u8) -> bool {
    b == b'\\' || is_atom_char(b)
}

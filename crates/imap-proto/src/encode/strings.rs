//! Strings in responses: atoms, quoted strings and literals, chosen by
//! content so that any bytes round-trip.

use crate::grammar::cursor::is_astring_char;

/// Whether `s` can be sent as a quoted string: 7-bit, no NUL, CR or LF.
fn quotable(s: &[u8]) -> bool {
    s.iter()
        .all(|&b| matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n')
}

/// Appends `s` as a `string`: quoted when possible, else a literal
/// `{N}\r\n` followed by the bytes.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if quotable(s) {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

/// Appends header text meant for people (an ENVELOPE subject or display
/// name) as a `string`, as Dovecot writes it: text that is quotable as it
/// stands (no line break, tab, quote, backslash or 8-bit byte) goes
/// quoted; anything else goes as a literal with the line breaks of
/// folding dropped, tabs as spaces and NUL as 0x80, so that clients show
/// one line and no byte is escaped.
pub fn string_for_humans(out: &mut Vec<u8>, s: &[u8]) {
    let plain = s
        .iter()
        .all(|&b| matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    let text: Vec<u8> = s
        .iter()
        .filter(|&&b| b != b'\r' && b != b'\n')
        .map(|&b| match b {
            b'\t' => b' ',
            0 => 0x80,
            b => b,
        })
        .collect();
    out.extend_from_slice(format!("{{{}}}\r\n", text.len()).as_bytes());
    out.extend_from_slice(&text);
}

/// Appends `s` as an `astring`: an atom when every byte allows it (and it
/// is not the word NIL, to spare readers an ambiguity), else as [`string`].
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// Appends an `nstring`: `NIL` for `None`, else a [`string`].
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a mailbox name as an astring (`INBOX` is just an atom).
pub fn write_mailbox_name(out: &mut Vec<u8>, name: &str) {
    astring(out, name.as_bytes());
}

/// Appends a parenthesised flag list, e.g. `(\Seen foo)`. Flags are atoms
/// (or `\atom`) by construction and written as they are.
pub fn flag_list(out: &mut Vec<u8>, flags: &[String]) {
    out.push(b'(');
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(
            flag.bytes()
                .filter(|&b| b == b'\\' || b == b'*' || is_astring_char(b)),
        );
    }
    out.push(b')');
}

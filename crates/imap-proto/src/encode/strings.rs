//! The quoter and the literal writer: every string in every response goes
//! through [`Encoder`] (quoted string, atom or literal, chosen by content)
//! and every literal header through [`literal_header`] or
//! [`literal8_header`].

use crate::grammar::cursor::{is_astring_char, is_atom_char};
use crate::mutf7::encode_mutf7;

/// How strings are written on one connection. `utf8` is on once the client
/// has enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051): then quoted
/// strings may carry UTF-8 and mailbox names are sent as UTF-8; otherwise
/// 8-bit text goes in literals and names in modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Encoder {
    /// UTF8=ACCEPT or IMAP4rev2 is enabled.
    pub utf8: bool,
}

impl Encoder {
    /// A connection that has enabled neither UTF8=ACCEPT nor IMAP4rev2.
    pub const ASCII: Encoder = Encoder { utf8: false };
    /// A connection that has enabled UTF8=ACCEPT or IMAP4rev2.
    pub const UTF8: Encoder = Encoder { utf8: true };

    /// Whether `s` can be sent as a quoted string: no NUL, CR or LF, and
    /// 7-bit unless UTF-8 is on (then valid UTF-8).
    fn quotable(self, s: &[u8]) -> bool {
        let plain = s.iter().all(|&b| !matches!(b, 0 | b'\r' | b'\n'));
        if !plain {
            return false;
        }
        if self.utf8 {
            std::str::from_utf8(s).is_ok()
        } else {
            s.is_ascii()
        }
    }

    /// Appends `s` as a `string`: quoted when possible, else a literal
    /// `{N}\r\n` followed by the bytes. (A NUL byte, which no string may
    /// hold, is still written in the literal rather than lost.)
    pub fn string(self, out: &mut Vec<u8>, s: &[u8]) {
        if self.quotable(s) {
            out.push(b'"');
            for &b in s {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            literal_header(out, s.len() as u64);
            out.extend_from_slice(s);
        }
    }

    /// Appends `s` as an `astring`: an atom when every byte allows it (and
    /// it is not the word NIL, which a reader could take for nil), else as
    /// [`Encoder::string`].
    pub fn astring(self, out: &mut Vec<u8>, s: &[u8]) {
        if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL")
        {
            out.extend_from_slice(s);
        } else {
            self.string(out, s);
        }
    }

    /// Appends an `nstring`: `NIL` for `None`, else a [`Encoder::string`].
    pub fn nstring(self, out: &mut Vec<u8>, s: Option<&[u8]>) {
        match s {
            Some(s) => self.string(out, s),
            None => out.extend_from_slice(b"NIL"),
        }
    }

    /// Appends a mailbox name (UTF-8 inside mailkeep) as the client must
    /// see it: modified UTF-7 unless UTF-8 is on, then as an astring.
    pub fn mailbox(self, out: &mut Vec<u8>, name: &str) {
        if self.utf8 {
            self.astring(out, name.as_bytes());
        } else {
            self.astring(out, encode_mutf7(name).as_bytes());
        }
    }
}

/// Appends a literal's header `{len}\r\n`; the caller sends `len` bytes
/// next (streamed or from memory).
pub fn literal_header(out: &mut Vec<u8>, len: u64) {
    out.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
}

/// Appends a binary literal's header `~{len}\r\n` (RFC 3516, for BINARY
/// data and METADATA values that contain NUL); the caller sends the bytes.
pub fn literal8_header(out: &mut Vec<u8>, len: u64) {
    out.extend_from_slice(format!("~{{{len}}}\r\n").as_bytes());
}

/// Appends `s` as a `string` for a connection without UTF-8
/// (`Encoder::ASCII.string`).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    Encoder::ASCII.string(out, s);
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
    literal_header(out, text.len() as u64);
    out.extend_from_slice(&text);
}

/// Appends `s` as an `astring` for a connection without UTF-8
/// (`Encoder::ASCII.astring`).
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    Encoder::ASCII.astring(out, s);
}

/// Appends an `nstring` for a connection without UTF-8
/// (`Encoder::ASCII.nstring`).
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    Encoder::ASCII.nstring(out, s);
}

/// Appends a parenthesised flag list, e.g. `(\Seen foo)`. Flags are atoms
/// (or `\atom`, or `\*` in PERMANENTFLAGS) by construction; any other byte
/// is dropped so that the list stays one token.
pub fn flag_list(out: &mut Vec<u8>, flags: &[String]) {
    out.push(b'(');
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(
            flag.bytes()
                .filter(|&b| b == b'\\' || b == b'*' || is_atom_char(b)),
        );
    }
    out.push(b')');
}

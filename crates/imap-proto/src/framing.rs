//! Finding where a command ends without parsing it: lines, literal
//! announcements at the end of lines, and the tag at the start.

use crate::grammar::{Cursor, Fail, known_command};

/// A literal announced at the end of a line: `{N}`, `{N+}` or `~{N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The announced size; `None` when it does not fit in 64 bits.
    pub(crate) size: Option<u64>,
    /// `{N+}`: the client sends the bytes without waiting.
    pub(crate) non_sync: bool,
}

/// The literal announced at the end of `line` (which excludes CR LF).
pub(crate) fn literal_marker(line: &[u8]) -> Option<Marker> {
    let inner = line.strip_suffix(b"}")?;
    let (digits_end, non_sync) = match inner.strip_suffix(b"+") {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let open = digits_end.iter().rposition(|&b| b == b'{')?;
    let digits = &digits_end[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut size = Some(0u64);
    for &d in digits {
        size = size
            .and_then(|n| n.checked_mul(10))
            .and_then(|n| n.checked_add(u64::from(d - b'0')));
    }
    Some(Marker { size, non_sync })
}

/// The tag at the start of `buf`, if it is followed by SP or end of line.
pub(crate) fn extract_tag(buf: &[u8]) -> Option<String> {
    let mut c = Cursor::new(buf);
    let tag = c.tag().ok()?;
    match c.peek() {
        Some(b' ' | b'\r' | b'\n') => Some(tag),
        _ => None,
    }
}

/// What the start of a command says before all of it has arrived.
pub(crate) enum Head {
    /// Nothing wrong so far; `append` when the command is APPEND.
    Fine {
        /// The command is APPEND.
        append: bool,
    },
    /// The tag or command name is bad.
    Bad(String),
}

/// Checks the tag and command name of a command that is still arriving,
/// so that a bad command is refused before its literal is read.
pub(crate) fn check_head(buf: &[u8]) -> Head {
    let mut c = Cursor::new(buf);
    let fail = |f: Fail| match f {
        Fail::Incomplete => Head::Fine { append: false },
        Fail::Bad(msg) => Head::Bad(msg),
    };
    if let Err(f) = c.tag() {
        return fail(f);
    }
    if let Err(f) = c.sp("command name") {
        return fail(f);
    }
    let name = match c.atom("command name") {
        Ok(name) => name,
        Err(f) => return fail(f),
    };
    if !known_command(name) {
        return Head::Bad(format!(
            "Unknown command {}",
            String::from_utf8_lossy(name).to_ascii_uppercase()
        ));
    }
    if name.eq_ignore_ascii_case(b"UID") && c.eat(b' ') {
        let sub = c.take_while(crate::grammar::cursor::is_atom_char);
        let ok = [&b"FETCH"[..], b"STORE", b"EXPUNGE"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(sub));
        if !sub.is_empty() && !ok {
            return Head::Bad(format!(
                "Unknown command UID {}",
                String::from_utf8_lossy(sub).to_ascii_uppercase()
            ));
        }
    }
    Head::Fine {
        append: name.eq_ignore_ascii_case(b"APPEND"),
    }
}

//! Finding where a command ends without parsing it: lines, literal
//! announcements at the end of lines, and the tag and name at the start.

use crate::cmd::{Grammar, head};
use crate::grammar::{Cursor, Fail};

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
    /// Nothing wrong so far; `streamed` for APPEND and REPLACE, whose
    /// message literals the caller streams.
    Fine {
        /// The command is APPEND, REPLACE or UID REPLACE.
        streamed: bool,
        /// The command's name as the table has it; empty when the head
        /// has not all arrived.
        name: &'static str,
    },
    /// The tag or command name is bad, or the command unknown.
    Bad(String),
}

/// Checks the tag and command name (and UID's sub-command) of a command
/// that is still arriving against the dispatch table, so that a bad
/// command is refused before its literal is read.
pub(crate) fn check_head(buf: &[u8], extensions: &[String]) -> Head {
    let mut c = Cursor::new(buf);
    match head(&mut c, extensions) {
        Ok((_, spec, _)) => Head::Fine {
            streamed: matches!(spec.grammar, Grammar::Streamed) && !spec.name.is_empty(),
            name: spec.name,
        },
        Err(Fail::Bad(msg)) => Head::Bad(msg),
        Err(_) => Head::Fine {
            streamed: false,
            name: "",
        },
    }
}

//! Status responses (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`, tagged or not,
//! with a response code) and continuation requests.

use crate::code::Code;

/// The kind of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// OK
    Ok,
    /// NO
    No,
    /// BAD
    Bad,
    /// BYE (untagged only)
    Bye,
    /// PREAUTH (greeting only)
    PreAuth,
}

impl StatusKind {
    /// The keyword on the wire.
    fn keyword(self) -> &'static str {
        match self {
            StatusKind::Ok => "OK",
            StatusKind::No => "NO",
            StatusKind::Bad => "BAD",
            StatusKind::Bye => "BYE",
            StatusKind::PreAuth => "PREAUTH",
        }
    }
}

/// Appends human-readable text with CR, LF and NUL replaced by spaces (a
/// response line must not be split by its text). Empty text becomes a
/// placeholder word so the line stays grammatical (`text` is 1*TEXT-CHAR).
pub(crate) fn text(out: &mut Vec<u8>, text: &str) {
    if text.is_empty() {
        out.extend_from_slice(b"done");
        return;
    }
    out.extend(text.bytes().map(|b| {
        if matches!(b, b'\r' | b'\n' | 0) {
            b' '
        } else {
            b
        }
    }));
}

/// Appends `a1 OK [CODE] text\r\n` (or `* NO ...` without a tag).
pub fn status_response(
    out: &mut Vec<u8>,
    tag: Option<&str>,
    kind: StatusKind,
    code: Option<&Code>,
    message: &str,
) {
    match tag {
        Some(tag) => text(out, tag),
        None => out.push(b'*'),
    }
    out.push(b' ');
    out.extend_from_slice(kind.keyword().as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.extend_from_slice(format!("[{code}] ").as_bytes());
    }
    text(out, message);
    out.extend_from_slice(b"\r\n");
}

/// Appends a continuation request `+ text\r\n`.
pub fn continuation(out: &mut Vec<u8>, message: &str) {
    out.extend_from_slice(b"+ ");
    text(out, message);
    out.extend_from_slice(b"\r\n");
}

/// Appends a continuation request carrying base64 data, `+ <base64>\r\n`
/// (an AUTHENTICATE challenge; empty data gives `+ \r\n`).
pub fn continuation_data(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"+ ");
    out.extend_from_slice(crate::base64_encode(data).as_bytes());
    out.extend_from_slice(b"\r\n");
}

//! Status responses and the untagged data lines that carry no message data.

use super::strings::{flag_list, write_mailbox_name};
use crate::command::StatusItem;

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
/// single space-free placeholder so the line stays grammatical.
fn text(out: &mut Vec<u8>, text: &str) {
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

/// Appends `a1 OK [CODE] text\r\n` (or `* NO ...` without a tag). The code
/// goes between brackets as given (e.g. `TOOBIG` or `UIDNEXT 5`); CR, LF and
/// `]` are dropped from it.
pub fn status_response(
    out: &mut Vec<u8>,
    tag: Option<&str>,
    kind: StatusKind,
    code: Option<&str>,
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
        out.push(b'[');
        out.extend(
            code.bytes()
                .filter(|&b| !matches!(b, b'\r' | b'\n' | b']' | 0)),
        );
        out.extend_from_slice(b"] ");
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

/// Appends `* CAPABILITY IMAP4rev2 ...\r\n`.
pub fn capability_line(out: &mut Vec<u8>, capabilities: &[&str]) {
    out.extend_from_slice(b"* CAPABILITY");
    for cap in capabilities {
        out.push(b' ');
        out.extend_from_slice(cap.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The body of a LIST or LSUB line.
fn mailbox_line(
    out: &mut Vec<u8>,
    kind: &str,
    attributes: &[&str],
    delimiter: Option<char>,
    name: &str,
) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b" (");
    out.extend_from_slice(attributes.join(" ").as_bytes());
    out.extend_from_slice(b") ");
    match delimiter {
        Some(d @ ('"' | '\\')) => out.extend_from_slice(format!("\"\\{d}\"").as_bytes()),
        Some(d) => out.extend_from_slice(format!("\"{d}\"").as_bytes()),
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    write_mailbox_name(out, name);
    out.extend_from_slice(b"\r\n");
}

/// Appends `* LIST (\HasNoChildren) "." INBOX\r\n`; `None` delimiter is NIL.
pub fn list_line(out: &mut Vec<u8>, attributes: &[&str], delimiter: Option<char>, name: &str) {
    mailbox_line(out, "LIST", attributes, delimiter, name);
}

/// Appends `* LSUB () "." name\r\n` (IMAP4rev1).
pub fn lsub_line(out: &mut Vec<u8>, attributes: &[&str], delimiter: Option<char>, name: &str) {
    mailbox_line(out, "LSUB", attributes, delimiter, name);
}

/// Appends `* STATUS name (MESSAGES 3 UIDNEXT 9)\r\n`.
pub fn status_line(out: &mut Vec<u8>, mailbox: &str, items: &[(StatusItem, u64)]) {
    out.extend_from_slice(b"* STATUS ");
    write_mailbox_name(out, mailbox);
    out.extend_from_slice(b" (");
    for (i, (item, value)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let name = match item {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
        };
        out.extend_from_slice(format!("{name} {value}").as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// Appends `* N EXISTS\r\n`.
pub fn exists(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(format!("* {n} EXISTS\r\n").as_bytes());
}

/// Appends `* N RECENT\r\n` (IMAP4rev1).
pub fn recent(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(format!("* {n} RECENT\r\n").as_bytes());
}

/// Appends `* SEQ EXPUNGE\r\n`.
pub fn expunge(out: &mut Vec<u8>, seq: u32) {
    out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
}

/// Appends `* FLAGS (\Seen ...)\r\n`.
pub fn flags_line(out: &mut Vec<u8>, flags: &[String]) {
    out.extend_from_slice(b"* FLAGS ");
    flag_list(out, flags);
    out.extend_from_slice(b"\r\n");
}

//! `* METADATA mailbox ...` (RFC 5464 §4.4): values answering
//! GETMETADATA, or the names of changed entries (unsolicited).

use super::strings::{Encoder, literal8_header};

/// Appends `* METADATA "" (/shared/comment "Shared comment")\r\n`. A
/// value with NUL is sent as a binary literal `~{n}`; `None` is NIL.
pub fn metadata(
    out: &mut Vec<u8>,
    enc: Encoder,
    mailbox: &str,
    entries: &[(String, Option<Vec<u8>>)],
) {
    out.extend_from_slice(b"* METADATA ");
    enc.mailbox(out, mailbox);
    out.extend_from_slice(b" (");
    for (i, (entry, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        enc.astring(out, entry.as_bytes());
        out.push(b' ');
        match value {
            Some(v) if v.contains(&0) => {
                literal8_header(out, v.len() as u64);
                out.extend_from_slice(v);
            }
            Some(v) => enc.string(out, v),
            None => out.extend_from_slice(b"NIL"),
        }
    }
    out.extend_from_slice(b")\r\n");
}

/// Appends `* METADATA INBOX /shared/comment /private/comment\r\n`: the
/// entries that changed (unsolicited, RFC 5464 §4.4.2).
pub fn metadata_changed(out: &mut Vec<u8>, enc: Encoder, mailbox: &str, entries: &[String]) {
    out.extend_from_slice(b"* METADATA ");
    enc.mailbox(out, mailbox);
    for entry in entries {
        out.push(b' ');
        enc.astring(out, entry.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

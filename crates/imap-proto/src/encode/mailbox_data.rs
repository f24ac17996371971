//! The selected mailbox's state: FLAGS, EXISTS, RECENT, EXPUNGE and
//! VANISHED (RFC 7162).

use super::strings::flag_list;
use crate::types::SequenceSet;

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

/// Appends `* VANISHED [(EARLIER)] uids\r\n` (RFC 7162 §3.2.10): EARLIER
/// when answering UID FETCH (VANISHED) or SELECT (QRESYNC), without it for
/// expunges as they happen. Nothing is written for an empty set.
pub fn vanished(out: &mut Vec<u8>, earlier: bool, uids: &SequenceSet) {
    if uids.is_empty() {
        return;
    }
    out.extend_from_slice(b"* VANISHED ");
    if earlier {
        out.extend_from_slice(b"(EARLIER) ");
    }
    out.extend_from_slice(format!("{uids}\r\n").as_bytes());
}

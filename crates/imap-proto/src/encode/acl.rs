//! The ACL responses of RFC 4314 §3.6–3.8: `* ACL`, `* LISTRIGHTS` and
//! `* MYRIGHTS`. Identifiers and rights are astrings (an empty one goes as
//! `""`), mailbox names in the connection's encoding.

use super::strings::Encoder;

/// Appends `* ACL mailbox identifier rights ...\r\n` (GETACL's answer;
/// `entries` are (identifier, rights) pairs).
pub fn acl(out: &mut Vec<u8>, enc: Encoder, mailbox: &str, entries: &[(String, String)]) {
    out.extend_from_slice(b"* ACL ");
    enc.mailbox(out, mailbox);
    for (identifier, rights) in entries {
        out.push(b' ');
        enc.astring(out, identifier.as_bytes());
        out.push(b' ');
        enc.astring(out, rights.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* LISTRIGHTS mailbox identifier required optional ...\r\n`:
/// the rights `identifier` always has, then each group that can be
/// granted (LISTRIGHTS's answer).
pub fn list_rights(
    out: &mut Vec<u8>,
    enc: Encoder,
    mailbox: &str,
    identifier: &str,
    required: &str,
    optional: &[String],
) {
    out.extend_from_slice(b"* LISTRIGHTS ");
    enc.mailbox(out, mailbox);
    out.push(b' ');
    enc.astring(out, identifier.as_bytes());
    out.push(b' ');
    enc.astring(out, required.as_bytes());
    for group in optional {
        out.push(b' ');
        enc.astring(out, group.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* MYRIGHTS mailbox rights\r\n` (MYRIGHTS's answer).
pub fn my_rights(out: &mut Vec<u8>, enc: Encoder, mailbox: &str, rights: &str) {
    out.extend_from_slice(b"* MYRIGHTS ");
    enc.mailbox(out, mailbox);
    out.push(b' ');
    enc.astring(out, rights.as_bytes());
    out.extend_from_slice(b"\r\n");
}

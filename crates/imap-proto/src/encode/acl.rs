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
        enc.astring(out, with_virtual_rights(rights).as_bytes());
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
    enc.astring(out, with_virtual_rights(required).as_bytes());
    for group in optional {
        out.push(b' ');
        enc.astring(out, group.as_bytes());
    }
    // The virtual rights, each grantable by itself: the rights are not
    // tied to each other.
    let grantable: String = optional.concat();
    for (virtual_right, members) in VIRTUAL_RIGHTS {
        let listed = required.contains(virtual_right) || grantable.contains(virtual_right);
        if !listed && grantable.contains(|c| members.contains(c)) {
            out.push(b' ');
            out.push(virtual_right as u8);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* MYRIGHTS mailbox rights\r\n` (MYRIGHTS's answer).
pub fn my_rights(out: &mut Vec<u8>, enc: Encoder, mailbox: &str, rights: &str) {
    out.extend_from_slice(b"* MYRIGHTS ");
    enc.mailbox(out, mailbox);
    out.push(b' ');
    enc.astring(out, with_virtual_rights(rights).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The obsolete rights of RFC 2086 and the rights each stands for (RFC
/// 4314 §2.1.1, the reading where `d` controls DELETE): `c` is `k`, `d`
/// is `x`, `t` and `e`, as the storage reads them in SETACL.
const VIRTUAL_RIGHTS: [(char, &str); 2] = [('c', "k"), ('d', "xte")];

/// `rights` with the virtual `c` and `d` added where one of their members
/// is in: RFC 4314 §2.1.1 has servers show them in ACL, MYRIGHTS and
/// LISTRIGHTS, so RFC 2086 clients see the rights they know.
pub(super) fn with_virtual_rights(rights: &str) -> String {
    let mut shown = rights.to_owned();
    for (virtual_right, members) in VIRTUAL_RIGHTS {
        if !shown.contains(virtual_right) && rights.contains(|c| members.contains(c)) {
            shown.push(virtual_right);
        }
    }
    shown
}

//! `* NAMESPACE personal other shared` (RFC 2342, RFC 9051 §7.3.5).

use super::list::delimiter;
use super::strings::Encoder;
use crate::mutf7::encode_mutf7;

/// One namespace: a name prefix and its hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDescr {
    /// The prefix, e.g. `""` for the personal namespace or `"#shared."`.
    pub prefix: String,
    /// The hierarchy delimiter; `None` is NIL.
    pub delimiter: Option<char>,
}

/// One of the three namespace lists: NIL when empty.
fn namespaces(out: &mut Vec<u8>, enc: Encoder, list: &[NamespaceDescr]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for ns in list {
        out.push(b'(');
        // A prefix is the start of mailbox names: same encoding, but the
        // grammar wants a `string`, never an atom.
        if enc.utf8 {
            enc.string(out, ns.prefix.as_bytes());
        } else {
            enc.string(out, encode_mutf7(&ns.prefix).as_bytes());
        }
        out.push(b' ');
        delimiter(out, ns.delimiter);
        out.push(b')');
    }
    out.push(b')');
}

/// Appends `* NAMESPACE (("" ".")) NIL NIL\r\n`.
pub fn namespace(
    out: &mut Vec<u8>,
    enc: Encoder,
    personal: &[NamespaceDescr],
    other_users: &[NamespaceDescr],
    shared: &[NamespaceDescr],
) {
    out.extend_from_slice(b"* NAMESPACE ");
    namespaces(out, enc, personal);
    out.push(b' ');
    namespaces(out, enc, other_users);
    out.push(b' ');
    namespaces(out, enc, shared);
    out.extend_from_slice(b"\r\n");
}

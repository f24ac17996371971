//! `* ID (...)` (RFC 2971): the server says who it is.

use super::strings::Encoder;

/// Appends `* ID ("name" "mailkeep" ...)\r\n`, or `* ID NIL\r\n` for
/// `None` (or an empty list, which the grammar allows but clients
/// mishandle).
pub fn id_response(out: &mut Vec<u8>, enc: Encoder, params: Option<&[(&str, Option<&str>)]>) {
    out.extend_from_slice(b"* ID ");
    match params {
        Some(params) if !params.is_empty() => {
            out.push(b'(');
            for (i, (field, value)) in params.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                enc.string(out, field.as_bytes());
                out.push(b' ');
                enc.nstring(out, value.map(str::as_bytes));
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
    out.extend_from_slice(b"\r\n");
}

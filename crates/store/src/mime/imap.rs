//! IMAP string syntax shared by ENVELOPE and BODYSTRUCTURE: `NIL`, quoted
//! strings and literals (RFC 9051 §4.3), so every producer quotes alike.

/// Appends `v` as an IMAP string: quoted when it is 7-bit text without
/// CR/LF, otherwise a literal `{N}\r\n...` so no byte is lost.
pub(crate) fn string(out: &mut Vec<u8>, v: &[u8]) {
    let quotable = v
        .iter()
        .all(|&b| !matches!(b, b'\r' | b'\n' | 0 | b'"' | b'\\') && b < 0x80);
    if quotable {
        out.push(b'"');
        for &b in v {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", v.len()).as_bytes());
        out.extend_from_slice(v);
    }
}

/// Appends `v` as an nstring: `NIL` when absent.
pub(crate) fn nstring(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"NIL"),
    }
}

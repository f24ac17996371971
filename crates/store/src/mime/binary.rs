//! Content-Transfer-Encoding decoding for BINARY[section] (RFC 3516):
//! tolerant base64 and quoted-printable; an unknown encoding is the typed
//! [`UnknownCte`], which the storage RPC reports as its own reason.

/// A part asked for decoded (BINARY) whose Content-Transfer-Encoding is
/// not one this server can undo: IMAP answers `NO [UNKNOWN-CTE]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("content-transfer-encoding {encoding:?} is not known")]
pub struct UnknownCte {
    /// The encoding as the part names it, lower-cased.
    pub encoding: String,
}

/// Decodes `body` sent with encoding `cte` (None: 7bit).
pub(crate) fn decode(body: &[u8], cte: Option<&[u8]>) -> Result<Vec<u8>, UnknownCte> {
    let cte = cte.map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase());
    match cte.as_deref() {
        None | Some("7bit" | "8bit" | "binary" | "") => Ok(body.to_vec()),
        Some("base64") => Ok(base64(body)),
        Some("quoted-printable") => Ok(quoted_printable(body)),
        Some(other) => Err(UnknownCte {
            encoding: other.to_owned(),
        }),
    }
}

/// Base64, skipping anything outside the alphabet; stops at `=`.
fn base64(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Quoted-printable: `=XX` escapes and soft line breaks; a bad escape is
/// kept as is.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match body.get(i + 1..i + 3) {
            Some([b'\r', b'\n']) => i += 3,
            Some([b'\n', _]) => i += 2,
            Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(*h) << 4 | hex(*l));
                i += 3;
            }
            _ if body.get(i + 1) == Some(&b'\n') => i += 2,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(
            decode(b"aGVs\r\nbG8=\r\n", Some(b"BASE64")).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode(b"a=3Db=\r\nc", Some(b"quoted-printable")).unwrap(),
            b"a=bc"
        );
        assert!(decode(b"x", Some(b"x-uuencode")).is_err());
    }
}

//! Modified UTF-7 (RFC 3501 §5.1.3): how mailbox names travel when the
//! client has not enabled UTF8=ACCEPT (or IMAP4rev2). Printable US-ASCII
//! stands for itself, `&` is `&-`, and every other run of characters is
//! `&` + base64 of its UTF-16BE with `,` for `/` and no padding + `-`.

/// The base64 alphabet of modified UTF-7.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII (raw 8-bit or a control byte).
    #[error("raw 8-bit or control characters are not allowed without UTF8=ACCEPT")]
    RawByte,
    /// A `&` section is malformed: no closing `-`, a byte outside the
    /// alphabet, leftover bits or broken UTF-16.
    #[error("invalid modified UTF-7")]
    Malformed,
    /// Valid but not the one spelling RFC 3501 allows (e.g. a printable
    /// character in base64, or two adjacent `&` sections).
    #[error("modified UTF-7 not in its canonical form")]
    NotCanonical,
}

/// The value of one base64 digit of the modified alphabet.
fn digit(b: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|p| u32::try_from(p).ok())
}

/// Encodes a UTF-8 name as modified UTF-7.
pub fn encode_mutf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut units: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut units);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut units);
    out
}

/// Writes a pending run of UTF-16 units as one `&...-` section.
fn flush(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits = 0;
    for unit in units.drain(..) {
        acc = (acc << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out.push('-');
}

/// Decodes a modified UTF-7 name, refusing anything but its canonical
/// spelling, so that one mailbox has exactly one name on the wire.
pub fn decode_mutf7(raw: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if !(0x20..=0x7e).contains(&b) {
            return Err(Mutf7Error::RawByte);
        }
        i += 1;
        if b != b'&' {
            out.push(char::from(b));
            continue;
        }
        let end = raw[i..]
            .iter()
            .position(|&c| c == b'-')
            .map(|p| i + p)
            .ok_or(Mutf7Error::Malformed)?;
        let section = &raw[i..end];
        i = end + 1;
        if section.is_empty() {
            out.push('&');
            continue;
        }
        let mut units = Vec::with_capacity(section.len() * 6 / 16);
        let mut acc: u32 = 0;
        let mut bits = 0;
        for &c in section {
            acc = (acc << 6) | digit(c).ok_or(Mutf7Error::Malformed)?;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                units.push(((acc >> bits) & 0xffff) as u16);
                acc &= (1 << bits) - 1;
            }
        }
        if bits >= 6 || acc != 0 {
            return Err(Mutf7Error::Malformed);
        }
        for c in char::decode_utf16(units) {
            out.push(c.map_err(|_| Mutf7Error::Malformed)?);
        }
    }
    if encode_mutf7(&out).as_bytes() != raw {
        return Err(Mutf7Error::NotCanonical);
    }
    Ok(out)
}

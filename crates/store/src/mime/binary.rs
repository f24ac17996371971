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
    let mut decoder = Decoder::new(cte)?;
    let mut out = Vec::with_capacity(body.len());
    decoder.feed(body, &mut out);
    decoder.finish(&mut out);
    Ok(out)
}

/// A transfer-encoding decoder fed a body piece by piece: a large part is
/// decoded as it is read from its file, never whole in memory. Fed in any
/// pieces, it gives the bytes [`decode`] gives for the whole body (which
/// is this decoder fed once).
#[derive(Debug, Clone)]
pub(crate) enum Decoder {
    /// 7bit, 8bit, binary: the bytes as they are.
    Identity,
    /// Base64, skipping anything outside the alphabet; stops at `=`.
    Base64 {
        /// Bits read but not yet given out (fewer than 8 of them).
        acc: u32,
        bits: u32,
        /// An `=` was read: the rest is padding or garbage.
        ended: bool,
    },
    /// Quoted-printable: `=XX` escapes and soft line breaks; a bad escape
    /// is kept as is.
    QuotedPrintable {
        /// The end of the last piece when it was an `=` whose meaning
        /// depends on what comes next (at most two bytes).
        held: Vec<u8>,
    },
}

impl Decoder {
    /// The decoder of encoding `cte` (None: 7bit).
    pub(crate) fn new(cte: Option<&[u8]>) -> Result<Decoder, UnknownCte> {
        let cte = cte.map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase());
        match cte.as_deref() {
            None | Some("7bit" | "8bit" | "binary" | "") => Ok(Decoder::Identity),
            Some("base64") => Ok(Decoder::Base64 {
                acc: 0,
                bits: 0,
                ended: false,
            }),
            Some("quoted-printable") => Ok(Decoder::QuotedPrintable { held: Vec::new() }),
            Some(other) => Err(UnknownCte {
                encoding: other.to_owned(),
            }),
        }
    }

    /// Decodes the next piece of the body onto `out`.
    pub(crate) fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        match self {
            Decoder::Identity => out.extend_from_slice(piece),
            Decoder::Base64 { acc, bits, ended } => base64(piece, acc, bits, ended, out),
            Decoder::QuotedPrintable { held } => {
                let mut piece = piece;
                if !held.is_empty() {
                    // The held `=` with the first bytes of this piece.
                    let before = held.len();
                    let take = piece.len().min(3);
                    held.extend_from_slice(&piece[..take]);
                    let used = quoted_printable(held, false, out);
                    if used < before {
                        // Still undecided: this piece was shorter than
                        // what the `=` needs, and is all held now.
                        held.drain(..used);
                        return;
                    }
                    held.clear();
                    piece = &piece[used - before..];
                }
                let used = quoted_printable(piece, false, out);
                held.extend_from_slice(&piece[used..]);
            }
        }
    }

    /// Ends the body: what was held for the next piece is decoded as the
    /// body's end.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if let Decoder::QuotedPrintable { held } = self {
            quoted_printable(held, true, out);
            held.clear();
        }
    }
}

/// What a byte is in base64: its value (0-63), [`SKIP`] for a byte
/// outside the alphabet, [`END`] for `=`.
const BASE64: [u8; 256] = {
    let mut table = [SKIP; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table[b'=' as usize] = END;
    table
};
const SKIP: u8 = 0xff;
const END: u8 = 0xfe;

/// Base64 of one piece onto `out`, carrying the bits left over.
fn base64(piece: &[u8], acc: &mut u32, bits: &mut u32, ended: &mut bool, out: &mut Vec<u8>) {
    if *ended {
        return;
    }
    out.reserve(piece.len() / 4 * 3 + 3);
    let mut rest = piece;
    while !rest.is_empty() {
        // Four letters at a quantum's start make three bytes at once (the
        // run of a well-formed line).
        if *bits == 0
            && let [a, b, c, d, ..] = *rest
        {
            let (a, b, c, d) = (
                BASE64[a as usize],
                BASE64[b as usize],
                BASE64[c as usize],
                BASE64[d as usize],
            );
            if (a | b | c | d) < 64 {
                let n = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
                out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
                rest = &rest[4..];
                continue;
            }
        }
        let v = BASE64[rest[0] as usize];
        rest = &rest[1..];
        match v {
            SKIP => continue,
            END => {
                *ended = true;
                return;
            }
            _ => {}
        }
        *acc = (*acc << 6) | u32::from(v);
        *bits += 6;
        if *bits >= 8 {
            *bits -= 8;
            out.push((*acc >> *bits) as u8);
            *acc &= (1 << *bits) - 1;
        }
    }
}

/// Quoted-printable of `body` onto `out`; returns how much of `body` was
/// decoded. Unless `last`, an `=` too near the end to be understood
/// (what follows decides) is left with what comes after it.
fn quoted_printable(body: &[u8], last: bool, out: &mut Vec<u8>) -> usize {
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'=' {
            // Up to the next `=` in one step.
            let next = memchr::memchr(b'=', &body[i..]).map_or(body.len(), |k| i + k);
            out.extend_from_slice(&body[i..next]);
            i = next;
            continue;
        }
        let undecided = match body.get(i + 1) {
            None => true,
            Some(b'\n') => false,
            Some(_) => body.get(i + 2).is_none(),
        };
        if undecided && !last {
            return i;
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
    body.len()
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

    /// Every way of cutting `body` in two or three pieces decodes as the
    /// whole does.
    fn same_in_pieces(body: &[u8], cte: &[u8]) {
        let whole = decode(body, Some(cte)).unwrap();
        for a in 0..=body.len() {
            for b in a..=body.len() {
                let mut decoder = Decoder::new(Some(cte)).unwrap();
                let mut out = Vec::new();
                for piece in [&body[..a], &body[a..b], &body[b..]] {
                    decoder.feed(piece, &mut out);
                }
                decoder.finish(&mut out);
                assert_eq!(out, whole, "{cte:?} {body:?} cut at {a} and {b}");
            }
        }
    }

    /// Base64 one byte at a time, as plainly as it can be written.
    fn base64_plainly(body: &[u8]) -> Vec<u8> {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
        for &b in body {
            if b == b'=' {
                break;
            }
            let Some(v) = alphabet.iter().position(|&a| a == b) else {
                continue;
            };
            acc = (acc << 6) | v as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    /// Quoted-printable one byte at a time over the whole body.
    fn quoted_printable_plainly(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            if body[i] != b'=' {
                out.push(body[i]);
                i += 1;
                continue;
            }
            match body.get(i + 1..i + 3) {
                Some([b'\r', b'\n']) => i += 3,
                Some([b'\n', _]) => i += 2,
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = |c: u8| (c as char).to_digit(16).unwrap() as u8;
                    out.push(hex(*h) << 4 | hex(*l));
                    i += 3;
                }
                _ if body.get(i + 1) == Some(&b'\n') => i += 2,
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            }
        }
        out
    }

    #[test]
    fn quoted_printable_in_random_pieces_decodes_as_one_byte_at_a_time() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let bytes = b"==\r\n3DaFfGz \t.";
        for _ in 0..2_000 {
            let len = rng.gen_range(0..60);
            let body: Vec<u8> = (0..len)
                .map(|_| bytes[rng.gen_range(0..bytes.len())])
                .collect();
            let mut decoder = Decoder::new(Some(b"quoted-printable")).unwrap();
            let mut out = Vec::new();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = rng.gen_range(1..=rest.len().min(4));
                decoder.feed(&rest[..n], &mut out);
                rest = &rest[n..];
            }
            decoder.finish(&mut out);
            assert_eq!(out, quoted_printable_plainly(&body), "{body:?}");
        }
    }

    #[test]
    fn base64_runs_decode_as_one_letter_at_a_time() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let letters = b"QUJDaGVsbG8+/09zZ \r\n!=";
        for _ in 0..500 {
            let len = rng.gen_range(0..300);
            // Mostly letters, with line ends, garbage and a rare `=`.
            let body: Vec<u8> = (0..len)
                .map(|_| match rng.gen_range(0..100) {
                    0 => b'=',
                    1..=4 => letters[rng.gen_range(0..letters.len())],
                    _ => letters[rng.gen_range(0..18)],
                })
                .collect();
            assert_eq!(
                decode(&body, Some(b"base64")).unwrap(),
                base64_plainly(&body),
                "{body:?}"
            );
        }
    }

    #[test]
    fn pieces_decode_as_the_whole() {
        for body in [
            &b"a=3Db=\r\nc=\nd=4"[..],
            b"=",
            b"==",
            b"=\r",
            b"=\n",
            b"=4",
            b"=4g",
            b"x=\r\n",
            b"=3D=3d=ZZ=\r\n=\n=",
            b"caf=C3=A9 =\r\nlong line=0D=0A",
        ] {
            same_in_pieces(body, b"quoted-printable");
        }
        for body in [
            &b"aGVs\r\nbG8=\r\n"[..],
            b"aGVsbG8gd29ybGQ=",
            b"a G V s !! b G 8",
            b"aGVs=bG8=",
            b"",
        ] {
            same_in_pieces(body, b"base64");
        }
    }
}

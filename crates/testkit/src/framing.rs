//! Where one response ends in the bytes from the server: at the CRLF of
//! its last line, after reading past every literal its lines announce.
//! Status responses and continuation requests carry text, never literals,
//! so a `{5}` at the end of their text is text.

/// Bounds on what the client reads, so that a broken server fails a test
/// instead of exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest line (without its literals).
    pub max_line: usize,
    /// The largest literal.
    pub max_literal: usize,
}

impl Default for Limits {
    /// 1 MiB lines, 256 MiB literals.
    fn default() -> Self {
        Limits {
            max_line: 1 << 20,
            max_literal: 256 << 20,
        }
    }
}

/// Why the bytes cannot be a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A line longer than [`Limits::max_line`].
    #[error("a response line longer than {0} bytes")]
    LineTooLong(usize),
    /// A literal larger than [`Limits::max_literal`].
    #[error("a literal of {size} bytes, over the limit of {limit}")]
    LiteralTooLarge {
        /// Its announced size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// The length of the first complete response in `buf`, or `None` if more
/// bytes are needed.
pub(crate) fn response_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, FramingError> {
    let mut pos = 0;
    let mut first = true;
    let mut may_have_literals = true;
    loop {
        let Some(nl) = memchr(b'\n', &buf[pos..]) else {
            if buf.len() - pos > limits.max_line {
                return Err(FramingError::LineTooLong(limits.max_line));
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + nl + 1];
        if line.len() > limits.max_line {
            return Err(FramingError::LineTooLong(limits.max_line));
        }
        if first {
            may_have_literals = !carries_text_only(line);
            first = false;
        }
        let end = pos + nl + 1;
        match literal_at_end(line).filter(|_| may_have_literals) {
            Some(size) if size > limits.max_literal => {
                return Err(FramingError::LiteralTooLarge {
                    size,
                    limit: limits.max_literal,
                });
            }
            Some(size) => {
                if buf.len() < end + size {
                    return Ok(None);
                }
                pos = end + size;
            }
            None => return Ok(Some(end)),
        }
    }
}

/// Whether the first line is a continuation request or a status response,
/// whose text never holds a literal.
fn carries_text_only(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    let mut words = line.split(|&b| b == b' ' || b == b'\r' || b == b'\n');
    let tag = words.next().unwrap_or_default();
    if tag != b"*" {
        return true;
    }
    let word = words.next().unwrap_or_default().to_ascii_uppercase();
    matches!(
        word.as_slice(),
        b"OK" | b"NO" | b"BAD" | b"PREAUTH" | b"BYE"
    )
}

/// The size of the literal (`{n}` or `~{n}`) a line ends with.
fn literal_at_end(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(buf: &[u8]) -> Option<usize> {
        response_len(buf, &Limits::default()).unwrap()
    }

    #[test]
    fn a_line_without_literals_ends_at_its_crlf() {
        assert_eq!(len(b"* 3 EXISTS\r\n* 4 EXISTS\r\n"), Some(12));
        assert_eq!(len(b"* 3 EXIS"), None);
    }

    #[test]
    fn literals_are_read_past_including_literal8() {
        let r = b"* 1 FETCH (BODY[] {5}\r\na\r\nb\n BINARY[1] ~{2}\r\nxy)\r\nnext";
        assert_eq!(len(r), Some(r.len() - 4));
        assert_eq!(len(&r[..25]), None);
    }

    #[test]
    fn status_text_ending_in_braces_is_not_a_literal() {
        let r = b"a1 NO [TOOBIG] refused {999}\r\n* OK x\r\n";
        assert_eq!(len(r), Some(30));
        assert_eq!(len(b"+ go on {3}\r\n"), Some(13));
    }

    #[test]
    fn oversized_lines_and_literals_are_refused() {
        let limits = Limits {
            max_line: 10,
            max_literal: 4,
        };
        assert!(matches!(
            response_len(b"* 1 FETCH (UID 1)", &limits),
            Err(FramingError::LineTooLong(10))
        ));
        assert!(matches!(
            response_len(b"* X {5}\r\n", &limits),
            Err(FramingError::LiteralTooLarge { size: 5, limit: 4 })
        ));
    }
}

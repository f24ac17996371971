//! The shared check for line-based command parsers with a pure
//! `parse(&[u8])` entry point (POP3, LMTP): a target for one is
//! `|data| line_protocol::commands(data, mailkeep_pop3::parse)`.

use std::fmt::Debug;

/// Runs `parse` on every line of `data` (its line ending included), on the
/// same line without its ending and on the line cut short at each of its
/// first 64 bytes: each is answered, and answered the same way twice (the
/// parser is pure).
pub fn commands<T, E>(data: &[u8], parse: fn(&[u8]) -> Result<T, E>)
where
    T: Debug + PartialEq,
    E: Debug + PartialEq,
{
    for line in data.split_inclusive(|&b| b == b'\n').take(64) {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        let cuts = (0..line.len().min(64)).map(|n| &line[..n]);
        for input in [line, bare].into_iter().chain(cuts) {
            assert_eq!(
                parse(input),
                parse(input),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::commands;

    fn parse_digits(line: &[u8]) -> Result<u32, String> {
        let text = std::str::from_utf8(line).map_err(|e| e.to_string())?;
        text.trim_end()
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    }

    #[test]
    fn a_pure_parser_passes_on_lines_and_their_prefixes() {
        commands(b"12\r\nx\r\n\xff\n99999999999\r\n", parse_digits);
    }
}

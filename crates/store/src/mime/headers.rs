//! Raw header fields of one header block, unfolded but not decoded: the
//! structure values are header values as sent (RFC 2047 words stay
//! encoded).

/// One header field: its name and its raw value with folding removed.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The field name as sent.
    pub name: String,
    /// The value, unfolded (CRLF before continuation lines removed), trimmed.
    pub value: Vec<u8>,
    /// Start of the field (name included) in the header block.
    pub start: usize,
    /// End of the field, its line ending included.
    pub end: usize,
}

/// Where one field of a header block lies, and its name: what a cut by
/// field names needs, found without copying anything.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpan<'a> {
    /// The field name as sent, trimmed.
    pub name: &'a [u8],
    /// Where the value starts (just after the colon) in the header block.
    pub value_start: usize,
    /// Start of the field (name included) in the header block.
    pub start: usize,
    /// End of the field, its line ending included.
    pub end: usize,
}

/// The fields of the header block `raw` (up to and maybe including the
/// empty line), in order. Lines without a colon, and names that are empty
/// or hold a space, are skipped, never fatal.
pub(crate) fn spans(raw: &[u8]) -> impl Iterator<Item = FieldSpan<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < raw.len() {
            let line_end = next_line(raw, pos);
            if trim_eol(&raw[pos..line_end]).is_empty() {
                pos = raw.len();
                return None; // the empty line ends the header
            }
            // A field continues over lines starting with space or tab.
            let mut end = line_end;
            while end < raw.len() && (raw[end] == b' ' || raw[end] == b'\t') {
                end = next_line(raw, end);
            }
            let start = std::mem::replace(&mut pos, end);
            let field = &raw[start..end];
            let Some(colon) = memchr::memchr(b':', field) else {
                continue;
            };
            let name = trim(&field[..colon]);
            if !name.is_empty() && !name.contains(&b' ') {
                return Some(FieldSpan {
                    name,
                    value_start: start + colon + 1,
                    start,
                    end,
                });
            }
        }
        None
    })
}

/// Splits the header block `raw` (up to and maybe including the empty
/// line) into fields with their values unfolded. Lines without a colon
/// are skipped, never fatal.
pub(crate) fn fields(raw: &[u8]) -> Vec<Field> {
    spans(raw)
        .map(|span| Field {
            name: String::from_utf8_lossy(span.name).into_owned(),
            value: unfolded(&raw[span.value_start..span.end]),
            start: span.start,
            end: span.end,
        })
        .collect()
}

/// A field's value with its line breaks removed (a fold's leading tab
/// shown as a space, as Dovecot shows it), trimmed.
fn unfolded(raw: &[u8]) -> Vec<u8> {
    let raw = trim(raw);
    let mut value = Vec::with_capacity(raw.len());
    let mut after_eol = false;
    for &b in raw {
        if b == b'\r' || b == b'\n' {
            after_eol = true;
            continue;
        }
        if after_eol {
            after_eol = false;
            value.push(if b == b'\t' { b' ' } else { b });
            continue;
        }
        value.push(b);
    }
    value
}

/// The first value of field `name` (case-insensitive).
pub(crate) fn first<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value.as_slice())
}

/// The first value of field `name` (case-insensitive) as it stands in
/// the header block `raw` the fields came from: line breaks of folding
/// kept, trimmed at both ends.
pub(crate) fn first_as_sent<'a>(raw: &'a [u8], fields: &[Field], name: &str) -> Option<&'a [u8]> {
    let f = fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))?;
    let field = raw.get(f.start..f.end)?;
    let colon = field.iter().position(|&b| b == b':')?;
    Some(trim(&field[colon + 1..]))
}

/// Where the header block of `raw` ends (after the empty line, or the end).
pub(crate) fn header_len(raw: &[u8]) -> usize {
    let mut pos = 0;
    while pos < raw.len() {
        let end = next_line(raw, pos);
        if trim_eol(&raw[pos..end]).is_empty() {
            return end;
        }
        pos = end;
    }
    raw.len()
}

fn next_line(raw: &[u8], from: usize) -> usize {
    match raw[from..].iter().position(|&b| b == b'\n') {
        Some(i) => from + i + 1,
        None => raw.len(),
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\r' | b'\n'] = l {
        l = rest;
    }
    l
}

/// `v` without leading and trailing spaces and tabs.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_unfolded_trimmed_and_end_at_the_empty_line() {
        let raw = b"Subject:  a\r\n\tfolded  \r\nbroken line\r\nX Bad: no\r\nTo:b\n \n: nameless\r\n\r\nBody: not a field\r\n";
        let got: Vec<(String, Vec<u8>)> =
            fields(raw).into_iter().map(|f| (f.name, f.value)).collect();
        assert_eq!(
            got,
            vec![
                ("Subject".to_string(), b"a folded".to_vec()),
                ("To".to_string(), b"b".to_vec()),
            ]
        );
    }

    #[test]
    fn spans_cover_each_field_with_its_continuation_lines() {
        let raw = b"A: 1\r\n 2\r\nno colon\r\nB:3\r\n\r\nC: 4\r\n";
        let got: Vec<(&[u8], &[u8])> = spans(raw).map(|s| (s.name, &raw[s.start..s.end])).collect();
        assert_eq!(
            got,
            vec![(&b"A"[..], &b"A: 1\r\n 2\r\n"[..]), (b"B", b"B:3\r\n")]
        );
        // A last field cut short by the end of the bytes is a field.
        let short: Vec<usize> = spans(b"A: 1\r\nB: 2").map(|s| s.end).collect();
        assert_eq!(short, vec![6, 10]);
        let value_of_b = spans(b"A: 1\r\nB: 2").nth(1).map(|s| s.value_start);
        assert_eq!(value_of_b, Some(8));
    }
}

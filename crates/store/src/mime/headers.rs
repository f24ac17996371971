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

/// Splits the header block `raw` (up to and maybe including the empty
/// line) into fields. Lines without a colon are skipped, never fatal.
pub(crate) fn fields(raw: &[u8]) -> Vec<Field> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let line_end = next_line(raw, pos);
        let line = &raw[pos..line_end];
        if trim_eol(line).is_empty() {
            break; // the empty line ends the header
        }
        // A field continues over lines starting with space or tab.
        let mut end = line_end;
        while end < raw.len() && (raw[end] == b' ' || raw[end] == b'\t') {
            end = next_line(raw, end);
        }
        let field = &raw[pos..end];
        if let Some(colon) = field.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&field[..colon]).trim().to_string();
            let mut value = Vec::with_capacity(field.len() - colon);
            let mut after_eol = false;
            for &b in &field[colon + 1..] {
                if b == b'\r' || b == b'\n' {
                    after_eol = true;
                    continue;
                }
                if after_eol {
                    after_eol = false;
                    // Dovecot shows the fold's leading tab as a space.
                    value.push(if b == b'\t' { b' ' } else { b });
                    continue;
                }
                value.push(b);
            }
            let value = trim(&value).to_vec();
            if !name.is_empty() && !name.contains(' ') {
                out.push(Field {
                    name,
                    value,
                    start: pos,
                    end,
                });
            }
        }
        pos = end;
    }
    out
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

//! ENVELOPE (RFC 9051 §7.5.2) from a raw header block: values as sent,
//! addresses split into (name adl mailbox host) with groups as RFC 3501
//! describes (a NIL-host start and end marker).

use super::headers;
use super::imap::nstring;

/// The ENVELOPE list, parentheses included, of the header block `raw`.
pub(crate) fn envelope(raw: &[u8]) -> Vec<u8> {
    let f = headers::fields(raw);
    let mut out = Vec::with_capacity(256);
    out.push(b'(');
    nstring(&mut out, headers::first(&f, "Date"));
    out.push(b' ');
    match headers::first(&f, "Subject") {
        // Dovecot sends an unfolded subject as a literal.
        Some(v) if headers::folded(&f, "Subject") => {
            out.extend_from_slice(format!("{{{}}}\r\n", v.len()).as_bytes());
            out.extend_from_slice(v);
        }
        v => nstring(&mut out, v),
    }
    let from = headers::first(&f, "From");
    for (name, fallback) in [
        ("From", None),
        ("Sender", from),
        ("Reply-To", from),
        ("To", None),
        ("Cc", None),
        ("Bcc", None),
    ] {
        out.push(b' ');
        let value = headers::first(&f, name)
            .filter(|v| !v.is_empty())
            .or(fallback);
        addresses(&mut out, value);
    }
    out.push(b' ');
    nstring(&mut out, headers::first(&f, "In-Reply-To"));
    out.push(b' ');
    nstring(&mut out, headers::first(&f, "Message-ID"));
    out.push(b')');
    out
}

fn addresses(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(value) = value else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let mut list = Vec::new();
    for item in split_top(value, b',') {
        let item = headers::trim(item);
        if item.is_empty() {
            continue;
        }
        // A group: "name: a, b;" (commas inside were split: handle colon here).
        if let Some(colon) = find_top(item, b':') {
            let group = headers::trim(&item[..colon]);
            list.push(Addr::start(group.to_vec()));
            let rest = headers::trim(&item[colon + 1..]);
            let (rest, ends) = strip_semicolon(rest);
            if !rest.is_empty() {
                list.push(mailbox(rest));
            }
            if ends {
                list.push(Addr::end());
            }
            continue;
        }
        let (item, ends) = strip_semicolon(item);
        if !item.is_empty() {
            list.push(mailbox(item));
        }
        if ends {
            list.push(Addr::end());
        }
    }
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in &list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.extend_from_slice(b" NIL ");
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

struct Addr {
    name: Option<Vec<u8>>,
    mailbox: Option<Vec<u8>>,
    host: Option<Vec<u8>>,
}

impl Addr {
    fn start(group: Vec<u8>) -> Addr {
        Addr {
            name: None,
            mailbox: Some(group),
            host: None,
        }
    }
    fn end() -> Addr {
        Addr {
            name: None,
            mailbox: None,
            host: None,
        }
    }
}

fn strip_semicolon(v: &[u8]) -> (&[u8], bool) {
    match v.last() {
        Some(b';') => (headers::trim(&v[..v.len() - 1]), true),
        _ => (v, false),
    }
}

/// One mailbox: `Name <local@host>` or `local@host (comment)`.
fn mailbox(item: &[u8]) -> Addr {
    let (name, spec) = match find_top(item, b'<') {
        Some(lt) => {
            let close = item[lt..]
                .iter()
                .position(|&b| b == b'>')
                .map_or(item.len(), |i| lt + i);
            let name = unquote(headers::trim(&item[..lt]));
            let name = (!name.is_empty()).then_some(name);
            (name, item[lt + 1..close].to_vec())
        }
        None => {
            // With no phrase, the comment is the display name (as Dovecot does).
            let name = comment(item).filter(|c| !c.is_empty());
            (name, strip_comments(item))
        }
    };
    let spec = headers::trim(&spec).to_vec();
    // A route "@a,@b:local@host" keeps only the address.
    let spec = match spec.iter().rposition(|&b| b == b':') {
        Some(i) if spec.first() == Some(&b'@') => spec[i + 1..].to_vec(),
        _ => spec,
    };
    let (mailbox, host) = match spec.iter().rposition(|&b| b == b'@') {
        Some(at) => (spec[..at].to_vec(), Some(spec[at + 1..].to_vec())),
        None => (spec, Some(Vec::new())),
    };
    let mailbox = unquote(&mailbox);
    Addr {
        name,
        mailbox: Some(mailbox),
        host,
    }
}

fn unquote(v: &[u8]) -> Vec<u8> {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        let mut out = Vec::with_capacity(v.len());
        let mut esc = false;
        for &b in &v[1..v.len() - 1] {
            if esc || b != b'\\' {
                out.push(b);
                esc = false;
            } else {
                esc = true;
            }
        }
        out
    } else {
        v.to_vec()
    }
}

fn comment(v: &[u8]) -> Option<Vec<u8>> {
    let open = v.iter().position(|&b| b == b'(')?;
    let close = v.iter().rposition(|&b| b == b')')?;
    (close > open).then(|| headers::trim(&v[open + 1..close]).to_vec())
}

fn strip_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut depth = 0usize;
    for &b in v {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    out
}

/// Splits at `sep` outside quotes, comments and angle brackets; a group's
/// `:` ... `;` keeps its members together only as far as commas allow,
/// which [`addresses`] handles.
fn split_top(v: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let (mut quote, mut depth, mut angle) = (false, 0usize, false);
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if quote {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                quote = false;
            }
        } else {
            match b {
                b'"' => quote = true,
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b'<' => angle = true,
                b'>' => angle = false,
                _ if b == sep && depth == 0 && !angle => {
                    out.push(&v[start..i]);
                    start = i + 1;
                }
                b';' if depth == 0 && !angle && sep == b',' => {
                    // A group end: split after it.
                    out.push(&v[start..=i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push(&v[start.min(v.len())..]);
    out
}

fn find_top(v: &[u8], want: u8) -> Option<usize> {
    let (mut quote, mut depth) = (false, 0usize);
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if quote {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                quote = false;
            }
        } else if b == b'"' {
            quote = true;
        } else if b == b'(' {
            depth += 1;
        } else if b == b')' {
            depth = depth.saturating_sub(1);
        } else if b == want && depth == 0 {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_envelope() {
        let raw = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: =?UTF-8?B?aGk=?=\r\nFrom: \"A B\" <a@b.example>\r\nTo: team: x@y.example, z@w.example;\r\n\r\n";
        let e = String::from_utf8(envelope(raw)).unwrap();
        assert_eq!(
            e,
            "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"=?UTF-8?B?aGk=?=\" ((\"A B\" NIL \"a\" \"b.example\")) ((\"A B\" NIL \"a\" \"b.example\")) ((\"A B\" NIL \"a\" \"b.example\")) ((NIL NIL \"team\" NIL)(NIL NIL \"x\" \"y.example\")(NIL NIL \"z\" \"w.example\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
    }
}

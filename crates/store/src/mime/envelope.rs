//! The envelope of a header block (RFC 9051 §7.5.2's fields): values as
//! sent, addresses split into name, mailbox and host, groups kept as
//! groups.

use super::headers;
use super::types::{Address, AddressEntry, AddressGroup, Envelope};

/// The envelope of the header block `raw`.
pub(crate) fn envelope(raw: &[u8]) -> Envelope {
    let f = headers::fields(raw);
    let value = |name: &str| headers::first(&f, name).map(<[u8]>::to_vec);
    let list = |name: &str| addresses(headers::first(&f, name));
    Envelope {
        date: value("Date"),
        subject: headers::first_as_sent(raw, &f, "Subject").map(<[u8]>::to_vec),
        from: list("From"),
        sender: list("Sender"),
        reply_to: list("Reply-To"),
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: value("In-Reply-To"),
        message_id: value("Message-ID"),
    }
}

/// The entries of an address list field's value (none when absent).
fn addresses(value: Option<&[u8]>) -> Vec<AddressEntry> {
    let Some(value) = value else {
        return Vec::new();
    };
    let mut list = Vec::new();
    // The group being filled: members go to it until its `;`.
    let mut group: Option<AddressGroup> = None;
    for item in split_top(value, b',') {
        let item = headers::trim(item);
        if item.is_empty() {
            continue;
        }
        // A group: "name: a, b;" (commas inside were split: handle colon here).
        let item = match find_top(item, b':') {
            Some(colon) if !item.starts_with(b"@") => {
                if let Some(open) = group.take() {
                    list.push(AddressEntry::Group(open));
                }
                group = Some(AddressGroup {
                    name: unquote(headers::trim(&item[..colon])),
                    members: Vec::new(),
                });
                headers::trim(&item[colon + 1..])
            }
            _ => item,
        };
        let (item, ends) = strip_semicolon(item);
        if !item.is_empty() {
            let a = mailbox(item);
            match group.as_mut() {
                Some(g) => g.members.push(a),
                None => list.push(AddressEntry::Mailbox(a)),
            }
        }
        if ends && let Some(closed) = group.take() {
            list.push(AddressEntry::Group(closed));
        }
    }
    // A group without its `;` ends with the field.
    if let Some(open) = group {
        list.push(AddressEntry::Group(open));
    }
    list
}

fn strip_semicolon(v: &[u8]) -> (&[u8], bool) {
    match v.last() {
        Some(b';') => (headers::trim(&v[..v.len() - 1]), true),
        _ => (v, false),
    }
}

/// One mailbox: `Name <local@host>` or `local@host (comment)`.
fn mailbox(item: &[u8]) -> Address {
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
        Some(at) => (spec[..at].to_vec(), spec[at + 1..].to_vec()),
        None => (spec, Vec::new()),
    };
    Address {
        name,
        route: None,
        mailbox: unquote(&mailbox),
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

    fn person(name: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(|n| n.as_bytes().to_vec()),
            route: None,
            mailbox: mailbox.as_bytes().to_vec(),
            host: host.as_bytes().to_vec(),
        }
    }

    #[test]
    fn envelope_values_are_as_sent_and_groups_stay_groups() {
        let raw = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: =?UTF-8?B?aGk=?=\r\n very long\r\nFrom: \"A B\" <a@b.example>\r\nTo: team: x@y.example, z@w.example;, solo (Solo)\r\n\r\n";
        let e = envelope(raw);
        assert_eq!(
            e.date.as_deref(),
            Some(&b"Mon, 1 Jan 2024 00:00:00 +0000"[..])
        );
        assert_eq!(
            e.subject.as_deref(),
            Some(&b"=?UTF-8?B?aGk=?=\r\n very long"[..])
        );
        let ann = person(Some("A B"), "a", "b.example");
        assert_eq!(e.from, vec![AddressEntry::Mailbox(ann)]);
        assert!(e.sender.is_empty() && e.reply_to.is_empty() && e.cc.is_empty());
        assert_eq!(
            e.to,
            vec![
                AddressEntry::Group(AddressGroup {
                    name: b"team".to_vec(),
                    members: vec![
                        person(None, "x", "y.example"),
                        person(None, "z", "w.example")
                    ],
                }),
                AddressEntry::Mailbox(person(Some("Solo"), "solo", "")),
            ]
        );
        assert_eq!(e.message_id, None);
    }

    #[test]
    fn a_group_left_open_ends_with_the_field() {
        let e = envelope(b"To: list: a@b, c@d\r\n\r\n");
        let [AddressEntry::Group(g)] = e.to.as_slice() else {
            panic!("{:?}", e.to)
        };
        assert_eq!(g.members.len(), 2);
    }
}

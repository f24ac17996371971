//! BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) of a raw message, built on
//! `mail-parser`'s part tree and offsets; values (id, description,
//! encoding, md5, location) come from the raw header fields as sent.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::envelope::envelope;
use super::headers;
use super::imap::{nstring, string};

/// Parses `raw` as a message; `None` only if mail-parser gives up, which
/// callers treat as a message without MIME structure.
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// BODYSTRUCTURE (`extended`) or BODY of the message `raw`.
pub(crate) fn structure(raw: &[u8], extended: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    match parse(raw) {
        Some(msg) if !msg.parts.is_empty() => part(&mut out, &msg, raw, 0, extended, false),
        _ => fallback(&mut out, raw, extended),
    }
    out
}

/// A text/plain structure for a message mail-parser could not split.
fn fallback(out: &mut Vec<u8>, raw: &[u8], extended: bool) {
    let body = &raw[headers::header_len(raw)..];
    out.extend_from_slice(b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" ");
    out.extend_from_slice(format!("{} {}", body.len(), lines(body)).as_bytes());
    if extended {
        out.extend_from_slice(b" NIL NIL NIL NIL");
    }
    out.push(b')');
}

fn lines(body: &[u8]) -> usize {
    body.iter().filter(|&&b| b == b'\n').count()
}

fn slice(raw: &[u8], from: u32, to: u32) -> &[u8] {
    let from = (from as usize).min(raw.len());
    let to = (to as usize).clamp(from, raw.len());
    &raw[from..to]
}

fn part(
    out: &mut Vec<u8>,
    msg: &Message<'_>,
    raw: &[u8],
    id: usize,
    extended: bool,
    in_digest: bool,
) {
    let Some(p) = msg.parts.get(id) else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let fields = headers::fields(slice(raw, p.offset_header, p.offset_body));
    let (ctype, csub) = match p.content_type() {
        Some(ct) => {
            // Case as sent (mail-parser lower-cases; Dovecot does not).
            let sent = headers::first(&fields, "Content-Type").unwrap_or_default();
            (
                as_sent(sent, ct.ctype()),
                as_sent(sent, ct.subtype().unwrap_or_default()),
            )
        }
        None if in_digest => ("message".to_string(), "rfc822".to_string()),
        None => ("text".to_string(), "plain".to_string()),
    };
    if let PartType::Multipart(children) = &p.body {
        out.push(b'(');
        let digest = csub.eq_ignore_ascii_case("digest");
        for &child in children {
            part(out, msg, raw, child as usize, extended, digest);
        }
        if children.is_empty() {
            // RFC 9051 needs at least one part: an empty text/plain one.
            out.extend_from_slice(
                b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0",
            );
            if extended {
                out.extend_from_slice(b" NIL NIL NIL NIL");
            }
            out.push(b')');
        }
        out.push(b' ');
        string(out, csub.as_bytes());
        if extended {
            out.push(b' ');
            params(out, p, &fields);
            ext_tail(out, p, &fields);
        }
        out.push(b')');
        return;
    }
    let body = slice(raw, p.offset_body, end_of(raw, p));
    out.push(b'(');
    string(out, ctype.as_bytes());
    out.push(b' ');
    string(out, csub.as_bytes());
    out.push(b' ');
    let has_params = p
        .content_type()
        .and_then(|ct| ct.attributes())
        .is_some_and(|a| !a.is_empty());
    if has_params || !ctype.eq_ignore_ascii_case("text") {
        params(out, p, &fields);
    } else {
        out.extend_from_slice(b"(\"charset\" \"us-ascii\")");
    }
    out.push(b' ');
    nstring(out, headers::first(&fields, "Content-ID"));
    out.push(b' ');
    nstring(out, headers::first(&fields, "Content-Description"));
    out.push(b' ');
    let cte = headers::first(&fields, "Content-Transfer-Encoding").unwrap_or(b"7bit");
    string(out, cte);
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    let is_message = ctype.eq_ignore_ascii_case("message")
        && (csub.eq_ignore_ascii_case("rfc822") || csub.eq_ignore_ascii_case("global"));
    if is_message {
        out.push(b' ');
        out.extend_from_slice(&envelope(&body[..headers::header_len(body)]));
        out.push(b' ');
        out.extend_from_slice(&structure(body, extended));
        out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
    } else if ctype.eq_ignore_ascii_case("text") {
        out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
    }
    if extended {
        out.push(b' ');
        nstring(out, headers::first(&fields, "Content-MD5"));
        ext_tail(out, p, &fields);
    }
    out.push(b')');
}

/// Disposition, language and location.
fn ext_tail(out: &mut Vec<u8>, p: &MessagePart<'_>, fields: &[headers::Field]) {
    out.push(b' ');
    match p.content_disposition() {
        Some(d) => {
            out.push(b'(');
            string(out, d.ctype().as_bytes());
            out.push(b' ');
            attrs(out, d.attributes());
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match headers::first(fields, "Content-Language") {
        Some(v) => {
            let langs: Vec<&[u8]> = v
                .split(|&b| b == b',')
                .map(headers::trim)
                .filter(|l| !l.is_empty())
                .collect();
            match langs.as_slice() {
                [] => out.extend_from_slice(b"NIL"),
                [one] => string(out, one),
                many => {
                    out.push(b'(');
                    for (i, l) in many.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        string(out, l);
                    }
                    out.push(b')');
                }
            }
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(out, headers::first(fields, "Content-Location"));
}

/// Content-Type parameters; the boundary is kept for multiparts.
fn params(out: &mut Vec<u8>, p: &MessagePart<'_>, fields: &[headers::Field]) {
    let sent = headers::first(fields, "Content-Type").unwrap_or_default();
    attrs_as_sent(out, p.content_type().and_then(|ct| ct.attributes()), sent);
}

/// `lower` in the case it was sent in `sent` (found case-insensitively).
fn as_sent(sent: &[u8], lower: &str) -> String {
    let n = lower.len();
    if n > 0 {
        for i in 0..sent.len().saturating_sub(n - 1) {
            if sent[i..i + n].eq_ignore_ascii_case(lower.as_bytes()) {
                return String::from_utf8_lossy(&sent[i..i + n]).into_owned();
            }
        }
    }
    lower.to_string()
}

/// Where a part's body ends for IMAP: a part ending in a closing boundary
/// (`--b--`) keeps the line ending after it, as Dovecot counts it.
pub(crate) fn end_of(raw: &[u8], p: &MessagePart<'_>) -> u32 {
    let end = (p.offset_end as usize).min(raw.len());
    let start = (p.offset_body as usize).min(end);
    if raw[start..end].ends_with(b"--") {
        let rest = &raw[end..];
        for eol in [&b"\r\n"[..], &b"\n"[..]] {
            if rest.starts_with(eol) && rest[eol.len()..].starts_with(b"--") {
                return p.offset_end + eol.len() as u32;
            }
        }
    }
    p.offset_end
}

fn attrs_as_sent(out: &mut Vec<u8>, list: Option<&[mail_parser::Attribute<'_>]>, sent: &[u8]) {
    match list {
        Some(list) if !list.is_empty() => {
            out.push(b'(');
            for (i, a) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, as_sent(sent, &a.name).as_bytes());
                out.push(b' ');
                string(out, a.value.as_bytes());
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
}

fn attrs(out: &mut Vec<u8>, attrs: Option<&[mail_parser::Attribute<'_>]>) {
    match attrs {
        Some(list) if !list.is_empty() => {
            out.push(b'(');
            for (i, a) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, a.name.as_bytes());
                out.push(b' ');
                string(out, a.value.as_bytes());
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
}

//! The body structure of a raw message (what IMAP shows as BODY and
//! BODYSTRUCTURE, RFC 9051 §7.5.2), built on `mail-parser`'s part tree and
//! offsets; values (id, description, encoding, md5, location) come from
//! the raw header fields as sent.

use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::envelope::envelope;
use super::headers;
use super::types::{
    BodyContent, BodyParam, BodyStructure, Disposition, EnclosedMessage, PartSpan, SinglePart,
};

/// How deep multiparts and enclosed messages may nest before a part is
/// described without its inner structure: bounds the work and the stack
/// here and in every reader of the structure (the storage RPC's messages
/// nest two levels per part level, under protobuf's limit of 100).
pub(crate) const MAX_NESTING: usize = 32;

/// Parses `raw` for its structure: parts, their types and where they lie,
/// with every body left as sent. Only Content-Type and
/// Content-Disposition are parsed (every other value is read from the
/// header as sent); Content-Transfer-Encoding above all is skipped, since
/// mail-parser decodes every body whose encoding it reads, and decoding a
/// 25 MB attachment only to learn where it ends took most of the time and
/// memory of a first FETCH BODYSTRUCTURE. A message that forwards another
/// in base64 or quoted-printable (rare) is parsed with decoding: undecoded,
/// mail-parser would read the encoded text as the forwarded message and
/// lose where the part ends. `None` only if mail-parser gives up, which
/// callers treat as a message without MIME structure.
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    static UNDECODED: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
        MessageParser::new()
            .header_content_type(HeaderName::ContentType)
            .header_content_type(HeaderName::ContentDisposition)
            .ignore_header(HeaderName::ContentTransferEncoding)
            .default_header_ignore()
    });
    let parsed = UNDECODED.parse(raw)?;
    if forwards_encoded(&parsed, 0) {
        return MessageParser::default().parse(raw);
    }
    Some(parsed)
}

/// Whether a message/rfc822 or message/global part of `m`, or of a
/// message forwarded in it, is sent with a transfer encoding.
fn forwards_encoded(m: &Message<'_>, depth: usize) -> bool {
    m.parts.iter().any(|p| {
        let encoded = p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                })
        }) && p.headers.iter().any(|h| {
            matches!(h.name, HeaderName::ContentTransferEncoding)
                && m.raw_message
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .is_some_and(|v| {
                        let v = headers::trim(v);
                        !(v.is_empty()
                            || ["7bit", "8bit", "binary"]
                                .iter()
                                .any(|plain| v.eq_ignore_ascii_case(plain.as_bytes())))
                    })
        });
        encoded
            || matches!(&p.body, PartType::Message(inner)
                if depth < MAX_NESTING && forwards_encoded(inner, depth + 1))
    })
}

/// The body structure of the message `raw`, which parsed as `parsed`.
pub(crate) fn structure(parsed: Option<&Message<'_>>, raw: &[u8]) -> BodyStructure {
    structure_at(parsed, raw, 0, 0)
}

/// The structure of the message `raw`, which starts at `base` in the
/// whole message (an enclosed message's spans count from the outermost).
fn structure_at(
    parsed: Option<&Message<'_>>,
    raw: &[u8],
    depth: usize,
    base: u64,
) -> BodyStructure {
    match parsed {
        Some(msg) if !msg.parts.is_empty() => {
            let mut described = vec![false; msg.parts.len()];
            part(msg, raw, 0, depth, false, base, &mut described)
        }
        _ => {
            let h = headers::header_len(raw);
            let body = &raw[h..];
            let mut part = plain_text(body.len() as u64, lines(body));
            part.span = PartSpan {
                header_start: base,
                body_start: base + h as u64,
                body_end: base + raw.len() as u64,
            };
            part
        }
    }
}

/// A text/plain us-ascii part of `size` bytes: for a message mail-parser
/// could not split, and the one child an empty multipart is given.
fn plain_text(size: u64, lines: u64) -> BodyStructure {
    BodyStructure {
        media_type: b"text".to_vec(),
        media_subtype: b"plain".to_vec(),
        params: vec![us_ascii()],
        disposition: None,
        language: Vec::new(),
        location: None,
        content: BodyContent::Single(SinglePart {
            encoding: b"7bit".to_vec(),
            size,
            lines,
            ..SinglePart::default()
        }),
        span: PartSpan::default(),
    }
}

/// An empty part at `at` (the child an empty multipart is given).
fn empty_at(at: u64) -> BodyStructure {
    BodyStructure {
        span: PartSpan {
            header_start: at,
            body_start: at,
            body_end: at,
        },
        ..plain_text(0, 0)
    }
}

fn us_ascii() -> BodyParam {
    BodyParam {
        name: b"charset".to_vec(),
        value: b"us-ascii".to_vec(),
    }
}

fn lines(body: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', body).count() as u64
}

fn slice(raw: &[u8], from: u32, to: u32) -> &[u8] {
    let from = (from as usize).min(raw.len());
    let to = (to as usize).clamp(from, raw.len());
    &raw[from..to]
}

/// The structure of part `id` of `msg` and of the parts inside it.
///
/// Each part is described once: `described` marks the parts already
/// taken, and a multipart's child that is marked is left out. mail-parser
/// gives a tree, each part listed by one multipart, for what it parses
/// well; for some malformed messages it lists a multipart, or one of its
/// ancestors, among the multipart's own children. Followed, such a cycle
/// doubled the structure at every level down to [`MAX_NESTING`]: a
/// message of 1.6 KB (found by the `mime_message` fuzz target) took
/// gigabytes, enough to end the storage process serving its owner.
fn part(
    msg: &Message<'_>,
    raw: &[u8],
    id: usize,
    depth: usize,
    in_digest: bool,
    base: u64,
    described: &mut [bool],
) -> BodyStructure {
    let Some(p) = msg.parts.get(id) else {
        return empty_at(base);
    };
    if let Some(seen) = described.get_mut(id) {
        *seen = true;
    }
    let span = span_of(raw, p, base);
    let fields = headers::fields(slice(raw, p.offset_header, p.offset_body));
    let sent_type = headers::first(&fields, "Content-Type").unwrap_or_default();
    let (ctype, csub) = match p.content_type() {
        // Case as sent (mail-parser lower-cases; Dovecot does not).
        Some(ct) => (
            as_sent(sent_type, ct.ctype()),
            as_sent(sent_type, ct.subtype().unwrap_or_default()),
        ),
        None if in_digest => (b"message".to_vec(), b"rfc822".to_vec()),
        None => (b"text".to_vec(), b"plain".to_vec()),
    };
    let too_deep = depth >= MAX_NESTING;
    let mut params = attrs_as_sent(p.content_type().and_then(|ct| ct.attributes()), sent_type);
    let (disposition, language, location) = extension(p, &fields);
    if let (PartType::Multipart(children), false) = (&p.body, too_deep) {
        let digest = csub.eq_ignore_ascii_case(b"digest");
        let mut parts: Vec<BodyStructure> = Vec::with_capacity(children.len());
        for &child in children {
            let child = child as usize;
            if described.get(child) != Some(&true) {
                parts.push(part(msg, raw, child, depth + 1, digest, base, described));
            }
        }
        if parts.is_empty() {
            let body_start = (p.offset_body as usize).min(raw.len()) as u64;
            parts.push(empty_at(base + body_start));
        }
        return BodyStructure {
            media_type: ctype,
            media_subtype: csub,
            params,
            disposition,
            language,
            location,
            content: BodyContent::Multipart(parts),
            span,
        };
    }
    let body = slice(raw, p.offset_body, end_of(raw, p));
    let is_message = super::types::is_message_type(&ctype, &csub);
    let (ctype, csub) = if too_deep && (is_message || matches!(p.body, PartType::Multipart(_))) {
        // Past the nesting limit a container is opaque data.
        params.clear();
        (b"application".to_vec(), b"octet-stream".to_vec())
    } else {
        (ctype, csub)
    };
    if params.is_empty() && ctype.eq_ignore_ascii_case(b"text") {
        params.push(us_ascii());
    }
    // The enclosed message starts where `body` does in the whole message.
    let enclosed_at = base + (p.offset_body as usize).min(raw.len()) as u64;
    let message = (is_message && !too_deep).then(|| {
        Box::new(EnclosedMessage {
            envelope: envelope(&body[..headers::header_len(body)]),
            body: structure_at(parse(body).as_ref(), body, depth + 1, enclosed_at),
        })
    });
    let value = |name: &str| headers::first(&fields, name).map(<[u8]>::to_vec);
    BodyStructure {
        media_type: ctype,
        media_subtype: csub,
        params,
        disposition,
        language,
        location,
        content: BodyContent::Single(SinglePart {
            id: value("Content-ID"),
            description: value("Content-Description"),
            encoding: value("Content-Transfer-Encoding").unwrap_or_else(|| b"7bit".to_vec()),
            size: body.len() as u64,
            lines: lines(body),
            md5: value("Content-MD5"),
            message,
        }),
        span,
    }
}

/// Where the part `p` of the message `raw` (at `base` in the whole
/// message) lies, clamped to the message.
fn span_of(raw: &[u8], p: &MessagePart<'_>, base: u64) -> PartSpan {
    let at = |v: u32| (v as usize).min(raw.len()) as u64;
    let header_start = at(p.offset_header);
    let body_start = at(p.offset_body).max(header_start);
    let body_end = at(end_of(raw, p)).max(body_start);
    PartSpan {
        header_start: base + header_start,
        body_start: base + body_start,
        body_end: base + body_end,
    }
}

/// Disposition, language and location of a part.
fn extension(
    p: &MessagePart<'_>,
    fields: &[headers::Field],
) -> (Option<Disposition>, Vec<Vec<u8>>, Option<Vec<u8>>) {
    let disposition = p.content_disposition().map(|d| Disposition {
        kind: d.ctype().as_bytes().to_vec(),
        params: d
            .attributes()
            .unwrap_or_default()
            .iter()
            .map(|a| BodyParam {
                name: a.name.as_bytes().to_vec(),
                value: a.value.as_bytes().to_vec(),
            })
            .collect(),
    });
    let language = headers::first(fields, "Content-Language")
        .map(|v| {
            v.split(|&b| b == b',')
                .map(headers::trim)
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        })
        .unwrap_or_default();
    let location = headers::first(fields, "Content-Location").map(<[u8]>::to_vec);
    (disposition, language, location)
}

/// `lower` in the case it was sent in `sent` (found case-insensitively).
fn as_sent(sent: &[u8], lower: &str) -> Vec<u8> {
    let n = lower.len();
    if n > 0 && sent.len() >= n {
        for i in 0..=sent.len() - n {
            if sent[i..i + n].eq_ignore_ascii_case(lower.as_bytes()) {
                return sent[i..i + n].to_vec();
            }
        }
    }
    lower.as_bytes().to_vec()
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

/// Content-Type parameters with their names in the case they were sent.
fn attrs_as_sent(list: Option<&[mail_parser::Attribute<'_>]>, sent: &[u8]) -> Vec<BodyParam> {
    list.unwrap_or_default()
        .iter()
        .map(|a| BodyParam {
            name: as_sent(sent, &a.name),
            value: a.value.as_bytes().to_vec(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_past_the_limit_is_opaque_and_does_not_recurse() {
        let depth = MAX_NESTING + 40;
        let mut raw = Vec::new();
        for i in 0..depth {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\nleaf\r\n");
        for i in (0..depth).rev() {
            raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
        }
        let mut s = structure(parse(&raw).as_ref(), &raw);
        let mut levels = 0;
        while let BodyContent::Multipart(mut parts) = s.content {
            levels += 1;
            s = parts.remove(0);
        }
        assert_eq!(levels, MAX_NESTING);
        assert_eq!(s.media_type, b"application");
    }

    fn parts_in(b: &BodyStructure) -> usize {
        1 + match &b.content {
            BodyContent::Multipart(parts) => parts.iter().map(parts_in).sum(),
            BodyContent::Single(single) => single.message.as_ref().map_or(0, |m| parts_in(&m.body)),
        }
    }

    #[test]
    fn a_multipart_listed_among_its_own_children_is_described_once() {
        // Found by the mime_message fuzz target: 1.6 KB for which
        // mail-parser lists the root and the multipart itself among that
        // multipart's children. Followed, the structure doubled at every
        // level down to the nesting limit (gigabytes).
        let raw = include_bytes!("../../../fuzz/corpus/mime_message/crash-cyclic-multipart");
        let parsed = parse(raw);
        let cyclic = parsed.as_ref().is_some_and(|m| {
            m.parts.iter().enumerate().any(|(i, p)| {
                matches!(&p.body, PartType::Multipart(children)
                    if children.iter().any(|&c| c as usize <= i))
            })
        });
        assert!(
            cyclic,
            "mail-parser no longer lists a part among its own children here"
        );
        let s = structure(parsed.as_ref(), raw);
        assert!(parts_in(&s) <= 16, "{} parts described", parts_in(&s));
        let BodyContent::Multipart(outer) = &s.content else {
            panic!("{s:?}");
        };
        let BodyContent::Multipart(inner) = &outer[0].content else {
            panic!("{s:?}");
        };
        assert_eq!(
            inner.len(),
            2,
            "the inner multipart keeps its two other parts"
        );
    }
}

//! BODY[section] and BINARY[section] (RFC 9051 §6.4.5, RFC 3516): finds
//! the part a section names, through nested message/rfc822 parts, and
//! cuts its bytes from the raw message.

use mail_parser::{MimeHeaders, PartType};

use super::bodystructure::parse;
use super::{SectionSpec, SectionText, binary, headers};
use crate::{Result, StoreError};

/// One located entity, offsets into the whole message.
struct Entity {
    header_start: usize,
    body_start: usize,
    body_end: usize,
    is_message: bool,
}

/// What a section names in a message: its bytes (before any partial
/// range) and, for a part's whole body, the encoding BINARY would undo.
pub(crate) struct Cut {
    /// The section's bytes as they are in the message.
    pub bytes: Vec<u8>,
    /// Set for a numbered part's body: its Content-Transfer-Encoding
    /// (`None` inside: none given, 7bit).
    pub encoding: Option<Option<Vec<u8>>>,
}

impl Cut {
    fn plain(bytes: Vec<u8>) -> Cut {
        Cut {
            bytes,
            encoding: None,
        }
    }

    /// The bytes with the transfer encoding undone (BINARY): only a part's
    /// body is ever encoded; other sections are returned as they are.
    pub(crate) fn decoded(self) -> std::result::Result<Vec<u8>, binary::UnknownCte> {
        match self.encoding {
            Some(cte) => binary::decode(&self.bytes, cte.as_deref()),
            None => Ok(self.bytes),
        }
    }
}

/// Finds `spec` in the message `raw` (before any partial range).
pub(crate) fn section(raw: &[u8], spec: &SectionSpec) -> Result<Cut> {
    if spec.parts.is_empty() {
        let h = headers::header_len(raw);
        return Ok(Cut::plain(match &spec.text {
            SectionText::Full => raw.to_vec(),
            SectionText::Mime => return Err(invalid("MIME needs a part number")),
            text => text_of(raw, 0, h, raw.len(), text),
        }));
    }
    let Some(e) = locate(raw, 0, raw.len(), &spec.parts) else {
        // A part the message does not have reads as empty, whatever of it
        // was asked (its MIME header, its text, its decoded size), as
        // Dovecot answers: a client that guessed a part number
        // from another message's structure gets an answer, not an error.
        return Ok(Cut::plain(Vec::new()));
    };
    Ok(match &spec.text {
        SectionText::Full => {
            let fields = headers::fields(&raw[e.header_start..e.body_start]);
            Cut {
                bytes: raw[e.body_start..e.body_end].to_vec(),
                encoding: Some(
                    headers::first(&fields, "Content-Transfer-Encoding").map(<[u8]>::to_vec),
                ),
            }
        }
        SectionText::Mime => Cut::plain(raw[e.header_start..e.body_start].to_vec()),
        text if e.is_message => {
            let h = e.body_start + headers::header_len(&raw[e.body_start..e.body_end]);
            Cut::plain(text_of(raw, e.body_start, h, e.body_end, text))
        }
        _ => Cut::plain(Vec::new()),
    })
}

fn invalid(what: &str) -> StoreError {
    StoreError::InvalidArgument(format!("section: {what}"))
}

/// HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT of the message at
/// `start..end` whose header ends at `h`.
fn text_of(raw: &[u8], start: usize, h: usize, end: usize, text: &SectionText) -> Vec<u8> {
    let header = &raw[start..h];
    match text {
        SectionText::Header => header.to_vec(),
        SectionText::Text => raw[h..end].to_vec(),
        SectionText::HeaderFields(names) | SectionText::HeaderFieldsNot(names) => {
            let keep = matches!(text, SectionText::HeaderFields(_));
            let mut out = Vec::new();
            for f in headers::fields(header) {
                let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&f.name));
                if listed == keep {
                    out.extend_from_slice(&header[f.start..f.end]);
                    if !out.ends_with(b"\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        }
        SectionText::Full | SectionText::Mime => raw[start..end].to_vec(),
    }
}

/// Follows `path` from the message at `start..end` of `raw`; `None` when
/// the message has no such part.
fn locate(raw: &[u8], start: usize, end: usize, path: &[u32]) -> Option<Entity> {
    let bytes = &raw[start..end];
    let Some(msg) = parse(bytes) else {
        // The structure shows a message mail-parser gives up on as one
        // text part (bodystructure.rs): that part is its body.
        return match path {
            [1] => Some(Entity {
                header_start: start,
                body_start: start + headers::header_len(bytes),
                body_end: end,
                is_message: false,
            }),
            _ => None,
        };
    };
    let at = |v: u32| (v as usize).min(bytes.len()) + start;
    // Where an enclosed message's bytes end: as the structure counts them.
    let enclosed_end =
        |p: &mail_parser::MessagePart<'_>| at(super::bodystructure::end_of(bytes, p));
    let mut id = 0usize;
    let mut root = true;
    // A part of a multipart/digest without a Content-Type is a message
    // (RFC 2046 §5.1.5), as the structure shows it.
    let mut in_digest = false;
    for (i, &n) in path.iter().enumerate() {
        let p = msg.parts.get(id)?;
        match &p.body {
            PartType::Multipart(children)
                if children.is_empty() && n == 1 && i + 1 == path.len() =>
            {
                // The structure gives a multipart without parts one empty
                // text part (RFC 9051's grammar needs one): empty here too.
                let here = at(p.offset_body);
                return Some(Entity {
                    header_start: here,
                    body_start: here,
                    body_end: here,
                    is_message: false,
                });
            }
            PartType::Multipart(children) => {
                let child = n.checked_sub(1).and_then(|k| children.get(k as usize))?;
                in_digest = is_digest(p);
                id = *child as usize;
            }
            _ if !root && is_message(p, in_digest) => {
                return locate(raw, at(p.offset_body), enclosed_end(p), &path[i..]);
            }
            _ if n == 1 => {}
            _ => return None,
        }
        root = false;
    }
    let p = msg.parts.get(id)?;
    let header_start = at(p.offset_header);
    let body_start = at(p.offset_body).max(header_start);
    let body_end = at(super::bodystructure::end_of(bytes, p)).max(body_start);
    Some(Entity {
        header_start,
        body_start,
        body_end,
        is_message: is_message(p, in_digest),
    })
}

/// Whether the part holds a message: mail-parser parsed one, or its type
/// says so, or it is an untyped part of a digest.
fn is_message(p: &mail_parser::MessagePart<'_>, in_digest: bool) -> bool {
    matches!(p.body, PartType::Message(_))
        || is_rfc822(p)
        || (in_digest && p.content_type().is_none())
}

fn is_digest(p: &mail_parser::MessagePart<'_>) -> bool {
    p.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
    })
}

fn is_rfc822(p: &mail_parser::MessagePart<'_>) -> bool {
    p.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            })
    })
}

#[cfg(test)]
mod tests {
    use crate::mime::{BodyContent, SectionSpec, SectionText, cut_section, parse_structure};

    /// BODY[path] of `raw`, which must be found.
    fn body(raw: &[u8], path: &[u32]) -> Vec<u8> {
        let spec = SectionSpec {
            parts: path.to_vec(),
            text: SectionText::Full,
            partial: None,
        };
        cut_section(raw, &spec).unwrap()
    }

    /// The size BODYSTRUCTURE gives the first leaf part.
    fn first_leaf_size(raw: &[u8]) -> u64 {
        let mut part = parse_structure(raw).body;
        loop {
            match part.content {
                BodyContent::Multipart(mut children) => part = children.remove(0),
                BodyContent::Single(single) => match single.message {
                    Some(enclosed) => part = enclosed.body,
                    None => return single.size,
                },
            }
        }
    }

    #[test]
    fn part_one_of_a_message_mail_parser_gives_up_on_is_its_body() {
        assert_eq!(body(b"", &[1]), b"");
        assert_eq!(first_leaf_size(b""), 0);
    }

    #[test]
    fn the_empty_part_the_structure_gives_an_empty_multipart_can_be_fetched() {
        // Found by the mime_message fuzz target (corpus: empty_multipart,
        // broken_boundary): BODYSTRUCTURE listed part 1, BODY[1] was NO.
        let raw = b"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e--\r\n";
        assert_eq!(body(raw, &[1]), b"");
        assert_eq!(first_leaf_size(raw), 0);
    }

    #[test]
    fn an_untyped_digest_part_is_a_message_in_sections_as_in_the_structure() {
        // Found by the mime_message fuzz target (corpus: crash-digest-part):
        // BODY[1.1] was the digest part's whole body while BODYSTRUCTURE
        // sized the enclosed message's (empty) body.
        let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\nFrom: A <a@example.org>\r\n\r\nFrom: A <a@example.org>\r\n";
        let inner = body(raw, &[1, 1]);
        assert_eq!(inner.len() as u64, first_leaf_size(raw));
        assert_eq!(inner, b"");
    }
}

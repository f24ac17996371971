//! BODY[section] and BINARY[section] (RFC 9051 §6.4.5, RFC 3516): finds
//! the part a section names in the message's structure, through nested
//! message/rfc822 parts, and cuts its bytes from the raw message at the
//! offsets the structure keeps (no parsing, no decoding of other parts).

use super::types::{BodyContent, BodyStructure, PartSpan, SinglePart};
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

/// Finds `spec` in the message `raw` (CRLF, as served) whose structure is
/// `body` (before any partial range). The structure is needed only when
/// the section names a part; without it, no part is found.
pub(crate) fn section(raw: &[u8], body: Option<&BodyStructure>, spec: &SectionSpec) -> Result<Cut> {
    if spec.parts.is_empty() {
        let h = headers::header_len(raw);
        return Ok(Cut::plain(match &spec.text {
            SectionText::Full => raw.to_vec(),
            SectionText::Mime => return Err(invalid("MIME needs a part number")),
            text => text_of(raw, 0, h, raw.len(), text),
        }));
    }
    let Some(e) = body.and_then(|body| locate(raw, body, &spec.parts)) else {
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
            for f in headers::spans(header) {
                let listed = names
                    .iter()
                    .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
                if listed == keep {
                    out.extend_from_slice(&header[f.start..f.end]);
                }
            }
            // A header fetch ends in the blank line, "except in the case
            // of a message which has no body and no blank line" (RFC 9051
            // §6.4.5). Fields are given as the message has them, a last
            // one cut short by its end included (as HEADER gives them).
            if ends_in_blank_line(header) {
                out.extend_from_slice(b"\r\n");
            }
            out
        }
        SectionText::Full | SectionText::Mime => raw[start..end].to_vec(),
    }
}

/// Whether a header block (as [`headers::header_len`] ends it) ends with
/// the blank line that separates it from a body.
fn ends_in_blank_line(header: &[u8]) -> bool {
    matches!(header, b"\n" | b"\r\n") || header.ends_with(b"\n\n") || header.ends_with(b"\n\r\n")
}

/// Where the part `path` of the message whose structure is `body` lies in
/// the message `raw`; `None` when the message has no such part.
fn locate(raw: &[u8], body: &BodyStructure, path: &[u32]) -> Option<Entity> {
    let part = part_at(body, path)?;
    let [header_start, body_start, body_end] =
        clamped(&part.span, raw.len() as u64).map(|v| usize::try_from(v).unwrap_or(raw.len()));
    Some(Entity {
        header_start,
        body_start,
        body_end,
        is_message: part.is_message_type(),
    })
}

/// Where a part lies in a message of `len` bytes (header start, body
/// start, body end): its span held within the message and in order, as
/// offsets that come from the cache are never trusted.
pub(super) fn clamped(span: &PartSpan, len: u64) -> [u64; 3] {
    let header_start = span.header_start.min(len);
    let body_start = span.body_start.min(len).max(header_start);
    let body_end = span.body_end.min(len).max(body_start);
    [header_start, body_start, body_end]
}

/// Follows `path` through the structure `body`; `None` when the message
/// has no such part. Numbers restart inside an enclosed message; a part
/// that is not a multipart is its own part 1.
pub(super) fn part_at<'a>(body: &'a BodyStructure, path: &[u32]) -> Option<&'a BodyStructure> {
    let mut part = body;
    let mut root = true;
    for &n in path {
        if !root
            && let BodyContent::Single(SinglePart {
                message: Some(m), ..
            }) = &part.content
        {
            part = &m.body;
        }
        match &part.content {
            BodyContent::Multipart(children) => {
                part = n.checked_sub(1).and_then(|k| children.get(k as usize))?;
            }
            BodyContent::Single(_) if n == 1 => {}
            BodyContent::Single(_) => return None,
        }
        root = false;
    }
    Some(part)
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
    fn header_fields_end_in_the_blank_line_only_when_the_message_has_it() {
        let fields = |raw: &[u8], not: bool| {
            let names = vec!["subject".to_string()];
            let text = if not {
                SectionText::HeaderFieldsNot(names)
            } else {
                SectionText::HeaderFields(names)
            };
            let spec = SectionSpec {
                parts: Vec::new(),
                text,
                partial: None,
            };
            cut_section(raw, &spec).unwrap()
        };
        // HEADER.FIELDS.NOT as Dovecot 2.3.19 answers; its HEADER.FIELDS
        // adds a line end to the first three and a blank line to the next
        // two, which have none (see known_differences.txt).
        for (raw, by_name, others) in [
            (&b"Subject: hi"[..], &b"Subject: hi"[..], &b""[..]),
            (b"X-A: b\r\nSubject: hi", b"Subject: hi", b"X-A: b\r\n"),
            (b"X-A: b", b"", b"X-A: b"),
            (
                b"Subject: hi\r\nX-A: b\r\n",
                b"Subject: hi\r\n",
                b"X-A: b\r\n",
            ),
            (b"Subject: hi\nX-A: b\n", b"Subject: hi\r\n", b"X-A: b\r\n"),
            (
                b"Subject: hi\r\nX-A: b\r\n\r\n",
                b"Subject: hi\r\n\r\n",
                b"X-A: b\r\n\r\n",
            ),
            (
                b"Subject: hi\nX-A: b\n\nbody",
                b"Subject: hi\r\n\r\n",
                b"X-A: b\r\n\r\n",
            ),
        ] {
            assert_eq!(fields(raw, false), by_name, "{raw:?}");
            assert_eq!(fields(raw, true), others, "{raw:?}");
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

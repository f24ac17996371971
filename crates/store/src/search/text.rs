//! Decoded text of a message for string keys: headers with RFC 2047 words
//! decoded, text bodies with transfer encoding and charset undone
//! (mail-parser does both), HTML with tags stripped, attachment names.
//! Only what a key reads is parsed: the top-level header for header keys,
//! and for BODY and TEXT the parts with their bodies as sent, then each
//! text part alone; an attachment is never decoded. Everything is
//! lower-cased once so matching is a plain substring test.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Address, Header, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::mime::{BodyContent, BodyStructure};

/// Folds text for case-insensitive matching and ordering as the
/// `i;unicode-casemap` comparator (RFC 5051) does, which I18NLEVEL=1 (RFC
/// 5255) makes the default of SEARCH and SORT: compatibility decomposition
/// (NFKD) and one case, so "É", "é" and "e\u{301}", "Ｍ" and "m" compare
/// equal. (RFC 5051 maps to titlecase; lower case gives the same classes
/// but for a few letters such as "ß", which stays apart from "SS".)
///
/// Runs of ASCII (most of most mail) are lower-cased byte by byte: NFKD
/// leaves them alone and, as ASCII letters never combine with what
/// follows, cutting the text there gives the same result as folding it
/// whole.
pub(crate) fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let start = out.len();
        out.push_str(&rest[..ascii]);
        out[start..].make_ascii_lowercase();
        rest = &rest[ascii..];
        // ASCII bytes never occur inside a multi-byte character, so this
        // cut is on a character boundary.
        let other = rest
            .bytes()
            .position(|b| b.is_ascii())
            .unwrap_or(rest.len());
        out.extend(rest[..other].nfkd().flat_map(char::to_lowercase).nfkd());
        rest = &rest[other..];
    }
    out
}

/// The lazily built, lower-cased text of one message.
pub(crate) struct MessageText<'a> {
    raw: &'a [u8],
    /// The top-level header alone, for keys that read nothing else (a
    /// SUBJECT or FROM search must not decode a 25 MB attachment).
    header_only: Option<Message<'a>>,
    /// The parts with their bodies left as sent, for finding the text
    /// parts without decoding the others.
    undecoded: Option<Option<Message<'a>>>,
    /// The message's cached structure, which tells where the parts lie
    /// without parsing; `raw` then holds as much of the file as the body
    /// text needs (see [`body_extent`]).
    structure: Option<&'a BodyStructure>,
    headers: Option<Vec<(String, String)>>,
    written_headers: Option<Vec<(String, String)>>,
    part_headers: Option<String>,
    body: Option<String>,
}

impl<'a> MessageText<'a> {
    /// Wraps a message's raw bytes; nothing is parsed yet.
    pub(crate) fn new(raw: &'a [u8]) -> MessageText<'a> {
        MessageText {
            raw,
            header_only: None,
            undecoded: None,
            structure: None,
            headers: None,
            written_headers: None,
            part_headers: None,
            body: None,
        }
    }

    /// Wraps the start of a message (as much as [`body_extent`] of its
    /// structure `root` says, with CRLF line ends as the structure counts
    /// them) for its header and body text: nothing is parsed yet, and its
    /// parts are found from the structure. Not for TEXT, which reads every
    /// part's header fields.
    pub(crate) fn with_structure(raw: &'a [u8], root: &'a BodyStructure) -> MessageText<'a> {
        MessageText {
            structure: Some(root),
            ..MessageText::new(raw)
        }
    }

    /// The message's parts with their bodies left as sent.
    fn parts(&mut self) -> Option<&Message<'a>> {
        let raw = self.raw;
        self.undecoded
            .get_or_insert_with(|| crate::mime::parse_undecoded(raw))
            .as_ref()
    }

    /// The message parsed as far as its top-level header.
    fn top(&mut self) -> Option<&Message<'a>> {
        if self.header_only.is_none() {
            self.header_only = MessageParser::default().parse_headers(self.raw);
        }
        self.header_only.as_ref()
    }

    /// The top-level header fields: (lower-cased name, folded decoded value).
    pub(crate) fn headers(&mut self) -> &[(String, String)] {
        if self.headers.is_none() {
            let list = match self.top() {
                Some(m) => m
                    .headers()
                    .iter()
                    .map(|h| (h.name().to_ascii_lowercase(), fold(&value_text(h.value()))))
                    .collect(),
                None => Vec::new(),
            };
            self.headers = Some(list);
        }
        self.headers.as_deref().unwrap_or(&[])
    }

    /// The top-level header fields as written: (lower-cased name, folded
    /// value unfolded with RFC 2047 words decoded). The parsed values of
    /// [`Self::headers`] keep only what mail-parser understood (a Received
    /// field's hosts, a Content-Type's parameters and a Date as written
    /// are not in them); a search must find those too.
    fn written_headers(&mut self) -> &[(String, String)] {
        if self.written_headers.is_none() {
            let list = match self.top() {
                // An unstructured field's parsed value is already its
                // text as written.
                Some(m) => m
                    .headers()
                    .iter()
                    .filter(|h| !matches!(h.value(), HeaderValue::Text(_)))
                    .map(|h| {
                        (
                            h.name().to_ascii_lowercase(),
                            fold(&written_value(&m.raw_message, h)),
                        )
                    })
                    .collect(),
                None => Vec::new(),
            };
            self.written_headers = Some(list);
        }
        self.written_headers.as_deref().unwrap_or(&[])
    }

    /// The folded header fields, as written, of every MIME part below
    /// the top level (a part's Content-Type and Content-Disposition, a
    /// forwarded message's own fields), one "name: value" per line: part
    /// of the message's text for TEXT (RFC 9051 §6.4.4: "header or body"),
    /// as the body of a multipart message holds them.
    pub(crate) fn part_headers(&mut self) -> &str {
        if self.part_headers.is_none() {
            let mut out = String::new();
            if let Some(m) = self.parts() {
                part_header_text(m, &mut out, 0);
            }
            self.part_headers = Some(fold(&out));
        }
        self.part_headers.as_deref().unwrap_or("")
    }

    /// The folded decoded text of every text part (HTML without tags) and
    /// the attachments' file names, joined by newlines; a forwarded
    /// message (`message/rfc822`) is body text of the message that carries
    /// it, its header fields and parts included.
    pub(crate) fn body(&mut self) -> &str {
        if self.body.is_none() {
            let mut out = String::new();
            let raw = self.raw;
            let parts = match self.structure {
                Some(root) => Some(structure_parts(root)),
                None => self.parts().map(|m| parsed_parts(m, raw)),
            };
            if let Some(parts) = parts {
                parts_text(&parts, raw, &mut out);
            }
            self.body = Some(fold(&out));
        }
        self.body.as_deref().unwrap_or("")
    }

    /// Whether any header named `name` (lower-case) contains `needle`
    /// (folded); an empty needle matches if the field exists.
    /// Both forms of the value count: parsed ([`Self::headers`]) and as
    /// written.
    pub(crate) fn header_contains(&mut self, name: &str, needle: &str) -> bool {
        let found =
            |list: &[(String, String)]| list.iter().any(|(n, v)| n == name && v.contains(needle));
        found(self.headers()) || found(self.written_headers())
    }

    /// Whether any header contains `needle` (folded), name or value, in
    /// either form of the value.
    pub(crate) fn any_header_contains(&mut self, needle: &str) -> bool {
        let found = |list: &[(String, String)]| {
            list.iter()
                .any(|(n, v)| n.contains(needle) || v.contains(needle))
        };
        found(self.headers()) || found(self.written_headers())
    }

    /// The Date: header as (UTC timestamp, its date in its own zone as
    /// days since the epoch), if present and parseable.
    pub(crate) fn sent_date(&mut self) -> Option<(i64, i64)> {
        let d = self.top()?.date()?;
        let local = d.to_timestamp_local();
        Some((d.to_timestamp(), local.div_euclid(86_400)))
    }
}

/// How deep forwarded messages are searched inside one another.
const MAX_ENCLOSED: usize = 8;

/// Appends the body text of `m` (see [`MessageText::body`]) to `out`.
fn body_text(m: &Message<'_>, out: &mut String, depth: usize) {
    for (i, part) in m.parts.iter().enumerate() {
        if i == 0 && part.is_multipart() {
            continue;
        }
        body_part(part, out, depth);
        if let Some(name) = part.attachment_name() {
            push_line(out, name);
        }
    }
}

/// Appends the text of one part (not its attachment name) of a message
/// `depth` levels of forwarding deep.
fn body_part(part: &mail_parser::MessagePart<'_>, out: &mut String, depth: usize) {
    match &part.body {
        PartType::Text(t) => push_line(out, t),
        PartType::Html(h) => push_line(out, &strip_tags(h)),
        PartType::Message(enclosed) => enclosed_text(enclosed, out, depth),
        _ => {}
    }
}

/// Appends the header fields and body text of a message forwarded inside
/// one `depth` levels deep.
fn enclosed_text(enclosed: &Message<'_>, out: &mut String, depth: usize) {
    if depth >= MAX_ENCLOSED {
        return;
    }
    for h in enclosed.headers() {
        out.push_str(h.name());
        out.push_str(": ");
        push_line(out, &value_text(h.value()));
    }
    body_text(enclosed, out, depth + 1);
}

fn is_message(part: &mail_parser::MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Message(_))
}

/// How much of a message whose structure is `root` its header and body
/// text need: up to the end of its last text part or forwarded message,
/// and of its last part's header (for attachment names).
pub(crate) fn body_extent(root: &BodyStructure) -> u64 {
    let mut end = root.span.body_start;
    for part in structure_parts(root) {
        let needed = if part.holds == Holds::Other {
            part.body
        } else {
            part.end
        };
        end = end.max(needed as u64);
    }
    end
}

/// What a part holds, as far as body text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// Text (plain, HTML or other): decoded and searched.
    Text,
    /// A forwarded message: its header fields and text searched.
    Message,
    /// A multipart inside the message, or an attachment: only its name.
    Other,
}

/// One part for [`parts_text`]: where its header, its body and its end
/// lie in the message, and what it holds.
struct PartAt {
    header: usize,
    body: usize,
    end: usize,
    holds: Holds,
}

/// The parts of the message `raw` as mail-parser found them with their
/// bodies left as sent (`m`), the top-level multipart left out.
fn parsed_parts(m: &Message<'_>, raw: &[u8]) -> Vec<PartAt> {
    let at = |offset: u32| (offset as usize).min(raw.len());
    m.parts
        .iter()
        .enumerate()
        .filter(|(i, part)| !(*i == 0 && part.is_multipart()))
        .map(|(_, part)| PartAt {
            header: at(part.offset_header),
            body: at(part.offset_body),
            end: at(part.offset_end),
            holds: match part.body {
                PartType::Text(_) | PartType::Html(_) => Holds::Text,
                PartType::Message(_) => Holds::Message,
                _ => Holds::Other,
            },
        })
        .collect()
}

/// The parts of a message whose cached structure is `root`, the
/// top-level multipart left out, in the order they are written.
fn structure_parts(root: &BodyStructure) -> Vec<PartAt> {
    fn visit(part: &BodyStructure, root: bool, out: &mut Vec<PartAt>) {
        let at = |offset: u64| usize::try_from(offset).unwrap_or(usize::MAX);
        let mut here = PartAt {
            header: at(part.span.header_start),
            body: at(part.span.body_start),
            end: at(part.span.body_end),
            holds: Holds::Other,
        };
        let kind = |t: &[u8]| part.media_type.eq_ignore_ascii_case(t);
        match &part.content {
            BodyContent::Multipart(children) => {
                if !root {
                    out.push(here);
                }
                for child in children {
                    visit(child, false, out);
                }
            }
            BodyContent::Single(_) => {
                here.holds = if kind(b"text") || kind(b"multipart") {
                    // A multipart without a boundary is read as text.
                    Holds::Text
                } else if part.is_message_type() {
                    Holds::Message
                } else {
                    Holds::Other
                };
                out.push(here);
            }
        }
    }
    let mut out = Vec::new();
    visit(root, true, &mut out);
    out
}

/// Appends the body text of the message `raw` whose parts are `parts`, as
/// [`body_text`] does: each text part and each forwarded message is
/// parsed again alone, its transfer encoding and charset undone; other
/// parts (attachments) are never decoded, only their names read.
fn parts_text(parts: &[PartAt], raw: &[u8], out: &mut String) {
    for part in parts {
        let end = part.end.min(raw.len());
        let (start, body) = (
            part.header.min(end),
            part.body.clamp(part.header.min(end), end),
        );
        if part.holds != Holds::Other {
            let alone = MessageParser::default().parse(&raw[start..end]);
            match alone.as_ref().and_then(|a| a.parts.first()) {
                Some(first) if (part.holds == Holds::Message) == is_message(first) => {
                    body_part(first, out, 0);
                }
                // A part of a digest is a message without saying so (RFC
                // 2046 §5.1.5); alone, its header does not tell.
                _ if part.holds == Holds::Message => {
                    if let Some(enclosed) = MessageParser::default().parse(&raw[body..end]) {
                        enclosed_text(&enclosed, out, 0);
                    }
                }
                _ => {}
            }
        }
        let header = MessageParser::default().parse_headers(&raw[start..body]);
        if let Some(name) = header.as_ref().and_then(|h| h.attachment_name()) {
            push_line(out, name);
        }
    }
}

/// Appends the header fields of `m`'s parts below its top level, and of
/// forwarded messages within it, as written (see
/// [`MessageText::part_headers`]).
fn part_header_text(m: &Message<'_>, out: &mut String, depth: usize) {
    for (i, part) in m.parts.iter().enumerate() {
        if i > 0 {
            for h in &part.headers {
                out.push_str(h.name());
                out.push_str(": ");
                push_line(out, &written_value(&m.raw_message, h));
            }
        }
        if let PartType::Message(enclosed) = &part.body
            && depth < MAX_ENCLOSED
        {
            for h in enclosed.headers() {
                out.push_str(h.name());
                out.push_str(": ");
                push_line(out, &written_value(&enclosed.raw_message, h));
            }
            part_header_text(enclosed, out, depth + 1);
        }
    }
}

/// A header field's value as written in `raw` (the bytes its offsets
/// point into): unfolded, RFC 2047 words decoded, nothing else parsed.
fn written_value(raw: &[u8], h: &Header<'_>) -> String {
    let Some(bytes) = raw.get(h.offset_start as usize..h.offset_end as usize) else {
        return String::new();
    };
    // The reader ends a value at a line end; the last field of a
    // message cut short may lack one.
    let owned;
    let bytes = if bytes.ends_with(b"\n") {
        bytes
    } else {
        owned = [bytes, b"\n"].concat();
        &owned
    };
    match MessageStream::new(bytes).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        _ => String::new(),
    }
}

fn push_line(out: &mut String, s: &str) {
    out.push_str(s);
    out.push('\n');
}

/// A header value as text: addresses as `name <addr>` lists.
pub(crate) fn value_text<'x>(v: &'x HeaderValue<'x>) -> Cow<'x, str> {
    match v {
        HeaderValue::Text(t) => Cow::Borrowed(t.as_ref()),
        HeaderValue::TextList(l) => Cow::Owned(l.join(" ")),
        HeaderValue::Address(a) => Cow::Owned(address_text(a)),
        HeaderValue::DateTime(d) => Cow::Owned(d.to_rfc822()),
        HeaderValue::ContentType(ct) => Cow::Owned(match ct.subtype() {
            Some(s) => format!("{}/{}", ct.ctype(), s),
            None => ct.ctype().to_string(),
        }),
        _ => Cow::Borrowed(""),
    }
}

fn address_text(a: &Address<'_>) -> String {
    let mut out = String::new();
    for addr in a.iter() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        if let Some(n) = addr.name() {
            out.push_str(n);
            out.push(' ');
        }
        if let Some(e) = addr.address() {
            out.push('<');
            out.push_str(e);
            out.push('>');
        }
    }
    out
}

/// Removes HTML tags (anything between `<` and `>`) and decodes the few
/// common entities; cheap and good enough for substring search.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    // Tags became spaces: collapse the runs so phrases still match.
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod casemap_tests {
    use super::fold;

    #[test]
    fn unicode_casemap_equates_case_composition_and_compatibility_forms() {
        assert_eq!(fold("CAFÉ"), fold("cafe\u{301}"));
        assert_eq!(fold("Ｍａｉｌ"), fold("mail"));
        assert_ne!(fold("mail"), fold("male"));
    }
}

#[cfg(test)]
mod tests {
    use super::fold;
    use unicode_normalization::UnicodeNormalization;

    /// Folding the text whole, without the ASCII shortcut.
    fn fold_whole(s: &str) -> String {
        s.nfkd().flat_map(char::to_lowercase).nfkd().collect()
    }

    #[test]
    fn the_ascii_shortcut_folds_as_the_whole_text_would() {
        for text in [
            "",
            "Plain ASCII Subject",
            "ÉCOLE and e\u{301}cole",
            "Ｍixed Ｆull-width AND \u{212a}elvin",
            "combining after ascii: a\u{308}\u{323}b and o\u{323}\u{308}",
            "Straße STRASSE",
            "ΣΊΣΥΦΟΣ ends in sigma",
        ] {
            assert_eq!(fold(text), fold_whole(text), "{text:?}");
        }
    }

    #[test]
    fn accents_width_and_case_fold_to_one_form() {
        assert_eq!(fold("É"), fold("e\u{301}"));
        assert_eq!(fold("Ｍ"), "m");
        assert_eq!(fold("HELLO World"), "hello world");
        assert_ne!(fold("ß"), fold("SS"));
    }
}

#[cfg(test)]
mod structure_tests {
    use super::*;

    #[test]
    fn body_text_from_the_structure_reads_up_to_the_last_text_and_equals_the_parsed() {
        let mut raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 periwinkle\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nlagoon\r\n\
--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        let attachment_at = raw.len();
        for _ in 0..1000 {
            raw.extend_from_slice(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n");
        }
        raw.extend_from_slice(b"--b--\r\n");
        let s = crate::mime::parse_structure(&raw);
        let extent = body_extent(&s.body) as usize;
        assert_eq!(extent, attachment_at, "up to the attachment's body");
        let from_structure = MessageText::with_structure(&raw[..extent], &s.body)
            .body()
            .to_string();
        let parsed = MessageText::new(&raw).body().to_string();
        assert_eq!(from_structure, parsed);
        assert!(parsed.contains(&fold("café periwinkle")) && parsed.contains("lagoon"));
        assert!(parsed.contains("r.pdf") && !parsed.contains("qujd"));
    }
}

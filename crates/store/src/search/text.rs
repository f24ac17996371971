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
            headers: None,
            written_headers: None,
            part_headers: None,
            body: None,
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
            if let Some(m) = self.parts() {
                text_parts(m, raw, &mut out);
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

/// Appends the body text of the message `raw`, parsed as `m` with its
/// bodies left as sent, as [`body_text`] does: each text part and each
/// forwarded message is parsed again alone, its transfer encoding and
/// charset undone; other parts (attachments) are never decoded.
fn text_parts(m: &Message<'_>, raw: &[u8], out: &mut String) {
    for (i, part) in m.parts.iter().enumerate() {
        if i == 0 && part.is_multipart() {
            continue;
        }
        if matches!(
            part.body,
            PartType::Text(_) | PartType::Html(_) | PartType::Message(_)
        ) {
            let at = |offset: u32| (offset as usize).min(raw.len());
            let (start, body, end) = (
                at(part.offset_header),
                at(part.offset_body),
                at(part.offset_end),
            );
            let alone = MessageParser::default().parse(&raw[start..end.max(start)]);
            match alone.as_ref().and_then(|a| a.parts.first()) {
                Some(first) if matches!(part.body, PartType::Message(_)) == is_message(first) => {
                    body_part(first, out, 0);
                }
                // A part of a digest is a message without saying so (RFC
                // 2046 §5.1.5); alone, its header does not tell.
                _ if matches!(part.body, PartType::Message(_)) => {
                    if let Some(enclosed) =
                        MessageParser::default().parse(&raw[body.min(end)..end.max(body)])
                    {
                        enclosed_text(&enclosed, out, 0);
                    }
                }
                _ => {}
            }
        }
        if let Some(name) = part.attachment_name() {
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

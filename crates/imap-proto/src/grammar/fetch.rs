//! FETCH's data items: `fetch-att` of RFC 9051 and the extensions
//! (CONDSTORE, BINARY, PREVIEW, OBJECTID, SAVEDATE), sections, partials
//! and the macros. NOTIFY's MessageNew takes the same items.

use super::cursor::{Cursor, Fail, PResult, bad};

/// A FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// FLAGS
    Flags,
    /// UID
    Uid,
    /// RFC822.SIZE
    Rfc822Size,
    /// INTERNALDATE
    InternalDate,
    /// ENVELOPE
    Envelope,
    /// BODY (non-extensible structure)
    Body,
    /// BODYSTRUCTURE
    BodyStructure,
    /// RFC822 (same as BODY[], sets \Seen)
    Rfc822,
    /// `RFC822.HEADER` (same as `BODY.PEEK[HEADER]`)
    Rfc822Header,
    /// `RFC822.TEXT` (same as `BODY[TEXT]`, sets \Seen)
    Rfc822Text,
    /// MODSEQ (RFC 7162)
    ModSeq,
    /// `BODY[section]<partial>` and `BODY.PEEK[...]`
    BodySection {
        /// BODY.PEEK: do not set \Seen.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.count>`.
        partial: Option<(u64, u64)>,
    },
    /// `BINARY[section]<partial>` and `BINARY.PEEK[...]` (RFC 3516)
    BinarySection {
        /// BINARY.PEEK.
        peek: bool,
        /// Part numbers.
        part: Vec<u32>,
        /// `<offset.count>`.
        partial: Option<(u64, u64)>,
    },
    /// `BINARY.SIZE[section]`
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
    },
    /// PREVIEW and PREVIEW (LAZY) (RFC 8970)
    Preview {
        /// LAZY: answer NIL rather than compute a preview now.
        lazy: bool,
    },
    /// EMAILID (RFC 8474)
    EmailId,
    /// THREADID (RFC 8474)
    ThreadId,
    /// SAVEDATE (RFC 8514)
    SaveDate,
}

/// A body section: part numbers and what of the part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, e.g. `[1, 2]` for `1.2`; empty for the whole message.
    pub part: Vec<u32>,
    /// HEADER, TEXT, MIME, ...; `None` for the part's whole content.
    pub text: Option<SectionText>,
}

/// What of a part a section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// HEADER
    Header,
    /// HEADER.FIELDS (names), upper-cased.
    HeaderFields(Vec<String>),
    /// HEADER.FIELDS.NOT (names), upper-cased.
    HeaderFieldsNot(Vec<String>),
    /// TEXT
    Text,
    /// MIME
    Mime,
}

/// The items FETCH asks for: a macro, one item or a parenthesised list.
pub(crate) fn fetch_items(c: &mut Cursor<'_>) -> PResult<Vec<FetchAttribute>> {
    use FetchAttribute as F;
    if c.eat(b'(') {
        let mut items = vec![fetch_att(c)?];
        loop {
            match c.peek() {
                Some(b')') => {
                    c.eat(b')');
                    return Ok(items);
                }
                Some(b' ') => {
                    c.sp("fetch item")?;
                    items.push(fetch_att(c)?);
                }
                None => return Err(Fail::Incomplete),
                Some(_) => return bad("Expected ')' or another fetch item"),
            }
        }
    }
    let save = c.pos();
    let name = att_name(c).to_ascii_uppercase();
    let expanded = match name.as_slice() {
        b"ALL" => Some(vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]),
        b"FAST" => Some(vec![F::Flags, F::InternalDate, F::Rfc822Size]),
        b"FULL" => Some(vec![
            F::Flags,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::Body,
        ]),
        _ => None,
    };
    match expanded {
        Some(items) => Ok(items),
        None => {
            // Not a macro: parse it again as one item.
            let mut again = c.rewound(save);
            let item = fetch_att(&mut again)?;
            *c = again;
            Ok(vec![item])
        }
    }
}

/// The name part of a fetch item: letters, digits and dots.
fn att_name<'a>(c: &mut Cursor<'a>) -> &'a [u8] {
    c.take_while(|b| b.is_ascii_alphanumeric() || b == b'.')
}

/// One `fetch-att`.
pub(crate) fn fetch_att(c: &mut Cursor<'_>) -> PResult<FetchAttribute> {
    use FetchAttribute as F;
    let raw = att_name(c);
    if raw.is_empty() {
        return match c.peek() {
            None => Err(Fail::Incomplete),
            Some(b'\r' | b'\n') => bad("Missing fetch item"),
            Some(_) => bad("Expected a fetch item"),
        };
    }
    let name = raw.to_ascii_uppercase();
    let item = match name.as_slice() {
        b"FLAGS" => F::Flags,
        b"UID" => F::Uid,
        b"RFC822.SIZE" => F::Rfc822Size,
        b"INTERNALDATE" => F::InternalDate,
        b"ENVELOPE" => F::Envelope,
        b"BODYSTRUCTURE" => F::BodyStructure,
        b"RFC822" => F::Rfc822,
        b"RFC822.HEADER" => F::Rfc822Header,
        b"RFC822.TEXT" => F::Rfc822Text,
        b"MODSEQ" => F::ModSeq,
        b"BODY" if c.peek() != Some(b'[') => F::Body,
        b"BODY" | b"BODY.PEEK" => {
            let section = section(c)?;
            let partial = partial(c)?;
            F::BodySection {
                peek: name.len() > 4,
                section,
                partial,
            }
        }
        b"BINARY" | b"BINARY.PEEK" => {
            let part = binary_section(c)?;
            let partial = partial(c)?;
            F::BinarySection {
                peek: name.len() > 6,
                part,
                partial,
            }
        }
        b"BINARY.SIZE" => F::BinarySize {
            part: binary_section(c)?,
        },
        b"PREVIEW" => {
            // `PREVIEW (LAZY)`; a `(` after PREVIEW that is not a preview
            // modifier is the command's fetch modifiers.
            let mut after = c.rewound(c.pos());
            let lazy = after.eat(b' ') && after.eat(b'(') && after.at_word("LAZY");
            if lazy {
                *c = after;
                c.paren_list_rest("preview modifier", |c| {
                    if c.eat_word("LAZY") {
                        Ok(())
                    } else {
                        bad("Unknown preview modifier")
                    }
                })?;
            }
            F::Preview { lazy }
        }
        b"EMAILID" => F::EmailId,
        b"THREADID" => F::ThreadId,
        b"SAVEDATE" => F::SaveDate,
        b"ALL" | b"FAST" | b"FULL" => {
            return bad("Macros ALL, FAST and FULL cannot be used in a list");
        }
        _ => {
            return bad(format!(
                "Unknown fetch item {}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    Ok(item)
}

/// Part numbers `1.2.3` followed by a dot and a letter or by the end.
/// Returns the numbers and whether a `.` + section text follows.
fn part_numbers(c: &mut Cursor<'_>) -> PResult<(Vec<u32>, bool)> {
    let mut part = Vec::new();
    loop {
        part.push(c.nz_number("section part number")?);
        if c.peek() != Some(b'.') {
            return Ok((part, false));
        }
        match c.peek2() {
            Some(d) if d.is_ascii_digit() => {
                c.eat(b'.');
            }
            Some(a) if a.is_ascii_alphabetic() => {
                c.eat(b'.');
                return Ok((part, true));
            }
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Invalid section part"),
        }
    }
}

/// A section spec on its own (`1.2`, `HEADER`, `1.HEADER.FIELDS (TO)`),
/// as IMAP URLs carry it.
pub(crate) fn parse_section(text: &str) -> Result<Section, crate::error::ParseError> {
    let framed = format!("[{text}]");
    let mut c = Cursor::new(framed.as_bytes());
    let section = section(&mut c).map_err(|f| match f {
        Fail::Bad(message) | Fail::No(_, message) => crate::error::ParseError::Syntax(message),
        Fail::Incomplete => crate::error::ParseError::Syntax("Incomplete section".into()),
    })?;
    if c.peek().is_some() {
        return Err(crate::error::ParseError::Syntax(
            "Trailing text after the section".into(),
        ));
    }
    Ok(section)
}

/// `section`: `[` [section-spec] `]`.
fn section(c: &mut Cursor<'_>) -> PResult<Section> {
    c.expect(b'[', "'[' to start the section")?;
    if c.eat(b']') {
        return Ok(Section::default());
    }
    let (part, has_text) = match c.peek() {
        Some(d) if d.is_ascii_digit() => part_numbers(c)?,
        _ => (Vec::new(), true),
    };
    let text = if has_text {
        Some(section_text(c, !part.is_empty())?)
    } else {
        None
    };
    c.expect(b']', "']' to end the section")?;
    Ok(Section { part, text })
}

/// `section-text` (MIME only after part numbers).
fn section_text(c: &mut Cursor<'_>, allow_mime: bool) -> PResult<SectionText> {
    let raw = c.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
    let name = raw.to_ascii_uppercase();
    match name.as_slice() {
        b"HEADER" => Ok(SectionText::Header),
        b"TEXT" => Ok(SectionText::Text),
        b"MIME" if allow_mime => Ok(SectionText::Mime),
        b"HEADER.FIELDS" => Ok(SectionText::HeaderFields(header_list(c)?)),
        b"HEADER.FIELDS.NOT" => Ok(SectionText::HeaderFieldsNot(header_list(c)?)),
        _ if raw.is_empty() && c.peek().is_none() => Err(Fail::Incomplete),
        _ => bad(format!(
            "Unknown section text {}",
            String::from_utf8_lossy(raw)
        )),
    }
}

/// `header-list`: SP `(` astring *(SP astring) `)`, upper-cased.
fn header_list(c: &mut Cursor<'_>) -> PResult<Vec<String>> {
    c.sp("header field list")?;
    c.expect(b'(', "'(' to start the header field list")?;
    let mut names = Vec::new();
    loop {
        let name = c.astring("header field name")?;
        if name.is_empty() || !name.iter().all(|b| (0x21..=0x7e).contains(b) && *b != b':') {
            return bad("Invalid header field name");
        }
        names.push(String::from_utf8_lossy(&name).to_ascii_uppercase());
        match c.peek() {
            Some(b')') => {
                c.eat(b')');
                return Ok(names);
            }
            Some(b' ') => c.sp("header field name")?,
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected ')' or another header field name"),
        }
    }
}

/// `section-binary`: `[` [part numbers] `]`.
fn binary_section(c: &mut Cursor<'_>) -> PResult<Vec<u32>> {
    c.expect(b'[', "'[' to start the binary section")?;
    if c.eat(b']') {
        return Ok(Vec::new());
    }
    let (part, has_text) = part_numbers(c)?;
    if has_text {
        return bad("BINARY sections take part numbers only");
    }
    c.expect(b']', "']' to end the section")?;
    Ok(part)
}

/// `partial`: `<offset.count>`, count non-zero.
fn partial(c: &mut Cursor<'_>) -> PResult<Option<(u64, u64)>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let offset = c.number("partial offset")?;
    c.expect(b'.', "'.' in partial")?;
    let count = c.number("partial length")?;
    if count == 0 {
        return bad("Invalid partial length: zero is not allowed");
    }
    c.expect(b'>', "'>' to end the partial")?;
    Ok(Some((offset, count)))
}

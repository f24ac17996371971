//! `* N FETCH (...)` responses, built item by item so that message bodies
//! are streamed by the caller between the parts the builder writes.

use super::strings::{astring, flag_list};
use crate::command::{DateTime, FetchAttribute, SectionText};
use crate::datetime::format_date_time;

/// Builds one FETCH response. Items are appended in call order to an
/// internal buffer; to stream a body, call [`FetchResponse::literal_header`],
/// write out [`FetchResponse::take`], send the literal's bytes, then go on
/// adding items and end with [`FetchResponse::finish`].
///
/// ```
/// # use mailkeep_imap_proto::FetchResponse;
/// let mut r = FetchResponse::new(3);
/// r.uid(42).literal_header("BODY[]", 5);
/// let mut wire = r.take();
/// wire.extend_from_slice(b"hello"); // streamed by the caller
/// wire.extend_from_slice(&r.finish());
/// assert_eq!(wire, b"* 3 FETCH (UID 42 BODY[] {5}\r\nhello)\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct FetchResponse {
    buf: Vec<u8>,
    first: bool,
}

impl FetchResponse {
    /// Starts `* seq FETCH (`.
    pub fn new(seq: u32) -> FetchResponse {
        FetchResponse {
            buf: format!("* {seq} FETCH (").into_bytes(),
            first: true,
        }
    }

    /// Writes the separator and the item's name.
    fn item(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b' ');
        }
        self.first = false;
        self.buf.extend_from_slice(name.as_bytes());
        &mut self.buf
    }

    /// `UID n`.
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.item("UID")
            .extend_from_slice(format!(" {uid}").as_bytes());
        self
    }

    /// `FLAGS (...)`.
    pub fn flags(&mut self, flags: &[String]) -> &mut Self {
        let out = self.item("FLAGS ");
        flag_list(out, flags);
        self
    }

    /// `RFC822.SIZE n`.
    pub fn rfc822_size(&mut self, size: u64) -> &mut Self {
        self.item("RFC822.SIZE")
            .extend_from_slice(format!(" {size}").as_bytes());
        self
    }

    /// `INTERNALDATE "17-Jul-1996 02:44:25 -0700"`.
    pub fn internal_date(&mut self, date: DateTime) -> &mut Self {
        let text = format_date_time(date);
        self.item("INTERNALDATE")
            .extend_from_slice(format!(" \"{text}\"").as_bytes());
        self
    }

    /// `MODSEQ (n)` (RFC 7162).
    pub fn modseq(&mut self, modseq: u64) -> &mut Self {
        self.item("MODSEQ")
            .extend_from_slice(format!(" ({modseq})").as_bytes());
        self
    }

    /// `BINARY.SIZE[part] n`; `name` from [`FetchResponse::section_name`].
    pub fn number(&mut self, name: &str, value: u64) -> &mut Self {
        self.item(name)
            .extend_from_slice(format!(" {value}").as_bytes());
        self
    }

    /// `NAME value` with `value` already encoded by the caller (ENVELOPE,
    /// BODYSTRUCTURE and other structured items).
    pub fn raw(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let out = self.item(name);
        out.push(b' ');
        out.extend_from_slice(value);
        self
    }

    /// `NAME NIL`, e.g. for a section that does not exist.
    pub fn nil(&mut self, name: &str) -> &mut Self {
        self.item(name).extend_from_slice(b" NIL");
        self
    }

    /// `NAME {len}\r\n`: the caller then sends exactly `len` bytes itself
    /// (after writing out [`FetchResponse::take`]).
    pub fn literal_header(&mut self, name: &str, len: u64) -> &mut Self {
        self.item(name)
            .extend_from_slice(format!(" {{{len}}}\r\n").as_bytes());
        self
    }

    /// `NAME ~{len}\r\n`: a binary literal (RFC 3516) for BINARY data that
    /// contains NUL; the caller sends the bytes.
    pub fn literal8_header(&mut self, name: &str, len: u64) -> &mut Self {
        self.item(name)
            .extend_from_slice(format!(" ~{{{len}}}\r\n").as_bytes());
        self
    }

    /// `NAME {len}\r\n<data>` for small data the caller already holds.
    pub fn literal(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.literal_header(name, data.len() as u64);
        self.buf.extend_from_slice(data);
        self
    }

    /// Everything written so far, leaving the builder ready for more items.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The rest of the response, ending in `)\r\n`.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b")\r\n");
        self.buf
    }

    /// The name a response uses for a requested item: `BODY.PEEK[...]`
    /// is answered as `BODY[...]`, a partial as `<offset>`, header field
    /// names as astrings, e.g. `BODY[HEADER.FIELDS (FROM TO)]<0>`.
    pub fn section_name(attr: &FetchAttribute) -> String {
        use FetchAttribute as F;
        let fixed = match attr {
            F::Flags => "FLAGS",
            F::Uid => "UID",
            F::Rfc822Size => "RFC822.SIZE",
            F::InternalDate => "INTERNALDATE",
            F::Envelope => "ENVELOPE",
            F::Body => "BODY",
            F::BodyStructure => "BODYSTRUCTURE",
            F::Rfc822 => "RFC822",
            F::Rfc822Header => "RFC822.HEADER",
            F::Rfc822Text => "RFC822.TEXT",
            F::ModSeq => "MODSEQ",
            F::BodySection {
                section, partial, ..
            } => {
                let mut out = b"BODY[".to_vec();
                out.extend_from_slice(part_text(&section.part).as_bytes());
                if let Some(text) = &section.text {
                    if !section.part.is_empty() {
                        out.push(b'.');
                    }
                    match text {
                        SectionText::Header => out.extend_from_slice(b"HEADER"),
                        SectionText::Text => out.extend_from_slice(b"TEXT"),
                        SectionText::Mime => out.extend_from_slice(b"MIME"),
                        SectionText::HeaderFields(names) => {
                            header_list(&mut out, b"HEADER.FIELDS", names)
                        }
                        SectionText::HeaderFieldsNot(names) => {
                            header_list(&mut out, b"HEADER.FIELDS.NOT", names)
                        }
                    }
                }
                out.push(b']');
                push_origin(&mut out, *partial);
                return String::from_utf8_lossy(&out).into_owned();
            }
            F::BinarySection { part, partial, .. } => {
                let mut out = format!("BINARY[{}]", part_text(part)).into_bytes();
                push_origin(&mut out, *partial);
                return String::from_utf8_lossy(&out).into_owned();
            }
            F::BinarySize { part } => return format!("BINARY.SIZE[{}]", part_text(part)),
        };
        fixed.to_string()
    }
}

/// `1.2.3`.
fn part_text(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `KEYWORD (NAME NAME)`.
fn header_list(out: &mut Vec<u8>, keyword: &[u8], names: &[String]) {
    out.extend_from_slice(keyword);
    out.extend_from_slice(b" (");
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        astring(out, name.as_bytes());
    }
    out.push(b')');
}

/// `<offset>` for a partial fetch.
fn push_origin(out: &mut Vec<u8>, partial: Option<(u64, u64)>) {
    if let Some((offset, _)) = partial {
        out.extend_from_slice(format!("<{offset}>").as_bytes());
    }
}

//! `* N FETCH (...)` and `* UID UIDFETCH (...)` (RFC 9586) responses,
//! built item by item so that message bodies are streamed by the caller
//! between the parts the builder writes.

use super::strings::{Encoder, flag_list, literal_header, literal8_header};
use super::structure::{BodyStructure, Envelope, write_body, write_bodystructure, write_envelope};
use crate::datetime::format_date_time;
use crate::grammar::fetch::{FetchAttribute, SectionText};
use crate::types::DateTime;

/// Builds one FETCH response. Items are appended in call order to an
/// internal buffer; to stream a body, call [`FetchResponse::literal_header`]
/// (or [`FetchResponse::literal8_header`]), write out
/// [`FetchResponse::take`], send the literal's bytes, then go on adding
/// items and end with [`FetchResponse::finish`].
///
/// ```
/// # use mailkeep_imap_proto::{Encoder, FetchResponse};
/// let mut r = FetchResponse::new(3, Encoder::ASCII);
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
    enc: Encoder,
}

impl FetchResponse {
    /// Starts `* seq FETCH (`.
    pub fn new(seq: u32, enc: Encoder) -> FetchResponse {
        FetchResponse::head(seq, b" FETCH (", enc)
    }

    /// Starts `* uid UIDFETCH (` for a client that enabled UIDONLY
    /// (RFC 9586 §3.3); such a response carries no UID item.
    pub fn uid_only(uid: u32, enc: Encoder) -> FetchResponse {
        FetchResponse::head(uid, b" UIDFETCH (", enc)
    }

    /// `* n` and `rest`, in a buffer with room for a usual response (a
    /// flag resync writes one per message).
    fn head(n: u32, rest: &[u8], enc: Encoder) -> FetchResponse {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(b"* ");
        push_number(&mut buf, u64::from(n));
        buf.extend_from_slice(rest);
        FetchResponse {
            buf,
            first: true,
            enc,
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
        self.number("UID", u64::from(uid))
    }

    /// `FLAGS (...)`.
    pub fn flags(&mut self, flags: &[String]) -> &mut Self {
        let out = self.item("FLAGS ");
        flag_list(out, flags);
        self
    }

    /// `FLAGS (...)`, with `\Recent` after the stored flags when the
    /// message is recent in this session (IMAP4rev1, RFC 3501 §2.3.2: a
    /// session's flag, never stored).
    pub fn flags_recent(&mut self, flags: &[String], recent: bool) -> &mut Self {
        let out = self.item("FLAGS ");
        flag_list(out, flags);
        if recent {
            out.pop();
            if !flags.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(b"\\Recent)");
        }
        self
    }

    /// `RFC822.SIZE n`.
    pub fn rfc822_size(&mut self, size: u64) -> &mut Self {
        self.number("RFC822.SIZE", size)
    }

    /// `INTERNALDATE "17-Jul-1996 02:44:25 -0700"`.
    pub fn internal_date(&mut self, date: DateTime) -> &mut Self {
        let text = format_date_time(date);
        self.item("INTERNALDATE")
            .extend_from_slice(format!(" \"{text}\"").as_bytes());
        self
    }

    /// `SAVEDATE "..."`, or `SAVEDATE NIL` when the mailbox keeps no save
    /// date (RFC 8514).
    pub fn save_date(&mut self, date: Option<DateTime>) -> &mut Self {
        match date {
            Some(d) => {
                let text = format_date_time(d);
                self.item("SAVEDATE")
                    .extend_from_slice(format!(" \"{text}\"").as_bytes());
            }
            None => {
                self.item("SAVEDATE NIL");
            }
        }
        self
    }

    /// `MODSEQ (n)` (RFC 7162).
    pub fn modseq(&mut self, modseq: u64) -> &mut Self {
        self.item("MODSEQ")
            .extend_from_slice(format!(" ({modseq})").as_bytes());
        self
    }

    /// `EMAILID (id)` (RFC 8474).
    pub fn email_id(&mut self, id: &str) -> &mut Self {
        self.object_id("EMAILID", Some(id))
    }

    /// `THREADID (id)`, or `THREADID NIL` for a message in no thread
    /// (RFC 8474).
    pub fn thread_id(&mut self, id: Option<&str>) -> &mut Self {
        self.object_id("THREADID", id)
    }

    /// `NAME (objectid)` or `NAME NIL`; an objectid is letters, digits,
    /// `_` and `-`, anything else is dropped.
    fn object_id(&mut self, name: &str, id: Option<&str>) -> &mut Self {
        let out = self.item(name);
        match id {
            Some(id) => {
                out.extend_from_slice(b" (");
                out.extend(
                    id.bytes()
                        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-'),
                );
                out.push(b')');
            }
            None => out.extend_from_slice(b" NIL"),
        }
        self
    }

    /// `PREVIEW "text"`, or `PREVIEW NIL` (RFC 8970: no preview, e.g. for
    /// LAZY when none is at hand).
    pub fn preview(&mut self, text: Option<&str>) -> &mut Self {
        let enc = self.enc;
        let out = self.item("PREVIEW ");
        enc.nstring(out, text.map(str::as_bytes));
        self
    }

    /// `ENVELOPE (...)`, written straight into the response.
    pub fn envelope(&mut self, envelope: &Envelope) -> &mut Self {
        write_envelope(self.item("ENVELOPE "), envelope);
        self
    }

    /// `BODYSTRUCTURE (...)`, written straight into the response.
    pub fn body_structure(&mut self, body: &BodyStructure) -> &mut Self {
        write_bodystructure(self.item("BODYSTRUCTURE "), body);
        self
    }

    /// `BODY (...)` (the non-extensible structure), written straight into
    /// the response.
    pub fn body(&mut self, body: &BodyStructure) -> &mut Self {
        write_body(self.item("BODY "), body);
        self
    }

    /// `NAME n`, e.g. `BINARY.SIZE[1] 5`; `name` from
    /// [`FetchResponse::section_name`].
    pub fn number(&mut self, name: &str, value: u64) -> &mut Self {
        let out = self.item(name);
        out.push(b' ');
        push_number(out, value);
        self
    }

    /// `NAME value` with `value` already encoded by the caller.
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
        let out = self.item(name);
        out.push(b' ');
        literal_header(out, len);
        self
    }

    /// `NAME ~{len}\r\n`: a binary literal (RFC 3516) for BINARY data that
    /// contains NUL; the caller sends the bytes.
    pub fn literal8_header(&mut self, name: &str, len: u64) -> &mut Self {
        let out = self.item(name);
        out.push(b' ');
        literal8_header(out, len);
        self
    }

    /// `NAME {len}\r\n<data>` for small data the caller already holds.
    pub fn literal(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.literal_header(name, data.len() as u64);
        self.buf.extend_from_slice(data);
        self
    }

    /// `NAME <data>` for BINARY content the caller holds: a literal, or a
    /// binary literal `~{len}` when the data contains NUL.
    pub fn binary(&mut self, name: &str, data: &[u8]) -> &mut Self {
        if data.contains(&0) {
            self.literal8_header(name, data.len() as u64);
        } else {
            self.literal_header(name, data.len() as u64);
        }
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
    /// names as astrings, e.g. `BODY[HEADER.FIELDS (FROM TO)]<0>`;
    /// `PREVIEW (LAZY)` as `PREVIEW`.
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
            F::Preview { .. } => "PREVIEW",
            F::EmailId => "EMAILID",
            F::ThreadId => "THREADID",
            F::SaveDate => "SAVEDATE",
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
        Encoder::ASCII.astring(out, name.as_bytes());
    }
    out.push(b')');
}

/// `<offset>` for a partial fetch.
fn push_origin(out: &mut Vec<u8>, partial: Option<(u64, u64)>) {
    if let Some((offset, _)) = partial {
        out.extend_from_slice(format!("<{offset}>").as_bytes());
    }
}

/// Appends `n` in decimal, without a `String` in between.
fn push_number(out: &mut Vec<u8>, n: u64) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
}

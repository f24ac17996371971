//! The compact binary form in which the MIME cache keeps a message's
//! envelope and body structure: varint numbers, length-prefixed byte
//! strings, counted lists, in field order, after a format byte. Reading
//! never trusts the bytes: anything malformed (a torn write, a row of
//! another format) reads as `None`, and the caller parses the message
//! again.

use super::types::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, Disposition,
    EnclosedMessage, Envelope, PartSpan, SinglePart,
};

/// The first byte of every encoded value; bumped when the layout changes.
pub(crate) const FORMAT: u8 = 2;

/// Encodes an envelope and a body structure.
pub(crate) fn encode(envelope: &Envelope, body: &BodyStructure) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.0.push(FORMAT);
    w.envelope(envelope);
    w.body(body);
    w.0
}

/// Decodes what [`encode`] wrote; `None` if the bytes are not that.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Envelope, BodyStructure)> {
    let (&format, rest) = bytes.split_first()?;
    if format != FORMAT {
        return None;
    }
    let mut r = Reader { bytes: rest };
    let envelope = r.envelope()?;
    let body = r.body(0)?;
    r.bytes.is_empty().then_some((envelope, body))
}

struct Writer(Vec<u8>);

impl Writer {
    fn number(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.number(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// 0 for none, else the length plus one and the bytes.
    fn optional(&mut self, b: Option<&Vec<u8>>) {
        match b {
            None => self.number(0),
            Some(b) => {
                self.number(b.len() as u64 + 1);
                self.0.extend_from_slice(b);
            }
        }
    }

    fn address(&mut self, a: &Address) {
        self.optional(a.name.as_ref());
        self.optional(a.route.as_ref());
        self.bytes(&a.mailbox);
        self.bytes(&a.host);
    }

    fn addresses(&mut self, list: &[AddressEntry]) {
        self.number(list.len() as u64);
        for entry in list {
            match entry {
                AddressEntry::Mailbox(a) => {
                    self.0.push(0);
                    self.address(a);
                }
                AddressEntry::Group(g) => {
                    self.0.push(1);
                    self.bytes(&g.name);
                    self.number(g.members.len() as u64);
                    for a in &g.members {
                        self.address(a);
                    }
                }
            }
        }
    }

    fn envelope(&mut self, e: &Envelope) {
        self.optional(e.date.as_ref());
        self.optional(e.subject.as_ref());
        for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
            self.addresses(list);
        }
        self.optional(e.in_reply_to.as_ref());
        self.optional(e.message_id.as_ref());
    }

    fn params(&mut self, params: &[BodyParam]) {
        self.number(params.len() as u64);
        for p in params {
            self.bytes(&p.name);
            self.bytes(&p.value);
        }
    }

    fn body(&mut self, b: &BodyStructure) {
        self.bytes(&b.media_type);
        self.bytes(&b.media_subtype);
        self.params(&b.params);
        match &b.disposition {
            None => self.0.push(0),
            Some(d) => {
                self.0.push(1);
                self.bytes(&d.kind);
                self.params(&d.params);
            }
        }
        self.number(b.language.len() as u64);
        for l in &b.language {
            self.bytes(l);
        }
        self.optional(b.location.as_ref());
        self.number(b.span.header_start);
        self.number(b.span.body_start);
        self.number(b.span.body_end);
        match &b.content {
            BodyContent::Multipart(parts) => {
                self.0.push(0);
                self.number(parts.len() as u64);
                for p in parts {
                    self.body(p);
                }
            }
            BodyContent::Single(s) => {
                self.0.push(1);
                self.optional(s.id.as_ref());
                self.optional(s.description.as_ref());
                self.bytes(&s.encoding);
                self.number(s.size);
                self.number(s.lines);
                self.optional(s.md5.as_ref());
                match &s.message {
                    None => self.0.push(0),
                    Some(m) => {
                        self.0.push(1);
                        self.envelope(&m.envelope);
                        self.body(&m.body);
                    }
                }
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn number(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn take(&mut self, len: u64) -> Option<Vec<u8>> {
        let len = usize::try_from(len).ok()?;
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken.to_vec())
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = self.number()?;
        self.take(len)
    }

    fn optional(&mut self) -> Option<Option<Vec<u8>>> {
        match self.number()? {
            0 => Some(None),
            n => self.take(n - 1).map(Some),
        }
    }

    /// A count of items that each take at least one byte: never more than
    /// the bytes left, so a corrupt count cannot make a huge allocation.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.number()?).ok()?;
        (n <= self.bytes.len()).then_some(n)
    }

    fn address(&mut self) -> Option<Address> {
        Some(Address {
            name: self.optional()?,
            route: self.optional()?,
            mailbox: self.bytes()?,
            host: self.bytes()?,
        })
    }

    fn addresses(&mut self) -> Option<Vec<AddressEntry>> {
        let n = self.count()?;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            list.push(match self.byte()? {
                0 => AddressEntry::Mailbox(self.address()?),
                1 => {
                    let name = self.bytes()?;
                    let m = self.count()?;
                    let mut members = Vec::with_capacity(m);
                    for _ in 0..m {
                        members.push(self.address()?);
                    }
                    AddressEntry::Group(AddressGroup { name, members })
                }
                _ => return None,
            });
        }
        Some(list)
    }

    fn envelope(&mut self) -> Option<Envelope> {
        Some(Envelope {
            date: self.optional()?,
            subject: self.optional()?,
            from: self.addresses()?,
            sender: self.addresses()?,
            reply_to: self.addresses()?,
            to: self.addresses()?,
            cc: self.addresses()?,
            bcc: self.addresses()?,
            in_reply_to: self.optional()?,
            message_id: self.optional()?,
        })
    }

    fn params(&mut self) -> Option<Vec<BodyParam>> {
        let n = self.count()?;
        let mut params = Vec::with_capacity(n);
        for _ in 0..n {
            params.push(BodyParam {
                name: self.bytes()?,
                value: self.bytes()?,
            });
        }
        Some(params)
    }

    fn body(&mut self, depth: usize) -> Option<BodyStructure> {
        // The writer never nests deeper than the parser does.
        if depth > 2 * super::bodystructure::MAX_NESTING + 2 {
            return None;
        }
        let media_type = self.bytes()?;
        let media_subtype = self.bytes()?;
        let params = self.params()?;
        let disposition = match self.byte()? {
            0 => None,
            1 => Some(Disposition {
                kind: self.bytes()?,
                params: self.params()?,
            }),
            _ => return None,
        };
        let n = self.count()?;
        let mut language = Vec::with_capacity(n);
        for _ in 0..n {
            language.push(self.bytes()?);
        }
        let location = self.optional()?;
        let span = PartSpan {
            header_start: self.number()?,
            body_start: self.number()?,
            body_end: self.number()?,
        };
        let content = match self.byte()? {
            0 => {
                let n = self.count()?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    parts.push(self.body(depth + 1)?);
                }
                BodyContent::Multipart(parts)
            }
            1 => BodyContent::Single(SinglePart {
                id: self.optional()?,
                description: self.optional()?,
                encoding: self.bytes()?,
                size: self.number()?,
                lines: self.number()?,
                md5: self.optional()?,
                message: match self.byte()? {
                    0 => None,
                    1 => Some(Box::new(EnclosedMessage {
                        envelope: self.envelope()?,
                        body: self.body(depth + 1)?,
                    })),
                    _ => return None,
                },
            }),
            _ => return None,
        };
        Some(BodyStructure {
            media_type,
            media_subtype,
            params,
            disposition,
            language,
            location,
            content,
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Envelope, BodyStructure) {
        let raw = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/mime/05-nested-rfc822.eml"),
        )
        .unwrap();
        let s = super::super::parse_structure(&raw);
        (s.envelope, s.body)
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let (e, b) = sample();
        let bytes = encode(&e, &b);
        assert_eq!(decode(&bytes), Some((e, b)));
    }

    #[test]
    fn damaged_or_foreign_bytes_read_as_nothing() {
        let (e, b) = sample();
        let bytes = encode(&e, &b);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert_eq!(decode(&other), None);
        // What an older cache held: IMAP text.
        assert_eq!(
            decode(b"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)"),
            None
        );
        let mut huge = vec![FORMAT];
        huge.extend_from_slice(&[0xff; 12]);
        assert_eq!(decode(&huge), None);
    }
}

//! ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2)
//! from a message's envelope and MIME structure given as plain values: the
//! storage side parses messages, this module only writes their syntax.
//!
//! ```
//! # use mailkeep_imap_proto::{Address, AddressEntry, Envelope, write_envelope};
//! let ann = Address { name: Some(b"Ann".to_vec()), route: None,
//!                     mailbox: b"ann".to_vec(), host: b"example.org".to_vec() };
//! let e = Envelope { subject: Some(b"hi".to_vec()),
//!                    from: vec![AddressEntry::Mailbox(ann)], ..Envelope::default() };
//! let mut out = Vec::new();
//! write_envelope(&mut out, &e);
//! assert_eq!(out, b"(NIL \"hi\" ((\"Ann\" NIL \"ann\" \"example.org\")) \
//!     ((\"Ann\" NIL \"ann\" \"example.org\")) ((\"Ann\" NIL \"ann\" \"example.org\")) \
//!     NIL NIL NIL NIL NIL)");
//! ```

use super::strings::{nstring, string, string_for_humans};

/// A message's envelope: header values as the message has them (no IMAP
/// quoting; RFC 2047 words still encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `Date:`.
    pub date: Option<Vec<u8>>,
    /// `Subject:`, the line breaks of folding possibly still in it.
    pub subject: Option<Vec<u8>>,
    /// `From:`.
    pub from: Vec<AddressEntry>,
    /// `Sender:`; written as From when empty (RFC 9051 §7.5.2).
    pub sender: Vec<AddressEntry>,
    /// `Reply-To:`; written as From when empty (RFC 9051 §7.5.2).
    pub reply_to: Vec<AddressEntry>,
    /// `To:`.
    pub to: Vec<AddressEntry>,
    /// `Cc:`.
    pub cc: Vec<AddressEntry>,
    /// `Bcc:`.
    pub bcc: Vec<AddressEntry>,
    /// `In-Reply-To:`.
    pub in_reply_to: Option<Vec<u8>>,
    /// `Message-ID:`.
    pub message_id: Option<Vec<u8>>,
}

/// One mailbox of an address list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// The display name.
    pub name: Option<Vec<u8>>,
    /// The source route (`adl`).
    pub route: Option<Vec<u8>>,
    /// The local part.
    pub mailbox: Vec<u8>,
    /// The domain (empty when the address had none).
    pub host: Vec<u8>,
}

/// A group of mailboxes (`Team: a@x, b@y;`), written with RFC 9051's
/// start and end markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressGroup {
    /// The group's name.
    pub name: Vec<u8>,
    /// Its members.
    pub members: Vec<Address>,
}

/// An entry of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressEntry {
    /// A mailbox.
    Mailbox(Address),
    /// A group.
    Group(AddressGroup),
}

/// A `name value` parameter pair of a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyParam {
    /// Its name.
    pub name: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
}

/// A Content-Disposition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disposition {
    /// `inline`, `attachment`, ...
    pub kind: Vec<u8>,
    /// Its parameters.
    pub params: Vec<BodyParam>,
}

/// One body part and, for a multipart, the parts inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStructure {
    /// The media type (`text`, `multipart`, ...).
    pub media_type: Vec<u8>,
    /// The subtype.
    pub media_subtype: Vec<u8>,
    /// Content-Type parameters (NIL when empty).
    pub params: Vec<BodyParam>,
    /// Content-Disposition (extension data).
    pub disposition: Option<Disposition>,
    /// Content-Language tags (extension data).
    pub language: Vec<Vec<u8>>,
    /// Content-Location (extension data).
    pub location: Option<Vec<u8>>,
    /// Child parts or the part's own body.
    pub content: BodyContent,
}

/// What a body part holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyContent {
    /// The children of a multipart (at least one, as the grammar needs).
    Multipart(Vec<BodyStructure>),
    /// A body of its own.
    Single(SinglePart),
}

/// The fields of a part that has a body of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinglePart {
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding.
    pub encoding: Vec<u8>,
    /// Size of the encoded body in octets.
    pub size: u64,
    /// Lines of the body (written for text and message parts).
    pub lines: u64,
    /// Content-MD5 (extension data).
    pub md5: Option<Vec<u8>>,
    /// The enclosed message of a `message/rfc822` (or `message/global`)
    /// part; a part with one is written as `body-type-msg`.
    pub message: Option<Box<EnclosedMessage>>,
}

/// The message inside a `message/rfc822` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclosedMessage {
    /// Its envelope.
    pub envelope: Envelope,
    /// Its structure.
    pub body: BodyStructure,
}

/// Appends `envelope` as the ENVELOPE list, parentheses included.
pub fn write_envelope<'a>(out: &mut Vec<u8>, envelope: &'a Envelope) {
    let e = envelope;
    out.push(b'(');
    nstring(out, e.date.as_deref());
    out.push(b' ');
    match &e.subject {
        Some(subject) => string_for_humans(out, subject),
        None => nstring(out, None),
    }
    let or_from = |list: &'a [AddressEntry]| if list.is_empty() { &e.from } else { list };
    for list in [
        &e.from,
        or_from(&e.sender),
        or_from(&e.reply_to),
        &e.to,
        &e.cc,
        &e.bcc,
    ] {
        out.push(b' ');
        address_list(out, list);
    }
    out.push(b' ');
    nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn address_list(out: &mut Vec<u8>, list: &[AddressEntry]) {
    if list.is_empty() {
        nstring(out, None);
        return;
    }
    out.push(b'(');
    for entry in list {
        match entry {
            AddressEntry::Mailbox(a) => address(out, a),
            AddressEntry::Group(g) => {
                // A group start has a NIL host and the group's name as
                // mailbox; its end has every field NIL.
                out.extend_from_slice(b"(NIL NIL ");
                string(out, &g.name);
                out.extend_from_slice(b" NIL)");
                for a in &g.members {
                    address(out, a);
                }
                out.extend_from_slice(b"(NIL NIL NIL NIL)");
            }
        }
    }
    out.push(b')');
}

fn address(out: &mut Vec<u8>, a: &Address) {
    out.push(b'(');
    match &a.name {
        Some(name) => string_for_humans(out, name),
        None => nstring(out, None),
    }
    out.push(b' ');
    nstring(out, a.route.as_deref());
    out.push(b' ');
    string(out, &a.mailbox);
    out.push(b' ');
    string(out, &a.host);
    out.push(b')');
}

/// Appends `body` as BODY: the structure without extension data.
pub fn write_body(out: &mut Vec<u8>, body: &BodyStructure) {
    write_structure(out, body, false);
}

/// Appends `body` as BODYSTRUCTURE: with extension data.
pub fn write_bodystructure(out: &mut Vec<u8>, body: &BodyStructure) {
    write_structure(out, body, true);
}

fn write_structure(out: &mut Vec<u8>, b: &BodyStructure, extended: bool) {
    out.push(b'(');
    match &b.content {
        BodyContent::Multipart(parts) => {
            for part in parts {
                write_structure(out, part, extended);
            }
            out.push(b' ');
            string(out, &b.media_subtype);
            if extended {
                out.push(b' ');
                params(out, &b.params);
                extension_tail(out, b);
            }
        }
        BodyContent::Single(s) => {
            string(out, &b.media_type);
            out.push(b' ');
            string(out, &b.media_subtype);
            out.push(b' ');
            params(out, &b.params);
            out.push(b' ');
            nstring(out, s.id.as_deref());
            out.push(b' ');
            nstring(out, s.description.as_deref());
            out.push(b' ');
            string(out, &s.encoding);
            out.extend_from_slice(format!(" {}", s.size).as_bytes());
            if let Some(m) = &s.message {
                out.push(b' ');
                write_envelope(out, &m.envelope);
                out.push(b' ');
                write_structure(out, &m.body, extended);
                out.extend_from_slice(format!(" {}", s.lines).as_bytes());
            } else if b.media_type.eq_ignore_ascii_case(b"text") {
                out.extend_from_slice(format!(" {}", s.lines).as_bytes());
            }
            if extended {
                out.push(b' ');
                nstring(out, s.md5.as_deref());
                extension_tail(out, b);
            }
        }
    }
    out.push(b')');
}

/// Disposition, language and location, each after a space.
fn extension_tail(out: &mut Vec<u8>, b: &BodyStructure) {
    out.push(b' ');
    match &b.disposition {
        Some(d) => {
            out.push(b'(');
            string(out, &d.kind);
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => nstring(out, None),
    }
    out.push(b' ');
    match b.language.as_slice() {
        [] => nstring(out, None),
        [one] => string(out, one),
        many => {
            out.push(b'(');
            for (i, tag) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, tag);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, b.location.as_deref());
}

/// A parameter list, NIL when empty.
fn params(out: &mut Vec<u8>, list: &[BodyParam]) {
    if list.is_empty() {
        nstring(out, None);
        return;
    }
    out.push(b'(');
    for (i, p) in list.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, &p.name);
        out.push(b' ');
        string(out, &p.value);
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_part(size: u64, lines: u64) -> BodyStructure {
        BodyStructure {
            media_type: b"text".to_vec(),
            media_subtype: b"plain".to_vec(),
            params: vec![BodyParam {
                name: b"charset".to_vec(),
                value: b"us-ascii".to_vec(),
            }],
            disposition: None,
            language: Vec::new(),
            location: None,
            content: BodyContent::Single(SinglePart {
                encoding: b"7bit".to_vec(),
                size,
                lines,
                ..SinglePart::default()
            }),
        }
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_multipart_with_extension_data() {
        let mut attachment = text_part(4, 0);
        attachment.media_type = b"application".to_vec();
        attachment.media_subtype = b"pdf".to_vec();
        attachment.params.clear();
        attachment.disposition = Some(Disposition {
            kind: b"attachment".to_vec(),
            params: vec![BodyParam {
                name: b"filename".to_vec(),
                value: b"a \"b\".pdf".to_vec(),
            }],
        });
        attachment.language = vec![b"en".to_vec(), b"de".to_vec()];
        let mixed = BodyStructure {
            media_type: b"multipart".to_vec(),
            media_subtype: b"mixed".to_vec(),
            params: vec![BodyParam {
                name: b"boundary".to_vec(),
                value: b"x".to_vec(),
            }],
            disposition: None,
            language: vec![b"en".to_vec()],
            location: Some(b"http://x/".to_vec()),
            content: BodyContent::Multipart(vec![text_part(10, 1), attachment]),
        };
        let mut body = Vec::new();
        write_body(&mut body, &mixed);
        assert_eq!(
            text(body),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1)\
             (\"application\" \"pdf\" NIL NIL NIL \"7bit\" 4) \"mixed\")"
        );
        let mut full = Vec::new();
        write_bodystructure(&mut full, &mixed);
        assert_eq!(
            text(full),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)\
             (\"application\" \"pdf\" NIL NIL NIL \"7bit\" 4 NIL (\"attachment\" (\"filename\" \"a \\\"b\\\".pdf\")) (\"en\" \"de\") NIL) \
             \"mixed\" (\"boundary\" \"x\") NIL \"en\" \"http://x/\")"
        );
    }

    #[test]
    fn an_enclosed_message_brings_its_envelope_structure_and_lines() {
        let inner = Envelope {
            subject: Some(b"inner".to_vec()),
            ..Envelope::default()
        };
        let mut rfc822 = text_part(30, 3);
        rfc822.media_type = b"message".to_vec();
        rfc822.media_subtype = b"rfc822".to_vec();
        rfc822.params.clear();
        if let BodyContent::Single(s) = &mut rfc822.content {
            s.message = Some(Box::new(EnclosedMessage {
                envelope: inner,
                body: text_part(5, 1),
            }));
        }
        let mut out = Vec::new();
        write_body(&mut out, &rfc822);
        assert_eq!(
            text(out),
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 30 \
             (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) \
             (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1) 3)"
        );
    }

    #[test]
    fn groups_get_markers_and_sender_defaults_to_from() {
        let member = Address {
            name: None,
            route: None,
            mailbox: b"a".to_vec(),
            host: b"x.org".to_vec(),
        };
        let e = Envelope {
            from: vec![AddressEntry::Mailbox(member.clone())],
            to: vec![AddressEntry::Group(AddressGroup {
                name: b"Team".to_vec(),
                members: vec![member],
            })],
            ..Envelope::default()
        };
        let mut out = Vec::new();
        write_envelope(&mut out, &e);
        assert_eq!(
            text(out),
            "(NIL NIL ((NIL NIL \"a\" \"x.org\")) ((NIL NIL \"a\" \"x.org\")) \
             ((NIL NIL \"a\" \"x.org\")) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")\
             (NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn text_for_people_goes_as_a_literal_when_it_needs_changes() {
        let e = Envelope {
            subject: Some(b"folded\r\n\tsubject \"quoted\"".to_vec()),
            from: vec![AddressEntry::Mailbox(Address {
                name: Some("Grüße".as_bytes().to_vec()),
                route: None,
                mailbox: b"g".to_vec(),
                host: b"h".to_vec(),
            })],
            ..Envelope::default()
        };
        let mut out = Vec::new();
        write_envelope(&mut out, &e);
        let out = text(out);
        assert!(
            out.starts_with(
                "(NIL {23}\r\nfolded subject \"quoted\" (({7}\r\nGrüße NIL \"g\" \"h\"))"
            ),
            "{out}"
        );
    }
}

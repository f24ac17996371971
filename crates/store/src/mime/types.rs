//! The parsed structure of a message as plain values: its envelope (the
//! header fields a mail client lists a message by) and its body structure
//! (the MIME part tree with each part's type, parameters, encoding and
//! sizes). Values are the header values as the message has them (RFC 2047
//! words stay encoded); no protocol's syntax is applied here: the IMAP
//! process renders them as ENVELOPE, BODY and BODYSTRUCTURE.

/// The envelope of a message or of a message enclosed in a
/// `message/rfc822` part: header values as sent, unfolded, except
/// [`Envelope::subject`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `Date:`.
    pub date: Option<Vec<u8>>,
    /// `Subject:` as sent, with the line breaks of a folded field kept
    /// (trimmed at both ends): a renderer shows folded text as the
    /// reference server does.
    pub subject: Option<Vec<u8>>,
    /// `From:`.
    pub from: Vec<AddressEntry>,
    /// `Sender:` (empty when absent or empty; IMAP then shows From).
    pub sender: Vec<AddressEntry>,
    /// `Reply-To:` (empty when absent or empty; IMAP then shows From).
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
    /// The display name, its RFC 5322 quoting undone; a comment stands in
    /// for a missing phrase (`a@b (Ann)`).
    pub name: Option<Vec<u8>>,
    /// The obsolete source route (`@a,@b:`), if the address had one kept.
    pub route: Option<Vec<u8>>,
    /// The local part, quoting undone.
    pub mailbox: Vec<u8>,
    /// The domain; empty when the address had no `@`.
    pub host: Vec<u8>,
}

/// A named group of mailboxes (`Team: a@x, b@y;`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressGroup {
    /// The group's display name.
    pub name: Vec<u8>,
    /// Its members (often none: `undisclosed-recipients:;`).
    pub members: Vec<Address>,
}

/// An entry of an address list: a mailbox or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressEntry {
    /// A single mailbox.
    Mailbox(Address),
    /// A group and its members.
    Group(AddressGroup),
}

/// A `name=value` parameter of a Content-Type or Content-Disposition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyParam {
    /// The parameter name in the case it was sent.
    pub name: Vec<u8>,
    /// The value, RFC 2231 continuations joined and decoded.
    pub value: Vec<u8>,
}

/// A Content-Disposition (RFC 2183).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disposition {
    /// `inline`, `attachment`, ...
    pub kind: Vec<u8>,
    /// Its parameters (`filename`, ...).
    pub params: Vec<BodyParam>,
}

/// One MIME part and, for multiparts, the parts inside it. Sizes count
/// line ends as CRLF, as the message is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStructure {
    /// The media type (`text`, `multipart`, ...) in the case it was sent.
    pub media_type: Vec<u8>,
    /// The subtype (`plain`, `mixed`, ...) in the case it was sent.
    pub media_subtype: Vec<u8>,
    /// Content-Type parameters. A text part sent without any has
    /// `charset=us-ascii` (RFC 2045 §5.2); a multipart keeps its boundary.
    pub params: Vec<BodyParam>,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language tags.
    pub language: Vec<Vec<u8>>,
    /// Content-Location.
    pub location: Option<Vec<u8>>,
    /// What the part holds.
    pub content: BodyContent,
    /// Where the part lies in the message as served, so that a section
    /// is cut without parsing the message again.
    pub span: PartSpan,
}

impl BodyStructure {
    /// Whether the part's type says it holds a message (message/rfc822 or
    /// message/global; the structure gives an untyped part of a digest
    /// message/rfc822): its sections name the enclosed message's parts.
    pub fn is_message_type(&self) -> bool {
        is_message_type(&self.media_type, &self.media_subtype)
    }
}

/// Whether `media_type/subtype` is one that holds a message.
pub(crate) fn is_message_type(media_type: &[u8], subtype: &[u8]) -> bool {
    media_type.eq_ignore_ascii_case(b"message")
        && (subtype.eq_ignore_ascii_case(b"rfc822") || subtype.eq_ignore_ascii_case(b"global"))
}

/// Byte offsets of one part in the whole message as served (CRLF line
/// ends): its header from `header_start` to `body_start`, its body to
/// `body_end`. A part a section names is cut from these (BODY[2],
/// BODY[2.MIME], BODY[2.TEXT]); the MIME cache keeps them beside the
/// structure, so fetching a small part of a large message neither parses
/// nor decodes the rest of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartSpan {
    /// Where the part's header starts (its body, when it has none).
    pub header_start: u64,
    /// Where its body starts.
    pub body_start: u64,
    /// Where its body ends.
    pub body_end: u64,
}

/// The content of a part: child parts, or a body of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyContent {
    /// A multipart's children, never empty (an empty multipart is given
    /// one empty text/plain part, as RFC 9051's grammar needs one).
    Multipart(Vec<BodyStructure>),
    /// A part with a body.
    Single(SinglePart),
}

/// The fields of a part that has a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinglePart {
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding as sent; `7bit` when absent.
    pub encoding: Vec<u8>,
    /// The body's size in bytes, still encoded.
    pub size: u64,
    /// The body's number of lines.
    pub lines: u64,
    /// Content-MD5.
    pub md5: Option<Vec<u8>>,
    /// For `message/rfc822` and `message/global`: the enclosed message.
    pub message: Option<Box<EnclosedMessage>>,
}

/// A message carried inside a `message/rfc822` part (forwarded mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclosedMessage {
    /// Its envelope.
    pub envelope: Envelope,
    /// Its structure.
    pub body: BodyStructure,
}

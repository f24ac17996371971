//! The store's parsed message structure as storage RPC messages (typed
//! values; the IMAP process writes ENVELOPE, BODY and BODYSTRUCTURE).

use mailkeep_storage_rpc::storage as pb;
use mailkeep_store as store;

fn mailbox(a: store::Address) -> pb::Mailbox {
    pb::Mailbox {
        name: a.name,
        route: a.route,
        mailbox: a.mailbox,
        host: a.host,
    }
}

fn addresses(list: Vec<store::AddressEntry>) -> Vec<pb::EnvelopeAddress> {
    use pb::envelope_address::Entry;
    list.into_iter()
        .map(|e| pb::EnvelopeAddress {
            entry: Some(match e {
                store::AddressEntry::Mailbox(a) => Entry::Mailbox(mailbox(a)),
                store::AddressEntry::Group(g) => Entry::Group(pb::MailboxGroup {
                    name: g.name,
                    members: g.members.into_iter().map(mailbox).collect(),
                }),
            }),
        })
        .collect()
}

/// The RPC form of an envelope.
pub(crate) fn envelope_msg(e: store::Envelope) -> pb::Envelope {
    pb::Envelope {
        date: e.date,
        subject: e.subject,
        from: addresses(e.from),
        sender: addresses(e.sender),
        reply_to: addresses(e.reply_to),
        to: addresses(e.to),
        cc: addresses(e.cc),
        bcc: addresses(e.bcc),
        in_reply_to: e.in_reply_to,
        message_id: e.message_id,
    }
}

fn params(list: Vec<store::BodyParam>) -> Vec<pb::BodyParameter> {
    list.into_iter()
        .map(|p| pb::BodyParameter {
            name: p.name,
            value: p.value,
        })
        .collect()
}

/// The RPC form of a body structure.
pub(crate) fn body_structure_msg(b: store::BodyStructure) -> pb::BodyStructure {
    use pb::body_structure::Content;
    let content = match b.content {
        store::BodyContent::Multipart(parts) => Content::Multipart(pb::MultipartBody {
            parts: parts.into_iter().map(body_structure_msg).collect(),
        }),
        store::BodyContent::Single(s) => {
            let (enclosed_envelope, enclosed_body) = match s.message {
                Some(m) => {
                    let m = *m;
                    (
                        Some(envelope_msg(m.envelope)),
                        Some(Box::new(body_structure_msg(m.body))),
                    )
                }
                None => (None, None),
            };
            Content::Single(Box::new(pb::SinglePartBody {
                id: s.id,
                description: s.description,
                encoding: s.encoding,
                size: s.size,
                lines: s.lines,
                md5: s.md5,
                enclosed_envelope,
                enclosed_body,
            }))
        }
    };
    pb::BodyStructure {
        r#type: b.media_type,
        subtype: b.media_subtype,
        parameters: params(b.params),
        disposition: b.disposition.map(|d| pb::BodyDisposition {
            kind: d.kind,
            parameters: params(d.params),
        }),
        language: b.language,
        location: b.location,
        content: Some(content),
    }
}

/// The structure parts a call asked for (Fetch's or FetchStructure's
/// `want_*` fields).
#[derive(Clone, Copy)]
pub(crate) struct Wanted {
    /// ENVELOPE.
    pub(crate) envelope: bool,
    /// BODY or BODYSTRUCTURE.
    pub(crate) body_structure: bool,
    /// PREVIEW.
    pub(crate) preview: bool,
}

impl Wanted {
    /// Whether any part is asked for.
    pub(crate) fn any(self) -> bool {
        self.envelope || self.body_structure || self.preview
    }

    /// The item for one message's structure, with the wanted parts only.
    pub(crate) fn item(self, uid: u32, s: store::Structure) -> pb::StructureItem {
        pb::StructureItem {
            uid,
            envelope: self.envelope.then(|| envelope_msg(s.envelope)),
            body_structure: self.body_structure.then(|| body_structure_msg(s.body)),
            preview: if self.preview {
                s.preview
            } else {
                String::new()
            },
        }
    }
}

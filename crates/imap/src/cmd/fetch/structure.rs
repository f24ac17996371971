//! ENVELOPE, BODY, BODYSTRUCTURE and PREVIEW from the structure items
//! that storage sends in the Fetch stream after each message's metadata.

use mailkeep_imap_proto::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, Disposition,
    EnclosedMessage, Envelope, FetchResponse, SinglePart,
};
use mailkeep_storage_rpc::storage::{self as pb, StructureItem};
use prost::Message;

use super::cache::Learned;
use super::plan::Item;

/// One message's structure item as storage sent it, turned into
/// imap-proto's values at most once each and by moving storage's bytes,
/// not copying them: a FETCH of a list view renders the envelope or
/// structure of many messages, and BODY and BODYSTRUCTURE of one message
/// share one conversion.
pub(super) struct Structure {
    /// What storage sent (`None`: nothing, so NIL); its envelope and body
    /// structure are taken out as they are converted.
    sent: Option<StructureItem>,
    envelope: Option<Envelope>,
    body: Option<BodyStructure>,
    /// The encoded sizes of the envelope and body structure converted,
    /// which is what the fetch cache reckons them at.
    envelope_encoded: usize,
    body_encoded: usize,
}

impl Structure {
    /// The structure item storage sent for a message, if any.
    pub(super) fn new(sent: Option<StructureItem>) -> Structure {
        Structure {
            sent,
            envelope: None,
            body: None,
            envelope_encoded: 0,
            body_encoded: 0,
        }
    }

    /// Converts what `plan` asks of the structure, as writing it would.
    pub(super) fn convert_for(&mut self, plan: &super::plan::Plan) {
        if plan.items.contains(&Item::Envelope) {
            self.envelope();
        }
        if plan
            .items
            .iter()
            .any(|i| matches!(i, Item::Body | Item::BodyStructure))
        {
            self.body();
        }
    }

    /// Hands what was converted (what the response used) to `learned`.
    pub(super) fn learned_into(self, learned: &mut Learned) {
        learned.envelope = self.envelope.map(|e| (e, self.envelope_encoded));
        learned.body = self.body.map(|b| (b, self.body_encoded));
    }

    /// Adds `item` to the response (NIL when storage had none).
    pub(super) fn write(&mut self, response: &mut FetchResponse, item: &Item) {
        match item {
            Item::Envelope => match self.envelope() {
                Some(envelope) => {
                    response.envelope(envelope);
                }
                None => {
                    response.nil("ENVELOPE");
                }
            },
            Item::Body | Item::BodyStructure => match (self.body(), item) {
                (Some(body), Item::Body) => {
                    response.body(body);
                }
                (Some(body), _) => {
                    response.body_structure(body);
                }
                (None, Item::Body) => {
                    response.nil("BODY");
                }
                (None, _) => {
                    response.nil("BODYSTRUCTURE");
                }
            },
            Item::Preview => {
                response.preview(self.sent.as_ref().map(|s| s.preview.as_str()));
            }
            _ => {}
        }
    }

    fn envelope(&mut self) -> Option<&Envelope> {
        if self.envelope.is_none() {
            let sent = self.sent.as_mut().and_then(|s| s.envelope.take());
            self.envelope_encoded = sent.as_ref().map_or(0, Message::encoded_len);
            self.envelope = sent.map(envelope_of);
        }
        self.envelope.as_ref()
    }

    fn body(&mut self) -> Option<&BodyStructure> {
        if self.body.is_none() {
            let sent = self.sent.as_mut().and_then(|s| s.body_structure.take());
            self.body_encoded = sent.as_ref().map_or(0, Message::encoded_len);
            self.body = sent.map(body_of);
        }
        self.body.as_ref()
    }
}

/// imap-proto's envelope from storage's.
fn envelope_of(e: pb::Envelope) -> Envelope {
    Envelope {
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

fn addresses(list: Vec<pb::EnvelopeAddress>) -> Vec<AddressEntry> {
    list.into_iter()
        .filter_map(|a| match a.entry {
            Some(pb::envelope_address::Entry::Mailbox(m)) => {
                Some(AddressEntry::Mailbox(address(m)))
            }
            Some(pb::envelope_address::Entry::Group(g)) => {
                Some(AddressEntry::Group(AddressGroup {
                    name: g.name,
                    members: g.members.into_iter().map(address).collect(),
                }))
            }
            None => None,
        })
        .collect()
}

fn address(m: pb::Mailbox) -> Address {
    Address {
        name: m.name,
        route: m.route,
        mailbox: m.mailbox,
        host: m.host,
    }
}

fn params(list: Vec<pb::BodyParameter>) -> Vec<BodyParam> {
    list.into_iter()
        .map(|p| BodyParam {
            name: p.name,
            value: p.value,
        })
        .collect()
}

/// imap-proto's body structure from storage's (storage nests at most 32
/// levels, so the recursion is bounded).
fn body_of(b: pb::BodyStructure) -> BodyStructure {
    let content = match b.content {
        Some(pb::body_structure::Content::Multipart(m)) => {
            BodyContent::Multipart(m.parts.into_iter().map(body_of).collect())
        }
        Some(pb::body_structure::Content::Single(s)) => BodyContent::Single(SinglePart {
            id: s.id,
            description: s.description,
            encoding: s.encoding,
            size: s.size,
            lines: s.lines,
            md5: s.md5,
            message: match (s.enclosed_envelope, s.enclosed_body) {
                (Some(envelope), Some(body)) => Some(Box::new(EnclosedMessage {
                    envelope: envelope_of(envelope),
                    body: body_of(*body),
                })),
                _ => None,
            },
        }),
        None => BodyContent::Single(SinglePart::default()),
    };
    BodyStructure {
        media_type: b.r#type,
        media_subtype: b.subtype,
        params: params(b.parameters),
        disposition: b.disposition.map(|d| Disposition {
            kind: d.kind,
            params: params(d.parameters),
        }),
        language: b.language,
        location: b.location,
        content,
    }
}

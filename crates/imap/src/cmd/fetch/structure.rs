//! ENVELOPE, BODY, BODYSTRUCTURE and PREVIEW from the structure items
//! that storage sends in the Fetch stream after each message's metadata.

use mailkeep_imap_proto::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, Disposition,
    EnclosedMessage, Envelope, FetchResponse, SinglePart, write_body, write_bodystructure,
    write_envelope,
};
use mailkeep_storage_rpc::storage::{self as pb, StructureItem};

use super::plan::Item;

/// Adds a structure item to the response (NIL when storage had none).
pub(super) fn write(response: &mut FetchResponse, item: &Item, structure: Option<&StructureItem>) {
    let mut rendered = Vec::new();
    match item {
        Item::Envelope => match structure.and_then(|s| s.envelope.as_ref()) {
            Some(envelope) => {
                write_envelope(&mut rendered, &envelope_of(envelope));
                response.envelope(&rendered);
            }
            None => {
                response.nil("ENVELOPE");
            }
        },
        Item::Body | Item::BodyStructure => {
            match structure.and_then(|s| s.body_structure.as_ref()) {
                Some(body) => {
                    let body = body_of(body);
                    if *item == Item::Body {
                        write_body(&mut rendered, &body);
                        response.body(&rendered);
                    } else {
                        write_bodystructure(&mut rendered, &body);
                        response.body_structure(&rendered);
                    }
                }
                None => {
                    response.nil(if *item == Item::Body {
                        "BODY"
                    } else {
                        "BODYSTRUCTURE"
                    });
                }
            }
        }
        Item::Preview => {
            response.preview(structure.map(|s| s.preview.as_str()));
        }
        _ => {}
    }
}

/// imap-proto's envelope from storage's.
fn envelope_of(e: &pb::Envelope) -> Envelope {
    Envelope {
        date: e.date.clone(),
        subject: e.subject.clone(),
        from: addresses(&e.from),
        sender: addresses(&e.sender),
        reply_to: addresses(&e.reply_to),
        to: addresses(&e.to),
        cc: addresses(&e.cc),
        bcc: addresses(&e.bcc),
        in_reply_to: e.in_reply_to.clone(),
        message_id: e.message_id.clone(),
    }
}

fn addresses(list: &[pb::EnvelopeAddress]) -> Vec<AddressEntry> {
    list.iter()
        .filter_map(|a| match &a.entry {
            Some(pb::envelope_address::Entry::Mailbox(m)) => {
                Some(AddressEntry::Mailbox(address(m)))
            }
            Some(pb::envelope_address::Entry::Group(g)) => {
                Some(AddressEntry::Group(AddressGroup {
                    name: g.name.clone(),
                    members: g.members.iter().map(address).collect(),
                }))
            }
            None => None,
        })
        .collect()
}

fn address(m: &pb::Mailbox) -> Address {
    Address {
        name: m.name.clone(),
        route: m.route.clone(),
        mailbox: m.mailbox.clone(),
        host: m.host.clone(),
    }
}

fn params(list: &[pb::BodyParameter]) -> Vec<BodyParam> {
    list.iter()
        .map(|p| BodyParam {
            name: p.name.clone(),
            value: p.value.clone(),
        })
        .collect()
}

/// imap-proto's body structure from storage's (storage nests at most 32
/// levels, so the recursion is bounded).
fn body_of(b: &pb::BodyStructure) -> BodyStructure {
    let content = match &b.content {
        Some(pb::body_structure::Content::Multipart(m)) => {
            BodyContent::Multipart(m.parts.iter().map(body_of).collect())
        }
        Some(pb::body_structure::Content::Single(s)) => BodyContent::Single(SinglePart {
            id: s.id.clone(),
            description: s.description.clone(),
            encoding: s.encoding.clone(),
            size: s.size,
            lines: s.lines,
            md5: s.md5.clone(),
            message: match (&s.enclosed_envelope, &s.enclosed_body) {
                (Some(envelope), Some(body)) => Some(Box::new(EnclosedMessage {
                    envelope: envelope_of(envelope),
                    body: body_of(body),
                })),
                _ => None,
            },
        }),
        None => BodyContent::Single(SinglePart::default()),
    };
    BodyStructure {
        media_type: b.r#type.clone(),
        media_subtype: b.subtype.clone(),
        params: params(&b.parameters),
        disposition: b.disposition.as_ref().map(|d| Disposition {
            kind: d.kind.clone(),
            params: params(&d.parameters),
        }),
        language: b.language.clone(),
        location: b.location.clone(),
        content,
    }
}

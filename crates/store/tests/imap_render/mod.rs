//! The store's structure values rendered as IMAP by `imap-proto`, as the
//! IMAP process does after the storage RPC: the golden corpus and the
//! benchmark check the bytes a client would get.

use mailkeep_imap_proto as imap;
use mailkeep_store as store;

fn address(a: &store::Address) -> imap::Address {
    imap::Address {
        name: a.name.clone(),
        route: a.route.clone(),
        mailbox: a.mailbox.clone(),
        host: a.host.clone(),
    }
}

fn addresses(list: &[store::AddressEntry]) -> Vec<imap::AddressEntry> {
    list.iter()
        .map(|e| match e {
            store::AddressEntry::Mailbox(a) => imap::AddressEntry::Mailbox(address(a)),
            store::AddressEntry::Group(g) => imap::AddressEntry::Group(imap::AddressGroup {
                name: g.name.clone(),
                members: g.members.iter().map(address).collect(),
            }),
        })
        .collect()
}

fn envelope(e: &store::Envelope) -> imap::Envelope {
    imap::Envelope {
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

fn params(list: &[store::BodyParam]) -> Vec<imap::BodyParam> {
    list.iter()
        .map(|p| imap::BodyParam {
            name: p.name.clone(),
            value: p.value.clone(),
        })
        .collect()
}

fn body(b: &store::BodyStructure) -> imap::BodyStructure {
    imap::BodyStructure {
        media_type: b.media_type.clone(),
        media_subtype: b.media_subtype.clone(),
        params: params(&b.params),
        disposition: b.disposition.as_ref().map(|d| imap::Disposition {
            kind: d.kind.clone(),
            params: params(&d.params),
        }),
        language: b.language.clone(),
        location: b.location.clone(),
        content: match &b.content {
            store::BodyContent::Multipart(parts) => {
                imap::BodyContent::Multipart(parts.iter().map(body).collect())
            }
            store::BodyContent::Single(s) => imap::BodyContent::Single(imap::SinglePart {
                id: s.id.clone(),
                description: s.description.clone(),
                encoding: s.encoding.clone(),
                size: s.size,
                lines: s.lines,
                md5: s.md5.clone(),
                message: s.message.as_ref().map(|m| {
                    Box::new(imap::EnclosedMessage {
                        envelope: envelope(&m.envelope),
                        body: body(&m.body),
                    })
                }),
            }),
        },
    }
}

/// ENVELOPE as the IMAP process sends it.
pub fn envelope_bytes(s: &store::Structure) -> Vec<u8> {
    let mut out = Vec::new();
    imap::write_envelope(&mut out, &envelope(&s.envelope));
    out
}

/// BODY as the IMAP process sends it.
pub fn body_bytes(s: &store::Structure) -> Vec<u8> {
    let mut out = Vec::new();
    imap::write_body(&mut out, &body(&s.body));
    out
}

/// BODYSTRUCTURE as the IMAP process sends it.
pub fn bodystructure_bytes(s: &store::Structure) -> Vec<u8> {
    let mut out = Vec::new();
    imap::write_bodystructure(&mut out, &body(&s.body));
    out
}

//! What a FETCH will do, decided from its items before any storage call:
//! the response items in order, what each needs from storage, and whether
//! `\Seen` is set first.

use mailkeep_imap_proto::{FetchAttribute, FetchResponse, Section, SectionText};
use mailkeep_storage_rpc::storage::{FetchSectionRequest, SectionCut, SectionTextKind};

/// A body part to cut from the message (in the Fetch stream or by
/// FetchSection: [`Cut::in_stream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Part numbers; empty for the whole message.
    pub(crate) parts: Vec<u32>,
    /// What of the part.
    pub(crate) text: SectionTextKind,
    /// Header names for HEADER.FIELDS(.NOT).
    pub(crate) header_names: Vec<String>,
    /// Decode the transfer encoding (BINARY).
    pub(crate) binary: bool,
    /// `<offset.count>`.
    pub(crate) partial: Option<(u64, u64)>,
    /// Only the size (BINARY.SIZE).
    pub(crate) size_only: bool,
}

/// A partial cut at most this long is sent in the Fetch stream.
const SMALL_PARTIAL: u64 = 64 * 1024;

impl Cut {
    /// Whether the cut comes in the Fetch stream of all the messages
    /// rather than by a FetchSection call per message: headers, sizes and
    /// small partials, which the imap process may hold in memory until the
    /// message's response is written (a FETCH of a message list then costs
    /// one call, not one per message). Bodies and parts, which can be as
    /// big as the message, are streamed by their own call.
    pub(crate) fn in_stream(&self) -> bool {
        let header = matches!(
            self.text,
            SectionTextKind::Header
                | SectionTextKind::HeaderFields
                | SectionTextKind::HeaderFieldsNot
                | SectionTextKind::Mime
        );
        let small = self
            .partial
            .is_some_and(|(_, count)| count <= SMALL_PARTIAL);
        (header && !self.binary) || self.size_only || small
    }

    /// The FetchSection call for this cut of message `uid`.
    pub(crate) fn section_request(
        &self,
        owner: String,
        mailbox: String,
        uidvalidity: u32,
        uid: u32,
    ) -> FetchSectionRequest {
        let c = self.to_rpc();
        FetchSectionRequest {
            owner,
            mailbox,
            uidvalidity,
            uid,
            parts: c.parts,
            text: c.text,
            header_names: c.header_names,
            binary: c.binary,
            partial: c.partial,
            partial_offset: c.partial_offset,
            partial_count: c.partial_count,
            size_only: c.size_only,
        }
    }

    /// The cut as the storage RPC names it.
    pub(crate) fn to_rpc(&self) -> SectionCut {
        let (partial, partial_offset, partial_count) = match self.partial {
            Some((offset, count)) => (true, offset, count),
            None => (false, 0, 0),
        };
        SectionCut {
            parts: self.parts.clone(),
            text: self.text as i32,
            header_names: self.header_names.clone(),
            binary: self.binary,
            partial,
            partial_offset,
            partial_count,
            size_only: self.size_only,
        }
    }
}

/// One item of the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// FLAGS
    Flags,
    /// UID
    Uid,
    /// RFC822.SIZE
    Size,
    /// INTERNALDATE
    Date,
    /// MODSEQ
    ModSeq,
    /// SAVEDATE
    SaveDate,
    /// EMAILID
    EmailId,
    /// THREADID
    ThreadId,
    /// ENVELOPE
    Envelope,
    /// BODY (the non-extensible structure)
    Body,
    /// BODYSTRUCTURE
    BodyStructure,
    /// PREVIEW
    Preview,
    /// The whole message as streamed by Fetch (BODY[], RFC822), under a
    /// response name.
    Whole {
        /// `BODY[]` or `RFC822`.
        name: String,
    },
    /// A cut of the message, under a response name (`BODY[1.2]<0>`).
    Cut {
        /// The response item's name.
        name: String,
        /// What to cut.
        cut: Cut,
    },
    /// BINARY.SIZE[...], a number.
    BinarySize {
        /// The response item's name.
        name: String,
        /// The part.
        cut: Cut,
    },
}

/// A FETCH's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Items in response order.
    pub(crate) items: Vec<Item>,
    /// Set `\Seen` on the messages first (a non-PEEK body item, read-write).
    pub(crate) set_seen: bool,
}

impl Plan {
    /// Whether UID is the only item asked for.
    pub(crate) fn uid_alone(&self) -> bool {
        self.items.iter().all(|i| matches!(i, Item::Uid))
    }

    /// Whether the whole message is streamed with the metadata.
    pub(crate) fn whole_body(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::Whole { .. }))
    }

    /// The cuts that come in the Fetch stream, in response order.
    pub(crate) fn stream_cuts(&self) -> impl Iterator<Item = &Cut> {
        self.cuts().filter(|c| c.in_stream())
    }

    /// Every cut of the response, in order.
    pub(crate) fn cuts(&self) -> impl Iterator<Item = &Cut> {
        self.items.iter().filter_map(|i| match i {
            Item::Cut { cut, .. } | Item::BinarySize { cut, .. } => Some(cut),
            _ => None,
        })
    }

    /// Whether the MIME structure service is needed.
    pub(crate) fn structure(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(
                i,
                Item::Envelope | Item::Body | Item::BodyStructure | Item::Preview
            )
        })
    }
}

/// Turns the requested attributes into a plan. `uid`: UID FETCH (UID is
/// always in the answer); `modseq`: CHANGEDSINCE or CONDSTORE asks for
/// MODSEQ in every answer.
pub(crate) fn plan(
    attributes: &[FetchAttribute],
    uid: bool,
    read_only: bool,
    modseq: bool,
) -> Plan {
    let mut items = Vec::new();
    let mut set_seen = false;
    if uid {
        items.push(Item::Uid);
    }
    for attribute in attributes {
        let name = FetchResponse::section_name(attribute);
        let item = match attribute {
            FetchAttribute::Flags => Item::Flags,
            FetchAttribute::Uid => Item::Uid,
            FetchAttribute::Rfc822Size => Item::Size,
            FetchAttribute::InternalDate => Item::Date,
            FetchAttribute::ModSeq => Item::ModSeq,
            FetchAttribute::SaveDate => Item::SaveDate,
            FetchAttribute::EmailId => Item::EmailId,
            FetchAttribute::ThreadId => Item::ThreadId,
            FetchAttribute::Envelope => Item::Envelope,
            FetchAttribute::Body => Item::Body,
            FetchAttribute::BodyStructure => Item::BodyStructure,
            FetchAttribute::Preview { .. } => Item::Preview,
            FetchAttribute::Rfc822 => {
                set_seen = true;
                Item::Whole { name }
            }
            FetchAttribute::Rfc822Header => Item::Cut {
                name,
                cut: cut(&[], Some(&SectionText::Header), false, None),
            },
            FetchAttribute::Rfc822Text => {
                set_seen = true;
                Item::Cut {
                    name,
                    cut: cut(&[], Some(&SectionText::Text), false, None),
                }
            }
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            } => {
                set_seen |= !peek;
                whole_or_cut(name, section, *partial)
            }
            FetchAttribute::BinarySection {
                peek,
                part,
                partial,
            } => {
                set_seen |= !peek;
                Item::Cut {
                    name,
                    cut: cut(part, None, true, *partial),
                }
            }
            FetchAttribute::BinarySize { part } => {
                let mut cut = cut(part, None, true, None);
                cut.size_only = true;
                Item::BinarySize { name, cut }
            }
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if modseq && !items.contains(&Item::ModSeq) {
        items.push(Item::ModSeq);
    }
    let set_seen = set_seen && !read_only;
    if set_seen && !items.contains(&Item::Flags) {
        items.push(Item::Flags);
    }
    Plan { items, set_seen }
}

/// BODY[] without a partial streams with the metadata; anything else is cut.
fn whole_or_cut(name: String, section: &Section, partial: Option<(u64, u64)>) -> Item {
    if section.part.is_empty() && section.text.is_none() && partial.is_none() {
        Item::Whole { name }
    } else {
        Item::Cut {
            name,
            cut: cut(&section.part, section.text.as_ref(), false, partial),
        }
    }
}

/// A cut of part `parts` (also what a CATENATE URL's section names).
pub(crate) fn cut(
    parts: &[u32],
    text: Option<&SectionText>,
    binary: bool,
    partial: Option<(u64, u64)>,
) -> Cut {
    let (text, header_names) = match text {
        None => (SectionTextKind::Full, Vec::new()),
        Some(SectionText::Header) => (SectionTextKind::Header, Vec::new()),
        Some(SectionText::Text) => (SectionTextKind::Text, Vec::new()),
        Some(SectionText::Mime) => (SectionTextKind::Mime, Vec::new()),
        Some(SectionText::HeaderFields(names)) => (SectionTextKind::HeaderFields, names.clone()),
        Some(SectionText::HeaderFieldsNot(names)) => {
            (SectionTextKind::HeaderFieldsNot, names.clone())
        }
    };
    Cut {
        parts: parts.to_vec(),
        text,
        header_names,
        binary,
        partial,
        size_only: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(peek: bool, part: Vec<u32>, partial: Option<(u64, u64)>) -> FetchAttribute {
        FetchAttribute::BodySection {
            peek,
            section: Section { part, text: None },
            partial,
        }
    }

    #[test]
    fn uid_fetch_always_includes_uid() {
        let p = plan(&[FetchAttribute::Flags], true, false, false);
        assert_eq!(p.items, vec![Item::Uid, Item::Flags]);
        let p = plan(
            &[FetchAttribute::Uid, FetchAttribute::Flags],
            true,
            false,
            false,
        );
        assert_eq!(p.items, vec![Item::Uid, Item::Flags]);
    }

    #[test]
    fn non_peek_body_sets_seen_and_adds_flags() {
        let p = plan(&[body(false, vec![], None)], false, false, false);
        assert!(p.set_seen);
        assert_eq!(
            p.items,
            vec![
                Item::Whole {
                    name: "BODY[]".into()
                },
                Item::Flags
            ]
        );
        assert!(!plan(&[body(true, vec![], None)], false, false, false).set_seen);
        assert!(
            !plan(&[FetchAttribute::Rfc822], false, true, false).set_seen,
            "read-only never sets \\Seen"
        );
    }

    #[test]
    fn sections_and_partials_are_cut() {
        let p = plan(
            &[body(true, vec![1, 2], Some((10, 5)))],
            false,
            false,
            false,
        );
        let [Item::Cut { name, cut }] = p.items.as_slice() else {
            panic!("{:?}", p.items);
        };
        assert_eq!(name, "BODY[1.2]<10>");
        assert_eq!(cut.parts, vec![1, 2]);
        assert_eq!(cut.partial, Some((10, 5)));
        let p = plan(&[FetchAttribute::Rfc822Header], false, false, false);
        assert!(!p.set_seen, "RFC822.HEADER is a peek");
        assert!(
            matches!(&p.items[0], Item::Cut { cut, .. } if cut.text == SectionTextKind::Header)
        );
    }

    #[test]
    fn binary_size_and_structure_items() {
        let p = plan(
            &[
                FetchAttribute::BinarySize { part: vec![2] },
                FetchAttribute::Envelope,
                FetchAttribute::BodyStructure,
            ],
            false,
            false,
            true,
        );
        assert!(p.structure());
        assert!(!p.whole_body());
        assert!(matches!(&p.items[0], Item::BinarySize { cut, .. } if cut.size_only && cut.binary));
        assert_eq!(
            p.items.last(),
            Some(&Item::ModSeq),
            "CHANGEDSINCE adds MODSEQ"
        );
    }
}

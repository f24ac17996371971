//! FETCH items, macros, sections, partials and modifiers.

use super::{bad, body};
use crate::{
    CommandBody, Fetch, FetchAttribute as F, FetchResponse, Section, SectionText, SeqNumber,
    SeqRange, SequenceSet,
};

/// The items and modifiers of a FETCH.
fn fetch(input: &str) -> (Vec<F>, bool, Option<u64>) {
    match body(input) {
        CommandBody::Fetch(Fetch {
            items,
            uid,
            changed_since,
            ..
        }) => (items, uid, changed_since),
        other => panic!("{other:?}"),
    }
}

/// The items of `a FETCH 1 <items>`.
fn items(spec: &str) -> Vec<F> {
    fetch(&format!("a FETCH 1 {spec}\r\n")).0
}

#[test]
fn macros() {
    assert_eq!(
        items("ALL"),
        [F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
    );
    assert_eq!(items("fast"), [F::Flags, F::InternalDate, F::Rfc822Size]);
    assert_eq!(
        items("FULL"),
        [
            F::Flags,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::Body
        ]
    );
    let (_, msg) = bad("a FETCH 1 (ALL)\r\n");
    assert!(msg.contains("Macros"), "{msg}");
}

#[test]
fn simple_items() {
    assert_eq!(items("uid"), [F::Uid]);
    assert_eq!(
        items(
            "(FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)"
        ),
        [
            F::Flags,
            F::Uid,
            F::Rfc822Size,
            F::InternalDate,
            F::Envelope,
            F::Body,
            F::BodyStructure,
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Text,
            F::ModSeq
        ]
    );
}

#[test]
fn sections() {
    assert_eq!(
        items("BODY[]"),
        [F::BodySection {
            peek: false,
            section: Section::default(),
            partial: None
        }]
    );
    assert_eq!(
        items("body.peek[TEXT]<10.20>"),
        [F::BodySection {
            peek: true,
            section: Section {
                part: vec![],
                text: Some(SectionText::Text)
            },
            partial: Some((10, 20))
        }]
    );
    assert_eq!(
        items("BODY[1.2.HEADER.FIELDS (From To)]<0.100>"),
        [F::BodySection {
            peek: false,
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::HeaderFields(vec!["FROM".into(), "TO".into()]))
            },
            partial: Some((0, 100))
        }]
    );
    assert_eq!(
        items(
            "(UID BODY.PEEK[HEADER.FIELDS.NOT (\"x-spam\" {2}\r\nCc)] BODY[3.MIME] BODY[3] BODY[2.1.TEXT])"
        ),
        [
            F::Uid,
            F::BodySection {
                peek: true,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFieldsNot(vec![
                        "X-SPAM".into(),
                        "CC".into()
                    ]))
                },
                partial: None
            },
            F::BodySection {
                peek: false,
                section: Section {
                    part: vec![3],
                    text: Some(SectionText::Mime)
                },
                partial: None
            },
            F::BodySection {
                peek: false,
                section: Section {
                    part: vec![3],
                    text: None
                },
                partial: None
            },
            F::BodySection {
                peek: false,
                section: Section {
                    part: vec![2, 1],
                    text: Some(SectionText::Text)
                },
                partial: None
            },
        ]
    );
}

#[test]
fn binary_items() {
    assert_eq!(
        items("(BINARY.PEEK[1]<0.10> BINARY[] BINARY.SIZE[2.3])"),
        [
            F::BinarySection {
                peek: true,
                part: vec![1],
                partial: Some((0, 10))
            },
            F::BinarySection {
                peek: false,
                part: vec![],
                partial: None
            },
            F::BinarySize { part: vec![2, 3] },
        ]
    );
    let (_, msg) = bad("a FETCH 1 BINARY[1.TEXT]\r\n");
    assert!(msg.contains("part numbers"), "{msg}");
}

#[test]
fn bad_items() {
    for (input, expect) in [
        ("a FETCH 1 BODY[MIME]\r\n", "section text"),
        ("a FETCH 1 BODY[0]\r\n", "zero"),
        ("a FETCH 1 BODY[1.]\r\n", "section part"),
        ("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "header field list"),
        ("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "header field name"),
        ("a FETCH 1 BODY[]<1.0>\r\n", "partial length"),
        ("a FETCH 1 BODY[]<1>\r\n", "'.'"),
        ("a FETCH 1 BODY.PEEK\r\n", "'['"),
        ("a FETCH 1 FOO\r\n", "Unknown fetch item FOO"),
        ("a FETCH 1 (FLAGS\r\n", "')'"),
        ("a FETCH 1\r\n", "Missing fetch items"),
        ("a FETCH 0 FLAGS\r\n", "zero"),
        ("a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "CHANGEDSINCE"),
        ("a FETCH 1 FLAGS (VANISHED)\r\n", "VANISHED needs UID FETCH"),
        ("a FETCH 1 FLAGS (FROB 1)\r\n", "Unknown fetch modifier"),
    ] {
        let (tag, msg) = bad(input);
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(msg.contains(expect), "{input:?}: {msg}");
        assert!(msg.contains("FETCH <sequence-set>"), "{input:?}: {msg}");
    }
}

#[test]
fn uid_fetch_with_changedsince() {
    let (items, uid, changed) = fetch("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
    assert_eq!(items, [F::Flags]);
    assert!(uid);
    assert_eq!(changed, Some(12345));
    match body("a fetch 2,4:* flags\r\n") {
        CommandBody::Fetch(Fetch {
            set, uid: false, ..
        }) => assert_eq!(
            set,
            SequenceSet::Ranges(vec![
                SeqRange {
                    start: SeqNumber::Value(2),
                    end: SeqNumber::Value(2)
                },
                SeqRange {
                    start: SeqNumber::Value(4),
                    end: SeqNumber::Largest
                },
            ])
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn response_names() {
    let name = |spec: &str| FetchResponse::section_name(&items(spec)[0]);
    assert_eq!(
        name("BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100>"),
        "BODY[1.2.HEADER.FIELDS (FROM TO)]<0>"
    );
    assert_eq!(name("BODY[]"), "BODY[]");
    assert_eq!(name("BODY[3.MIME]"), "BODY[3.MIME]");
    assert_eq!(name("BODY[HEADER]"), "BODY[HEADER]");
    assert_eq!(name("BODY[1]<5.10>"), "BODY[1]<5>");
    assert_eq!(name("BINARY.PEEK[1.2]<0.10>"), "BINARY[1.2]<0>");
    assert_eq!(name("BINARY.SIZE[1]"), "BINARY.SIZE[1]");
    assert_eq!(name("RFC822"), "RFC822");
    assert_eq!(name("RFC822.HEADER"), "RFC822.HEADER");
    assert_eq!(name("BODYSTRUCTURE"), "BODYSTRUCTURE");
}

#[test]
fn extension_items() {
    assert_eq!(
        items("(PREVIEW EMAILID THREADID SAVEDATE MODSEQ)"),
        [
            F::Preview { lazy: false },
            F::EmailId,
            F::ThreadId,
            F::SaveDate,
            F::ModSeq
        ]
    );
    // RFC 8970 §4's example.
    assert_eq!(
        items("(UID PREVIEW (LAZY))"),
        [F::Uid, F::Preview { lazy: true }]
    );
    assert_eq!(items("PREVIEW (LAZY)"), [F::Preview { lazy: true }]);
    // A single PREVIEW followed by the command's modifiers.
    let (items, uid, changed) = fetch("a UID FETCH 1:* PREVIEW (CHANGEDSINCE 5)\r\n");
    assert_eq!(items, [F::Preview { lazy: false }]);
    assert!(uid);
    assert_eq!(changed, Some(5));
    assert!(
        bad("a FETCH 1 (PREVIEW (LAZY FOO))\r\n")
            .1
            .contains("preview modifier")
    );
}

#[test]
fn vanished_needs_uid_fetch_and_changedsince() {
    // RFC 7162 §3.2.6's example.
    match body("A02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n") {
        CommandBody::Fetch(Fetch {
            uid: true,
            changed_since: Some(12345),
            vanished: true,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    for input in [
        "a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)\r\n",
        "a UID FETCH 1 FLAGS (VANISHED)\r\n",
    ] {
        assert!(bad(input).1.contains("VANISHED needs"), "{input}");
    }
    assert!(
        bad("a UID FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n")
            .1
            .contains("CHANGEDSINCE")
    );
}

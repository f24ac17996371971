//! `* FETCH` and `* UIDFETCH` items beyond the basic ones: the
//! extensions' items, sections, BINARY and pre-rendered structures.

use crate::Encoder;

#[test]
fn fetch_items_of_the_extensions() {
    use crate::{DateTime, FetchResponse};
    // RFC 7162 §3.1.4, RFC 8474 §5.1, RFC 8514 §4, RFC 8970 §3.
    let mut r = FetchResponse::new(7, Encoder::ASCII);
    r.modseq(320_162_342)
        .flags(&["\\Seen".into(), "\\Deleted".into()])
        .email_id("M6d99ac3275bb4e")
        .thread_id(Some("T64b478a75b7ea9"))
        .save_date(Some(DateTime {
            unix: 837_596_665,
            offset_minutes: -420,
        }))
        .preview(Some("Preview text"));
    assert_eq!(
        String::from_utf8(r.finish()).unwrap(),
        "* 7 FETCH (MODSEQ (320162342) FLAGS (\\Seen \\Deleted) EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9) SAVEDATE \"17-Jul-1996 02:44:25 -0700\" PREVIEW \"Preview text\")\r\n"
    );
    let mut r = FetchResponse::new(1, Encoder::ASCII);
    r.thread_id(None).save_date(None).preview(None);
    assert_eq!(
        r.finish(),
        b"* 1 FETCH (THREADID NIL SAVEDATE NIL PREVIEW NIL)\r\n"
    );
    // A preview with UTF-8: a literal unless UTF-8 is on.
    let mut r = FetchResponse::new(1, Encoder::ASCII);
    r.preview(Some("caf\u{e9}"));
    assert_eq!(r.finish(), b"* 1 FETCH (PREVIEW {5}\r\ncaf\xc3\xa9)\r\n");
    let mut r = FetchResponse::new(1, Encoder::UTF8);
    r.preview(Some("caf\u{e9}"));
    assert_eq!(
        r.finish(),
        "* 1 FETCH (PREVIEW \"caf\u{e9}\")\r\n".as_bytes()
    );
}

#[test]
fn fetch_sections_binary_and_structures() {
    use crate::{FetchResponse, Parser};
    let attr = |spec: &str| {
        let line = format!("a FETCH 1 {spec}\r\n");
        match Parser::new(crate::Limits::default()).next(line.as_bytes()) {
            crate::Outcome::Command { command, .. } => match command.body {
                crate::CommandBody::Fetch(f) => f.items[0].clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    let name = |spec: &str| FetchResponse::section_name(&attr(spec));
    let envelope = crate::Envelope {
        date: Some(b"date".to_vec()),
        ..crate::Envelope::default()
    };
    let body = crate::BodyStructure {
        media_type: b"TEXT".to_vec(),
        media_subtype: b"PLAIN".to_vec(),
        params: Vec::new(),
        disposition: None,
        language: Vec::new(),
        location: None,
        content: crate::BodyContent::Single(crate::SinglePart {
            encoding: b"7BIT".to_vec(),
            size: 3,
            lines: 1,
            ..crate::SinglePart::default()
        }),
    };
    let mut r = FetchResponse::new(12, Encoder::ASCII);
    r.uid(4827313)
        .envelope(&envelope)
        .body_structure(&body)
        .body(&body)
        .literal(&name("BODY.PEEK[HEADER.FIELDS (From)]<0.100>"), b"F")
        .binary(&name("BINARY.PEEK[1]"), b"a\0b")
        .binary(&name("BINARY[2]"), b"ab")
        .number(&name("BINARY.SIZE[1]"), 3)
        .nil(&name("BODY[9.MIME]"));
    assert_eq!(
        r.finish(),
        b"* 12 FETCH (UID 4827313 ENVELOPE (\"date\" NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL) BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1) \
BODY[HEADER.FIELDS (FROM)]<0> {1}\r\nF BINARY[1] ~{3}\r\na\0b BINARY[2] {2}\r\nab BINARY.SIZE[1] 3 BODY[9.MIME] NIL)\r\n"
    );
    assert_eq!(name("PREVIEW (LAZY)"), "PREVIEW");
    assert_eq!(name("EMAILID"), "EMAILID");
    assert_eq!(name("SAVEDATE"), "SAVEDATE");
}

#[test]
fn uidonly_fetch_is_uidfetch() {
    // RFC 9586 §3.3.
    let mut r = crate::FetchResponse::uid_only(25996, Encoder::ASCII);
    r.flags(&["\\Seen".into()]);
    assert_eq!(r.finish(), b"* 25996 UIDFETCH (FLAGS (\\Seen))\r\n");
}

//! Every untagged response the server sends, against the RFCs' examples.
//! Where an RFC quotes a mailbox name that is a valid atom, the encoder
//! writes the atom (the same value on the wire); the comments say so.

use crate::{
    Encoder, Esearch, ListItem, MailboxAttribute as A, NamespaceDescr, PartialRange, SequenceSet,
    StatusValue as S, ThreadNode, capability_line, continuation, continuation_data, enabled,
    esearch, exists, expunge, flags_line, id_response, list, lsub, metadata, metadata_changed,
    namespace, recent, search_response, sort_response, status_line, thread_response, vanished,
};

/// Runs an encoder into a string.
fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("UTF-8 in test output")
}

fn set(n: &[u32]) -> SequenceSet {
    SequenceSet::from_numbers(n.iter().copied())
}

#[test]
fn sequence_sets_are_written_compactly() {
    assert_eq!(set(&[1, 2, 3, 7]).to_string(), "1:3,7");
    assert_eq!(set(&[7, 3, 1, 2, 2, 7]).to_string(), "1:3,7");
    assert_eq!(set(&[5]).to_string(), "5");
    assert_eq!(set(&[4, 5, 6, 8, 10, 11]).to_string(), "4:6,8,10:11");
    assert_eq!(
        set(&[u32::MAX - 1, u32::MAX, 1]).to_string(),
        "1,4294967294:4294967295"
    );
    assert!(set(&[]).is_empty());
    assert_eq!(SequenceSet::Saved.to_string(), "$");
}

#[test]
fn capability_and_enabled() {
    // RFC 9051 §7.2.2, RFC 5161 §4.
    assert_eq!(
        text(|o| capability_line(o, &["IMAP4rev2", "STARTTLS", "AUTH=GSSAPI", "XPIG-LATIN"])),
        "* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI XPIG-LATIN\r\n"
    );
    assert_eq!(
        text(|o| enabled(o, &["X-GOOD-IDEA"])),
        "* ENABLED X-GOOD-IDEA\r\n"
    );
    assert_eq!(text(|o| enabled(o, &[])), "* ENABLED\r\n");
}

#[test]
fn id() {
    // RFC 2971 §3.2.
    let params: &[(&str, Option<&str>)] = &[
        ("name", Some("Cyrus")),
        ("version", Some("1.5")),
        ("os", Some("sunos")),
        ("os-version", Some("5.5")),
        ("support-url", Some("mailto:cyrus-bugs+@andrew.cmu.edu")),
    ];
    assert_eq!(
        text(|o| id_response(o, Encoder::ASCII, Some(params))),
        "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\" \"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n"
    );
    assert_eq!(
        text(|o| id_response(o, Encoder::ASCII, None)),
        "* ID NIL\r\n"
    );
    assert_eq!(
        text(|o| id_response(o, Encoder::ASCII, Some(&[("vendor", None)]))),
        "* ID (\"vendor\" NIL)\r\n"
    );
}

#[test]
fn namespaces() {
    let ns = |prefix: &str, d: char| NamespaceDescr {
        prefix: prefix.into(),
        delimiter: Some(d),
    };
    // RFC 9051 §6.3.10's examples.
    assert_eq!(
        text(|o| namespace(o, Encoder::ASCII, &[ns("", '/')], &[], &[])),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
    );
    assert_eq!(
        text(|o| namespace(o, Encoder::ASCII, &[], &[], &[ns("", '.')])),
        "* NAMESPACE NIL NIL ((\"\" \".\"))\r\n"
    );
    assert_eq!(
        text(|o| namespace(
            o,
            Encoder::ASCII,
            &[ns("", '/')],
            &[ns("~", '/')],
            &[
                ns("#shared/", '/'),
                ns("#public/", '/'),
                ns("#ftp/", '/'),
                ns("#news.", '.')
            ]
        )),
        "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n"
    );
    assert_eq!(
        text(|o| namespace(
            o,
            Encoder::ASCII,
            &[ns("INBOX.", '.')],
            &[ns("#Users.", '.')],
            &[]
        )),
        "* NAMESPACE ((\"INBOX.\" \".\")) ((\"#Users.\" \".\")) NIL\r\n"
    );
}

#[test]
fn list_and_lsub_lines() {
    let item = |attrs: Vec<A>, d: char, name: &str| {
        let mut i = ListItem::new(name, Some(d));
        i.attributes = attrs;
        i
    };
    // RFC 9051 §7.3.1.
    assert_eq!(
        text(|o| list(
            o,
            Encoder::ASCII,
            &item(vec![A::NoSelect], '/', "~/Mail/foo")
        )),
        "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n"
    );
    // RFC 5258 §5 (the RFC quotes "Fruit/Peach").
    assert_eq!(
        text(|o| list(
            o,
            Encoder::ASCII,
            &item(vec![A::Subscribed, A::NonExistent], '/', "Fruit/Peach")
        )),
        "* LIST (\\Subscribed \\NonExistent) \"/\" Fruit/Peach\r\n"
    );
    let mut foo = item(vec![], '/', "Foo");
    foo.child_info_subscribed = true;
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &foo)),
        "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    );
    // RFC 9051 §6.3.9's OLDNAME.
    let mut renamed = item(vec![], '/', "NewMailbox");
    renamed.old_name = Some("OldMailbox".into());
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &renamed)),
        "* LIST () \"/\" NewMailbox (\"OLDNAME\" (OldMailbox))\r\n"
    );
    renamed.child_info_subscribed = true;
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &renamed)),
        "* LIST () \"/\" NewMailbox (\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" (OldMailbox))\r\n"
    );
    // Every attribute, special use included (RFC 6154 §5.1, RFC 8457).
    let all = vec![
        A::NonExistent,
        A::NoInferiors,
        A::NoSelect,
        A::HasChildren,
        A::HasNoChildren,
        A::Marked,
        A::Unmarked,
        A::Subscribed,
        A::Remote,
        A::All,
        A::Archive,
        A::Drafts,
        A::Flagged,
        A::Junk,
        A::Sent,
        A::Trash,
        A::Important,
        A::Other("X-Custom".into()),
    ];
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &item(all, '.', "Sent Mail"))),
        "* LIST (\\NonExistent \\Noinferiors \\Noselect \\HasChildren \\HasNoChildren \\Marked \\Unmarked \\Subscribed \\Remote \\All \\Archive \\Drafts \\Flagged \\Junk \\Sent \\Trash \\Important \\X-Custom) \".\" \"Sent Mail\"\r\n"
    );
    assert_eq!(A::special_use("\\drafts"), Some(A::Drafts));
    assert_eq!(A::special_use("\\Noselect"), None);
    // RFC 3501 §7.2.3 (LSUB), and a flat namespace (NIL delimiter).
    assert_eq!(
        text(|o| lsub(
            o,
            Encoder::ASCII,
            &item(vec![], '.', "#news.comp.mail.misc")
        )),
        "* LSUB () \".\" #news.comp.mail.misc\r\n"
    );
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &ListItem::new("INBOX", None))),
        "* LIST () NIL INBOX\r\n"
    );
    // Names: RFC 3501 §5.1.3's example in modified UTF-7, or UTF-8.
    let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &item(vec![], '/', name))),
        "* LIST () \"/\" ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n"
    );
    assert_eq!(
        text(|o| list(o, Encoder::UTF8, &item(vec![], '/', name))),
        format!("* LIST () \"/\" \"{name}\"\r\n")
    );
}

#[test]
fn status_with_every_item() {
    // RFC 9051 §7.3.4.
    assert_eq!(
        text(|o| status_line(
            o,
            Encoder::ASCII,
            "blurdybloop",
            &[S::Messages(231), S::UidNext(44292)]
        )),
        "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    );
    assert_eq!(
        text(|o| status_line(
            o,
            Encoder::ASCII,
            "Entw\u{fc}rfe",
            &[
                S::Messages(1),
                S::Recent(0),
                S::UidNext(2),
                S::UidValidity(3),
                S::Unseen(4),
                S::Deleted(5),
                S::Size(6),
                S::HighestModSeq(7),
                S::AppendLimit(Some(8)),
                S::AppendLimit(None),
                S::MailboxId("F2212ea87-6097-4256-9d51-71338625".into()),
                S::DeletedStorage(9),
            ]
        )),
        "* STATUS Entw&APw-rfe (MESSAGES 1 RECENT 0 UIDNEXT 2 UIDVALIDITY 3 UNSEEN 4 DELETED 5 SIZE 6 HIGHESTMODSEQ 7 APPENDLIMIT 8 APPENDLIMIT NIL MAILBOXID (F2212ea87-6097-4256-9d51-71338625) DELETED-STORAGE 9)\r\n"
    );
}

#[test]
fn esearch_search_and_sort() {
    let tagged = |tag: &str| Esearch {
        tag: Some(tag.into()),
        ..Esearch::default()
    };
    // RFC 4731 §4.
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                min: Some(2),
                count: Some(3),
                ..tagged("A282")
            }
        )),
        "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
    );
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                all: Some(set(&[2, 10, 11])),
                ..tagged("A283")
            }
        )),
        "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n"
    );
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                uid: true,
                min: Some(7),
                max: Some(3800),
                ..tagged("A285")
            }
        )),
        "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n"
    );
    // Nothing matched: no ALL (an empty set has no syntax), COUNT 0.
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                all: Some(set(&[])),
                count: Some(0),
                ..tagged("A286")
            }
        )),
        "* ESEARCH (TAG \"A286\") COUNT 0\r\n"
    );
    // RFC 7162 §3.1.5.
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                all: Some(set(&[1, 2, 3, 5])),
                modseq: Some(1236),
                ..tagged("a")
            }
        )),
        "* ESEARCH (TAG \"a\") ALL 1:3,5 MODSEQ 1236\r\n"
    );
    // RFC 5267 §4.
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                uid: true,
                add_to: vec![(0, set(&[32768, 32769]))],
                ..tagged("B01")
            }
        )),
        "* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n"
    );
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                uid: true,
                remove_from: vec![(0, set(&[32768])), (3, set(&[7]))],
                ..tagged("B01")
            }
        )),
        "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 32768 3 7)\r\n"
    );
    // RFC 9394 §3.1.
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                uid: true,
                partial: Some((PartialRange::Last(1, 100), Some(set(&[200, 201, 202, 250])))),
                ..tagged("A01")
            }
        )),
        "* ESEARCH (TAG \"A01\") UID PARTIAL (-1:-100 200:202,250)\r\n"
    );
    assert_eq!(
        text(|o| esearch(
            o,
            &Esearch {
                partial: Some((PartialRange::First(1, 10), None)),
                ..tagged("A02")
            }
        )),
        "* ESEARCH (TAG \"A02\") PARTIAL (1:10 NIL)\r\n"
    );
    assert_eq!(text(|o| esearch(o, &Esearch::default())), "* ESEARCH\r\n");
    // RFC 9051 §7.3.5 (IMAP4rev1 SEARCH), RFC 7162 §3.1.5, RFC 5256 §4.
    assert_eq!(
        text(|o| search_response(o, &[2, 3, 6], None)),
        "* SEARCH 2 3 6\r\n"
    );
    assert_eq!(text(|o| search_response(o, &[], Some(5))), "* SEARCH\r\n");
    assert_eq!(
        text(|o| search_response(o, &[2, 5, 6, 7, 11, 12, 18, 19, 20, 23], Some(917_162_500))),
        "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n"
    );
    assert_eq!(
        text(|o| sort_response(o, &[2, 84, 882], None)),
        "* SORT 2 84 882\r\n"
    );
    assert_eq!(
        text(|o| sort_response(o, &[5, 3], Some(9))),
        "* SORT 5 3 (MODSEQ 9)\r\n"
    );
}

/// A thread node.
fn node(id: u32, children: Vec<ThreadNode>) -> ThreadNode {
    ThreadNode {
        id: Some(id),
        children,
    }
}

#[test]
fn threads_in_the_nested_form() {
    // RFC 5256 §4's format examples.
    let threads = vec![
        node(2, vec![]),
        node(
            3,
            vec![node(
                6,
                vec![
                    node(4, vec![node(23, vec![])]),
                    node(44, vec![node(7, vec![node(96, vec![])])]),
                ],
            )],
        ),
    ];
    assert_eq!(
        text(|o| thread_response(o, &threads)),
        "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    );
    let dummy = ThreadNode {
        id: None,
        children: vec![node(3, vec![]), node(5, vec![])],
    };
    assert_eq!(
        text(|o| thread_response(o, &[dummy])),
        "* THREAD ((3)(5))\r\n"
    );
    // A dummy with one child is just the child; an empty one is nothing.
    let single = ThreadNode {
        id: None,
        children: vec![node(9, vec![node(10, vec![])])],
    };
    let empty = ThreadNode {
        id: None,
        children: vec![],
    };
    assert_eq!(
        text(|o| thread_response(o, &[single, empty])),
        "* THREAD (9 10)\r\n"
    );
    assert_eq!(text(|o| thread_response(o, &[])), "* THREAD\r\n");
    // RFC 5256 §4's long example, from the parent links it describes.
    let threads = vec![
        node(166, vec![]),
        node(167, vec![]),
        node(168, vec![]),
        node(169, vec![]),
        node(172, vec![]),
        node(170, vec![]),
        node(171, vec![]),
        node(173, vec![]),
        node(
            174,
            vec![
                node(175, vec![]),
                node(176, vec![]),
                node(178, vec![]),
                node(181, vec![]),
                node(180, vec![]),
            ],
        ),
        node(179, vec![]),
        node(
            177,
            [183, 182, 188, 184, 185, 186, 187, 189]
                .iter()
                .map(|&n| node(n, vec![]))
                .collect(),
        ),
        node(190, vec![]),
        node(191, vec![]),
        node(192, vec![]),
        node(193, vec![]),
        node(194, vec![node(195, vec![])]),
        node(196, vec![node(197, vec![]), node(198, vec![])]),
        node(199, vec![]),
        node(200, vec![node(202, vec![])]),
        node(201, vec![]),
        node(203, vec![]),
        node(204, vec![]),
        node(205, vec![]),
        node(206, vec![node(207, vec![])]),
        node(208, vec![]),
    ];
    assert_eq!(
        text(|o| thread_response(o, &threads)),
        "* THREAD (166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)\r\n"
    );
}

/// Drops a tree without recursion (the derived drop would recurse once
/// per level).
fn dismantle(root: ThreadNode) {
    let mut stack = vec![root];
    while let Some(mut node) = stack.pop() {
        stack.append(&mut node.children);
    }
}

#[test]
fn deep_threads_do_not_exhaust_the_stack() {
    // A reply chain 200,000 long, then a comb of nested branches.
    let mut chain = node(200_000, vec![]);
    for id in (1..200_000).rev() {
        chain = node(id, vec![chain]);
    }
    let out = text(|o| thread_response(o, std::slice::from_ref(&chain)));
    assert!(out.starts_with("* THREAD (1 2 3 "));
    assert!(out.ends_with(" 199999 200000)\r\n"));
    dismantle(chain);
    let mut comb = node(0, vec![]);
    for id in 1..100_000 {
        comb = node(id, vec![node(1_000_000 + id, vec![]), comb]);
    }
    let out = text(|o| thread_response(o, std::slice::from_ref(&comb)));
    assert_eq!(
        out.bytes().filter(|&b| b == b'(').count(),
        out.bytes().filter(|&b| b == b')').count()
    );
    dismantle(comb);
}

#[test]
fn mailbox_state_lines() {
    // RFC 9051 §7.3.2, §7.4.1, RFC 3501 §7.3.2, RFC 7162 §3.2.10.
    let flags: Vec<String> = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        text(|o| flags_line(o, &flags)),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    );
    assert_eq!(text(|o| exists(o, 23)), "* 23 EXISTS\r\n");
    assert_eq!(text(|o| recent(o, 5)), "* 5 RECENT\r\n");
    assert_eq!(text(|o| expunge(o, 44)), "* 44 EXPUNGE\r\n");
    assert_eq!(
        text(|o| vanished(
            o,
            true,
            &set(&[
                300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 405, 411
            ])
        )),
        "* VANISHED (EARLIER) 300:310,405,411\r\n"
    );
    assert_eq!(
        text(|o| vanished(o, false, &set(&[405, 407, 410, 425]))),
        "* VANISHED 405,407,410,425\r\n"
    );
    assert_eq!(text(|o| vanished(o, false, &set(&[]))), "");
}

#[test]
fn metadata_values_and_changes() {
    // RFC 5464 §4.4.
    assert_eq!(
        text(|o| metadata(
            o,
            Encoder::ASCII,
            "",
            &[("/shared/comment".into(), Some(b"Shared comment".to_vec()))]
        )),
        "* METADATA \"\" (/shared/comment \"Shared comment\")\r\n"
    );
    assert_eq!(
        text(|o| metadata(
            o,
            Encoder::ASCII,
            "INBOX",
            &[
                ("/private/comment".into(), Some(b"My comment".to_vec())),
                (
                    "/shared/comment".into(),
                    Some(b"Its sunny outside!".to_vec())
                ),
                ("/shared/gone".into(), None),
            ]
        )),
        "* METADATA INBOX (/private/comment \"My comment\" /shared/comment \"Its sunny outside!\" /shared/gone NIL)\r\n"
    );
    assert_eq!(
        text(|o| metadata(
            o,
            Encoder::ASCII,
            "INBOX",
            &[
                ("/shared/a".into(), Some(b"two\r\nlines".to_vec())),
                ("/shared/b".into(), Some(b"n\0l".to_vec())),
            ]
        )),
        "* METADATA INBOX (/shared/a {10}\r\ntwo\r\nlines /shared/b ~{3}\r\nn\0l)\r\n"
    );
    assert_eq!(
        text(|o| metadata_changed(
            o,
            Encoder::ASCII,
            "INBOX",
            &["/shared/comment".into(), "/private/comment".into()]
        )),
        "* METADATA INBOX /shared/comment /private/comment\r\n"
    );
}

#[test]
fn continuation_requests() {
    assert_eq!(
        text(|o| continuation(o, "Ready for additional command text")),
        "+ Ready for additional command text\r\n"
    );
    assert_eq!(text(|o| continuation_data(o, b"")), "+ \r\n");
    // RFC 4616-style challenge data, base64.
    assert_eq!(
        text(|o| continuation_data(o, b"hi there")),
        "+ aGkgdGhlcmU=\r\n"
    );
}

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
    let mut r = FetchResponse::new(12, Encoder::ASCII);
    r.uid(4827313)
        .envelope(b"(\"date\" NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
        .body_structure(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)")
        .body(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)")
        .literal(&name("BODY.PEEK[HEADER.FIELDS (From)]<0.100>"), b"F")
        .binary(&name("BINARY.PEEK[1]"), b"a\0b")
        .binary(&name("BINARY[2]"), b"ab")
        .number(&name("BINARY.SIZE[1]"), 3)
        .nil(&name("BODY[9.MIME]"));
    assert_eq!(
        r.finish(),
        b"* 12 FETCH (UID 4827313 ENVELOPE (\"date\" NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1) BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1) \
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

//! Every untagged response the server sends, against the RFCs' examples.
//! Where an RFC quotes a mailbox name that is a valid atom, the encoder
//! writes the atom (the same value on the wire); the comments say so.

use crate::{
    Encoder, Esearch, ListItem, MailboxAttribute as A, NamespaceDescr, PartialRange, SequenceSet,
    StatusValue as S, capability_line, continuation, continuation_data, enabled, esearch, exists,
    expunge, flags_line, id_response, list, lsub, metadata, metadata_changed, namespace, recent,
    search_response, sort_response, status_line, vanished,
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

//! SEARCH and UID SEARCH arguments.

use super::{bad, body};
use crate::{CommandBody, Search, SearchDate, SearchKey, SeqNumber, SeqRange, SequenceSet};

fn key(input: &str) -> SearchKey {
    match body(input) {
        CommandBody::Search(Search { key, .. }) => key,
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn single_keys_and_arguments() {
    assert_eq!(key("a SEARCH ALL\r\n"), SearchKey::All);
    assert_eq!(key("a search unseen\r\n"), SearchKey::Unseen);
    assert_eq!(
        key("a SEARCH TEXT \"hello world\"\r\n"),
        SearchKey::Text("hello world".into())
    );
    assert_eq!(
        key("a SEARCH FROM {3}\r\nann\r\n"),
        SearchKey::From("ann".into())
    );
    assert_eq!(
        key("a SEARCH HEADER List-Id foo\r\n"),
        SearchKey::Header("List-Id".into(), "foo".into())
    );
    assert_eq!(
        key("a SEARCH SINCE 1-Feb-2024\r\n"),
        SearchKey::Since(SearchDate {
            year: 2024,
            month: 2,
            day: 1
        })
    );
    assert_eq!(
        key("a SEARCH SENTON \"29-Feb-2024\"\r\n"),
        SearchKey::SentOn(SearchDate {
            year: 2024,
            month: 2,
            day: 29
        })
    );
    assert_eq!(key("a SEARCH LARGER 1000\r\n"), SearchKey::Larger(1000));
    assert_eq!(
        key("a SEARCH KEYWORD $Junk\r\n"),
        SearchKey::Keyword("$Junk".into())
    );
    assert_eq!(
        key("a SEARCH MODSEQ 42\r\n"),
        SearchKey::ModSeq {
            entry: None,
            modseq: 42
        }
    );
    assert_eq!(
        key("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n"),
        SearchKey::ModSeq {
            entry: Some(crate::ModSeqEntry {
                flag: "\\Draft".into(),
                kind: crate::EntryKind::All
            }),
            modseq: 620_162_338
        }
    );
}

#[test]
fn sets_nesting_and_charset() {
    let one_to_star = SequenceSet::Ranges(vec![SeqRange {
        start: SeqNumber::Value(1),
        end: SeqNumber::Largest,
    }]);
    assert_eq!(
        key("a SEARCH 1:*\r\n"),
        SearchKey::Sequence(one_to_star.clone())
    );
    assert_eq!(key("a SEARCH UID 1:*\r\n"), SearchKey::Uid(one_to_star));
    assert_eq!(
        key("a SEARCH NOT (SEEN FLAGGED)\r\n"),
        SearchKey::Not(Box::new(SearchKey::And(vec![
            SearchKey::Seen,
            SearchKey::Flagged
        ])))
    );
    assert_eq!(
        key("a SEARCH OR SEEN NOT DRAFT DELETED\r\n"),
        SearchKey::And(vec![
            SearchKey::Or(
                Box::new(SearchKey::Seen),
                Box::new(SearchKey::Not(Box::new(SearchKey::Draft)))
            ),
            SearchKey::Deleted
        ])
    );
    match body("a UID SEARCH CHARSET utf-8 SUBJECT \"caf\u{e9}\"\r\n") {
        CommandBody::Search(Search {
            uid,
            charset,
            key,
            returns: None,
        }) => {
            assert!(uid);
            assert_eq!(charset.as_deref(), Some("UTF-8"));
            assert_eq!(key, SearchKey::Subject("caf\u{e9}".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_searches_are_bad() {
    for input in [
        "a SEARCH\r\n",
        "a SEARCH FROB\r\n",
        "a SEARCH SINCE 31-Feb-2024\r\n",
        "a SEARCH SINCE yesterday\r\n",
        "a SEARCH (SEEN\r\n",
        "a SEARCH OR SEEN\r\n",
        "a SEARCH LARGER x\r\n",
    ] {
        let (tag, _message) = bad(input);
        assert_eq!(tag.as_deref(), Some("a"), "{input:?}");
    }
    let deep = format!("a SEARCH {}SEEN\r\n", "NOT ".repeat(100));
    let (_, message) = bad(deep);
    assert!(message.contains("nest"), "{message}");
}

fn search(input: &str) -> Search {
    match body(input) {
        CommandBody::Search(s) => s,
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn extension_keys() {
    use crate::SearchKey as K;
    assert_eq!(key("a SEARCH OLDER 3600\r\n"), K::Older(3600));
    assert_eq!(key("a SEARCH younger 60\r\n"), K::Younger(60));
    assert_eq!(
        key("a SEARCH EMAILID M6d99ac3275bb4e\r\n"),
        K::EmailId("M6d99ac3275bb4e".into())
    );
    assert_eq!(
        key("a SEARCH THREADID \"T64b478a75b7ea9\"\r\n"),
        K::ThreadId("T64b478a75b7ea9".into())
    );
    assert_eq!(
        key("a SEARCH SAVEDBEFORE 1-Jan-2020\r\n"),
        K::SavedBefore(SearchDate {
            year: 2020,
            month: 1,
            day: 1
        })
    );
    assert_eq!(key("a SEARCH SAVEDATESUPPORTED\r\n"), K::SaveDateSupported);
    assert_eq!(key("a SEARCH $\r\n"), K::Sequence(SequenceSet::Saved));
    assert_eq!(key("a SEARCH UID $\r\n"), K::Uid(SequenceSet::Saved));
    assert_eq!(key("a SEARCH NEW\r\n"), K::New);
    assert_eq!(key("a SEARCH RECENT\r\n"), K::Recent);
    assert_eq!(
        key("a SEARCH MODSEQ \"/flags/$Junk\" priv 5\r\n"),
        K::ModSeq {
            entry: Some(crate::ModSeqEntry {
                flag: "$Junk".into(),
                kind: crate::EntryKind::Private
            }),
            modseq: 5
        }
    );
    for (input, expect) in [
        ("a SEARCH OLDER 0\r\n", "above zero"),
        ("a SEARCH EMAILID a.b\r\n", "Invalid email id"),
        ("a SEARCH THREADID \"\"\r\n", "Invalid thread id"),
        ("a SEARCH MODSEQ \"/x/y\" all 5\r\n", "/flags/"),
        (
            "a SEARCH MODSEQ \"/flags/\\\\Seen\" most 5\r\n",
            "entry type",
        ),
        ("a SEARCH MODSEQ 9223372036854775808\r\n", "mod-sequence"),
        ("a SEARCH KEYWORD NIL\r\n", "NIL is not a valid keyword"),
        ("a SEARCH UNKEYWORD nil\r\n", "NIL is not a valid keyword"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn return_options_and_charset() {
    use crate::{PartialRange, SearchReturn as R};
    // RFC 4731 §4's examples.
    let s =
        search("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert_eq!(s.returns, Some(vec![R::Min, R::Count]));
    assert!(matches!(s.key, SearchKey::And(ref keys) if keys.len() == 3));
    let s = search("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert_eq!(s.returns, Some(vec![R::All]));
    let s = search("A285 UID SEARCH RETURN (ALL) SINCE 1-Feb-1994\r\n");
    assert!(s.uid);
    assert_eq!(s.returns, Some(vec![R::All]));
    // RFC 5182 SAVE, RFC 5267 CONTEXT/UPDATE, RFC 9394 PARTIAL.
    let s = search("a UID SEARCH RETURN (SAVE MAX) CHARSET US-ASCII SEEN\r\n");
    assert_eq!(s.returns, Some(vec![R::Save, R::Max]));
    assert_eq!(s.charset.as_deref(), Some("US-ASCII"));
    let s = search("B01 UID SEARCH RETURN (UPDATE CONTEXT MIN) UNSEEN\r\n");
    assert_eq!(s.returns, Some(vec![R::Update, R::Context, R::Min]));
    let s = search("a SEARCH RETURN (PARTIAL 1:500 COUNT) ALL\r\n");
    assert_eq!(
        s.returns,
        Some(vec![R::Partial(PartialRange::First(1, 500)), R::Count])
    );
    let s = search("a SEARCH RETURN (PARTIAL -1:-100) ALL\r\n");
    assert_eq!(
        s.returns,
        Some(vec![R::Partial(PartialRange::Last(1, 100))])
    );
    for (input, expect) in [
        ("a SEARCH RETURN (FOO) ALL\r\n", "Unknown return option FOO"),
        ("a SEARCH RETURN MIN ALL\r\n", "'('"),
        ("a SEARCH RETURN (MIN)\r\n", "Missing search key"),
        ("a SEARCH RETURN (PARTIAL 0:5) ALL\r\n", "zero"),
        ("a SEARCH RETURN (PARTIAL -1:5) ALL\r\n", "'-'"),
        ("a SEARCH CHARSET UTF-8\r\n", "Missing search key"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn unknown_charset_is_no_badcharset() {
    // Also when a string is not UTF-8: the client said it is not.
    for input in [
        &b"a SEARCH CHARSET X-NO-SUCH TEXT x\r\n"[..],
        b"a SEARCH CHARSET X-NO-SUCH TEXT {2+}\r\n\xc1\xc2\r\n",
        b"a SORT (DATE) X-NO-SUCH ALL\r\n",
        b"a THREAD REFS X-NO-SUCH ALL\r\n",
    ] {
        let outs = super::outcomes(input);
        match outs.as_slice() {
            [
                crate::Outcome::Error {
                    tag: Some(tag),
                    code: Some(crate::Code::BadCharset(supported)),
                    close: false,
                    ..
                },
            ] => {
                assert_eq!(tag, "a");
                assert_eq!(supported, &["UTF-8", "US-ASCII"]);
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn other_charsets_are_decoded_to_utf8() {
    // KOI8-R: "аб" and "caf" + "И" (0xE9 there), the strings UTF-8 after.
    match body(&b"a SEARCH CHARSET KOI8-R TEXT {2}\r\n\xc1\xc2 SUBJECT {4}\r\ncaf\xe9\r\n"[..]) {
        CommandBody::Search(Search { charset, key, .. }) => {
            assert_eq!(charset.as_deref(), Some("UTF-8"));
            assert_eq!(
                key,
                SearchKey::And(vec![
                    SearchKey::Text("\u{430}\u{431}".into()),
                    SearchKey::Subject("caf\u{418}".into()),
                ])
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        key_bytes(b"a SEARCH CHARSET iso-8859-1 HEADER X-Note \"caf\xe9\"\r\n"),
        SearchKey::Header("X-Note".into(), "caf\u{e9}".into())
    );
    assert_eq!(
        key_bytes(b"a SEARCH CHARSET \"Shift_JIS\" BODY {4}\r\n\x90\xa2\x8aE\r\n"),
        SearchKey::Body("\u{4e16}\u{754c}".into())
    );
    match body(&b"a SORT (SUBJECT) windows-1252 FROM \"\x80\"\r\n"[..]) {
        CommandBody::Sort(sort) => {
            assert_eq!(sort.charset, "UTF-8");
            assert_eq!(sort.key, SearchKey::From("\u{20ac}".into()));
        }
        other => panic!("{other:?}"),
    }
    match body(&b"a THREAD REFS ISO-8859-15 TO \"\xa4\"\r\n"[..]) {
        CommandBody::Thread(thread) => {
            assert_eq!(thread.charset, "UTF-8");
            assert_eq!(thread.key, SearchKey::To("\u{20ac}".into()));
        }
        other => panic!("{other:?}"),
    }
    // Bytes that are not text in the named charset are a BAD.
    let (_, msg) = bad(&b"a SEARCH CHARSET Shift_JIS TEXT {1}\r\n\x82\r\n"[..]);
    assert!(msg.contains("Invalid Shift_JIS in TEXT string"), "{msg}");
    let (_, msg) = bad(&b"a SEARCH CHARSET UTF-8 TEXT {1}\r\n\xe9\r\n"[..]);
    assert!(msg.contains("Invalid UTF-8 in TEXT string"), "{msg}");
}

fn key_bytes(input: &[u8]) -> SearchKey {
    match body(input) {
        CommandBody::Search(Search { key, .. }) => key,
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn nesting_is_limited_with_a_reason() {
    // 60 to 63 levels used to pass the parser and fail in storage.
    for depth in [33, 60, 63, 64, 100] {
        let parens = format!(
            "a SEARCH {}SEEN{}\r\n",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let (_, message) = bad(parens);
        assert!(message.contains("nest"), "{depth}: {message}");
        assert!(
            message.contains(&crate::MAX_SEARCH_DEPTH.to_string()),
            "{message}"
        );
        let nots = format!("a SEARCH {}SEEN\r\n", "NOT ".repeat(depth));
        assert!(bad(nots).1.contains("nest"));
        let ors = format!("a SEARCH {}SEEN{}\r\n", "OR ALL ".repeat(depth), "");
        assert!(bad(ors).1.contains("nest"));
    }
    let at_limit = crate::MAX_SEARCH_DEPTH;
    let parens = format!(
        "a SEARCH {}SEEN{}\r\n",
        "(".repeat(at_limit),
        ")".repeat(at_limit)
    );
    let mut key = search(&parens).key;
    for _ in 0..at_limit {
        key = match key {
            SearchKey::And(mut keys) if keys.len() == 1 => keys.remove(0),
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(key, SearchKey::Seen);
}

#[test]
fn sort_with_criteria_charset_and_return() {
    use crate::{Sort, SortCriterion, SortKey as S};
    let sort = |input: &str| match body(input) {
        CommandBody::Sort(s) => s,
        other => panic!("{other:?}"),
    };
    // RFC 5256 §3's example.
    assert_eq!(
        sort("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n"),
        Sort {
            uid: false,
            returns: None,
            criteria: vec![SortCriterion {
                reverse: false,
                key: S::Subject
            }],
            charset: "UTF-8".into(),
            key: SearchKey::Since(SearchDate {
                year: 1994,
                month: 2,
                day: 1
            }),
        }
    );
    let s = sort(
        "A283 UID SORT (REVERSE DATE DISPLAYFROM reverse displayto ARRIVAL CC FROM SIZE TO) US-ASCII ALL\r\n",
    );
    assert!(s.uid);
    assert_eq!(
        s.criteria
            .iter()
            .map(|c| (c.reverse, c.key))
            .collect::<Vec<_>>(),
        [
            (true, S::Date),
            (false, S::DisplayFrom),
            (true, S::DisplayTo),
            (false, S::Arrival),
            (false, S::Cc),
            (false, S::From),
            (false, S::Size),
            (false, S::To),
        ]
    );
    // RFC 5267 §3's example.
    let s = sort("A283 SORT RETURN (COUNT) (DATE) UTF-8 SINCE 1-Feb-1994\r\n");
    assert_eq!(s.returns, Some(vec![crate::SearchReturn::Count]));
    for (input, expect) in [
        ("a SORT (FOO) UTF-8 ALL\r\n", "Unknown sort key FOO"),
        ("a SORT () UTF-8 ALL\r\n", "sort key"),
        ("a SORT (DATE) ALL\r\n", "Missing search key"),
        ("a SORT DATE UTF-8 ALL\r\n", "'('"),
        ("a SORT (REVERSE) UTF-8 ALL\r\n", "sort key"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn thread_with_each_algorithm() {
    use crate::{Thread, ThreadAlgorithm as T};
    for (name, algorithm) in [
        ("ORDEREDSUBJECT", T::OrderedSubject),
        ("references", T::References),
        ("REFS", T::Refs),
    ] {
        match body(format!("a UID THREAD {name} UTF-8 SINCE 5-MAR-2000\r\n")) {
            CommandBody::Thread(Thread {
                uid: true,
                algorithm: a,
                charset,
                ..
            }) => {
                assert_eq!(a, algorithm);
                assert_eq!(charset, "UTF-8");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        bad("a THREAD FOO UTF-8 ALL\r\n")
            .1
            .contains("Unknown threading algorithm FOO")
    );
    assert!(bad("a THREAD REFS ALL\r\n").1.contains("search key"));
}

#[test]
fn cancelupdate_takes_tags() {
    assert_eq!(
        body("C01 CANCELUPDATE \"B01\" \"B02\"\r\n"),
        CommandBody::CancelUpdate(crate::CancelUpdate {
            tags: vec!["B01".into(), "B02".into()]
        })
    );
    assert!(bad("a CANCELUPDATE\r\n").1.contains("Missing tag"));
    assert!(bad("a CANCELUPDATE B01\r\n").1.contains("string"));
}

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

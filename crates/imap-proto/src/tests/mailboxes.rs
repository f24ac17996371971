//! Mailbox commands: LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB,
//! STATUS, CREATE (USE), SELECT/EXAMINE (CONDSTORE, QRESYNC), SUBSCRIBE,
//! UNSUBSCRIBE, DELETE, RENAME, COPY, MOVE.

use super::{bad, body};
use crate::{
    CommandBody as B, CopyMove, Create, Delete, List, ListReturn, ListSelect, QResync, Select,
    SeqNumber, SeqRange, SequenceSet, Status, StatusItem, Subscribe, Unsubscribe,
};

fn list(input: &str) -> List {
    match body(input) {
        B::List(list) => list,
        other => panic!("{other:?}"),
    }
}

fn set(ranges: &[(u32, u32)]) -> SequenceSet {
    SequenceSet::Ranges(
        ranges
            .iter()
            .map(|&(a, b)| SeqRange {
                start: SeqNumber::Value(a),
                end: SeqNumber::Value(b),
            })
            .collect(),
    )
}

#[test]
fn list_extended_selection_patterns_and_return_options() {
    // RFC 5258 §5's examples.
    let l = list("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n");
    assert!(l.select.subscribed && l.returns.subscribed && l.extended);
    let l = list("A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert_eq!(l.select, ListSelect::default());
    assert!(l.returns.children && l.extended);
    let l = list("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert!(l.select.remote);
    let l = list("A05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert!(l.select.subscribed && l.select.recursive_match);
    let l = list("A06 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n");
    assert_eq!(l.patterns, ["INBOX", "Drafts", "Sent/%"]);
    assert!(l.extended);
    let l = list("t1 LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE)\r\n");
    assert!(l.select.special_use && l.returns.special_use);
    // RFC 5819's example.
    let l = list("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n");
    assert_eq!(
        l.returns,
        ListReturn {
            status: Some(vec![StatusItem::Messages, StatusItem::Unseen]),
            ..ListReturn::default()
        }
    );
    let l = list("a LIST \"\" * RETURN (SUBSCRIBED MYRIGHTS)\r\n");
    assert!(l.returns.subscribed && l.returns.my_rights);
    let l = list("a LIST \"\" *\r\n");
    assert!(!l.extended);
}

#[test]
fn list_extended_errors() {
    for (input, expect) in [
        ("a LIST (RECURSIVEMATCH) \"\" *\r\n", "RECURSIVEMATCH"),
        (
            "a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n",
            "RECURSIVEMATCH",
        ),
        (
            "a LIST (FOO) \"\" *\r\n",
            "Unknown LIST selection option FOO",
        ),
        (
            "a LIST \"\" * RETURN (FOO)\r\n",
            "Unknown LIST return option FOO",
        ),
        ("a LIST \"\" * (CHILDREN)\r\n", "RETURN"),
        ("a LIST \"\" * RETURN (STATUS ())\r\n", "status item"),
        ("a LIST \"\" ()\r\n", "mailbox pattern"),
        ("a LIST (SUBSCRIBED)\r\n", "Missing reference name"),
    ] {
        let (tag, msg) = bad(input);
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn lsub_takes_a_reference_and_a_pattern() {
    match body("a LSUB \"\" news.*\r\n") {
        B::Lsub(l) => {
            assert_eq!(l.reference, "");
            assert_eq!(l.pattern, "news.*");
        }
        other => panic!("{other:?}"),
    }
    assert!(bad("a LSUB \"\"\r\n").1.contains("Missing mailbox pattern"));
    assert!(bad("a LSUB \"\" (a b)\r\n").1.contains("pattern"));
}

#[test]
fn status_takes_every_item() {
    assert_eq!(
        body(
            "a STATUS x (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ appendlimit MAILBOXID DELETED-STORAGE)\r\n"
        ),
        B::Status(Status {
            mailbox: "x".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::Deleted,
                StatusItem::Size,
                StatusItem::HighestModSeq,
                StatusItem::AppendLimit,
                StatusItem::MailboxId,
                StatusItem::DeletedStorage,
            ]
        })
    );
}

#[test]
fn create_with_special_use() {
    // RFC 6154 §5.2's example.
    assert_eq!(
        body("t1 CREATE \"Important Messages\" (USE (\\Important))\r\n"),
        B::Create(Create {
            mailbox: "Important Messages".into(),
            special_use: vec!["\\Important".into()]
        })
    );
    assert_eq!(
        body("t1 CREATE Stuff (use (\\drafts \\x-custom))\r\n"),
        B::Create(Create {
            mailbox: "Stuff".into(),
            special_use: vec!["\\Drafts".into(), "\\x-custom".into()]
        })
    );
    assert_eq!(
        body("t1 CREATE Stuff (USE ())\r\n"),
        B::Create(Create {
            mailbox: "Stuff".into(),
            special_use: vec![]
        })
    );
    for (input, expect) in [
        ("a CREATE x (FOO)\r\n", "Unknown CREATE parameter FOO"),
        ("a CREATE x (USE (Drafts))\r\n", "special-use attribute"),
        ("a CREATE x (USE \\Drafts)\r\n", "'('"),
        ("a CREATE x USE\r\n", "'('"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn select_and_examine_with_condstore_and_qresync() {
    assert_eq!(
        body("a SELECT INBOX (CONDSTORE)\r\n"),
        B::Select(Select {
            mailbox: "INBOX".into(),
            condstore: true,
            qresync: None
        })
    );
    // RFC 7162 §3.2.5.2's example.
    assert_eq!(
        body("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n"),
        B::Select(Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: Some(QResync {
                uidvalidity: 67_890_007,
                modseq: 20_050_715_194_045_000,
                known_uids: Some(set(&[(41, 41), (43, 211), (214, 541)])),
                seq_match: None,
            })
        })
    );
    assert_eq!(
        body(
            "B04 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))\r\n"
        ),
        B::Examine(Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: Some(QResync {
                uidvalidity: 67_890_007,
                modseq: 90_060_115_194_045_000,
                known_uids: Some(set(&[(1, 29997)])),
                seq_match: Some((
                    set(&[(5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)]),
                    set(&[
                        (15000, 15000),
                        (22500, 22500),
                        (27000, 27000),
                        (29970, 29970),
                        (29973, 29973),
                        (29976, 29979)
                    ])
                )),
            })
        })
    );
    match body("a SELECT x (QRESYNC (1 2 (3 4)))\r\n") {
        B::Select(Select {
            qresync: Some(q), ..
        }) => {
            assert_eq!(q.known_uids, None);
            assert_eq!(q.seq_match, Some((set(&[(3, 3)]), set(&[(4, 4)]))));
        }
        other => panic!("{other:?}"),
    }
    for (input, expect) in [
        ("a SELECT x (FOO)\r\n", "Unknown select parameter FOO"),
        ("a SELECT x (QRESYNC (0 5))\r\n", "zero"),
        ("a SELECT x (QRESYNC (1 0))\r\n", "mod-sequence"),
        ("a SELECT x (QRESYNC (1 5 1:*))\r\n", "'*'"),
        ("a SELECT x (QRESYNC (1 5 $))\r\n", "'$'"),
        ("a SELECT x (QRESYNC (1))\r\n", "before mod-sequence"),
        ("a SELECT x (QRESYNC (1 5 1 (2)))\r\n", "known UID set"),
        ("a SELECT x ()\r\n", "select parameter"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn subscriptions_delete_copy_and_move() {
    assert_eq!(
        body("a SUBSCRIBE #news.comp.mail.mime\r\n"),
        B::Subscribe(Subscribe {
            mailbox: "#news.comp.mail.mime".into()
        })
    );
    assert_eq!(
        body("a UNSUBSCRIBE inbox\r\n"),
        B::Unsubscribe(Unsubscribe {
            mailbox: "INBOX".into()
        })
    );
    assert_eq!(
        body("a DELETE blurdybloop\r\n"),
        B::Delete(Delete {
            mailbox: "blurdybloop".into()
        })
    );
    assert_eq!(
        body("a COPY 2:4 MEETING\r\n"),
        B::Copy(CopyMove {
            uid: false,
            set: set(&[(2, 4)]),
            mailbox: "MEETING".into()
        })
    );
    assert_eq!(
        body("a UID MOVE 42:69 foo\r\n"),
        B::Move(CopyMove {
            uid: true,
            set: set(&[(42, 69)]),
            mailbox: "foo".into()
        })
    );
    assert_eq!(
        body("a MOVE $ Trash\r\n"),
        B::Move(CopyMove {
            uid: false,
            set: SequenceSet::Saved,
            mailbox: "Trash".into()
        })
    );
    for (input, expect) in [
        ("a SUBSCRIBE\r\n", "Missing mailbox name"),
        ("a UNSUBSCRIBE a b\r\n", "extra"),
        ("a COPY 1\r\n", "Missing mailbox name"),
        ("a MOVE x Trash\r\n", "sequence number"),
        ("a UID COPY 1:2\r\n", "UID COPY <sequence-set> <mailbox>"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

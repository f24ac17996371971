//! Each command's happy paths and argument errors.

use super::{bad, body, outcomes, parse};
use crate::{
    Authenticate, Capability, Check, Close, CommandBody as B, Create, Delete, Expunge, List,
    ListReturn, ListSelect, Login, Logout, Lsub, Noop, Outcome, Rename, Select, Status, StatusItem,
    Unselect,
};

#[test]
fn simple_commands_any_case() {
    assert_eq!(parse("a1 CAPABILITY\r\n").tag, "a1");
    assert_eq!(body("a1 capability\r\n"), B::Capability(Capability));
    assert_eq!(body("x NoOp\r\n"), B::Noop(Noop));
    assert_eq!(body("x LOGOUT\r\n"), B::Logout(Logout));
    assert_eq!(body("x CHECK\r\n"), B::Check(Check));
    assert_eq!(body("x close\r\n"), B::Close(Close));
    assert_eq!(body("x UNSELECT\r\n"), B::Unselect(Unselect));
    assert_eq!(body("x EXPUNGE\r\n"), B::Expunge(Expunge { uid_set: None }));
}

#[test]
fn bare_lf_accepted() {
    assert_eq!(body("a NOOP\n"), B::Noop(Noop));
    assert_eq!(
        body("a LOGIN u p\n"),
        B::Login(Login {
            username: "u".into(),
            password: b"p".to_vec()
        })
    );
}

#[test]
fn extra_arguments_rejected() {
    let (tag, msg) = bad("a1 NOOP now\r\n");
    assert_eq!(tag.as_deref(), Some("a1"));
    assert!(msg.contains("extra arguments"), "{msg}");
    assert!(msg.contains("NOOP with no arguments"), "{msg}");
}

#[test]
fn login_forms() {
    let login = |u: &str, p: &[u8]| {
        B::Login(Login {
            username: u.into(),
            password: p.to_vec(),
        })
    };
    assert_eq!(body("a LOGIN joe secret\r\n"), login("joe", b"secret"));
    assert_eq!(
        body("a LOGIN \"joe x\" \"a\\\"b\\\\c\"\r\n"),
        login("joe x", b"a\"b\\c")
    );
    assert_eq!(body("a LOGIN joe] \"\"\r\n"), login("joe]", b""));
    assert_eq!(
        body(b"a LOGIN {3}\r\njoe {2+}\r\n\xff\x01\r\n"),
        login("joe", b"\xff\x01")
    );
    assert_eq!(body("a LOGIN ~joe pw\r\n"), login("~joe", b"pw"));
}

#[test]
fn login_errors_say_what_was_expected() {
    let (tag, msg) = bad("a LOGIN joe\r\n");
    assert_eq!(tag.as_deref(), Some("a"));
    assert!(msg.contains("Missing password"), "{msg}");
    assert!(msg.contains("LOGIN <user> <password>"), "{msg}");
    let (_, msg) = bad("a LOGIN\r\n");
    assert!(msg.contains("Missing user name"), "{msg}");
    let (_, msg) = bad("a LOGIN joe pw extra\r\n");
    assert!(msg.contains("extra arguments"), "{msg}");
    let (_, msg) = bad("a LOGIN \"joe pw\r\n");
    assert!(msg.contains("Unterminated"), "{msg}");
    let (_, msg) = bad("a LOGIN \"j\\oe\" pw\r\n");
    assert!(msg.contains("escape"), "{msg}");
    let (_, msg) = bad("a LOGIN  joe pw\r\n");
    assert!(msg.contains("one space"), "{msg}");
    let (_, msg) = bad("a LOGIN ~{3}\r\njoe pw\r\n");
    assert!(msg.contains("Binary literal"), "{msg}");
}

#[test]
fn authenticate() {
    assert_eq!(
        body("a AUTHENTICATE plain\r\n"),
        B::Authenticate(Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: None
        })
    );
    assert_eq!(
        body("a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n"),
        B::Authenticate(Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: Some(b"\0joe\0secret".to_vec())
        })
    );
    assert_eq!(
        body("a AUTHENTICATE EXTERNAL =\r\n"),
        B::Authenticate(Authenticate {
            mechanism: "EXTERNAL".into(),
            initial_response: Some(Vec::new())
        })
    );
    let (_, msg) = bad("a AUTHENTICATE PLAIN A\r\n");
    assert!(msg.contains("base64"), "{msg}");
    let (_, msg) = bad("a AUTHENTICATE PLAIN aGk!\r\n");
    assert!(msg.contains("extra"), "{msg}");
}

#[test]
fn sasl_responses() {
    use crate::{ParseError, Parser, SaslResponse};
    assert_eq!(
        Parser::parse_sasl_response(b"*\r\n"),
        Ok(SaslResponse::Cancel)
    );
    assert_eq!(
        Parser::parse_sasl_response(b"\r\n"),
        Ok(SaslResponse::Data(Vec::new()))
    );
    assert_eq!(
        Parser::parse_sasl_response(b"aGk=\r\n"),
        Ok(SaslResponse::Data(b"hi".to_vec()))
    );
    assert_eq!(
        Parser::parse_sasl_response(b"aGk\n"),
        Ok(SaslResponse::Data(b"hi".to_vec()))
    );
    assert_eq!(
        Parser::parse_sasl_response(b"a$k=\r\n"),
        Err(ParseError::InvalidBase64)
    );
    assert_eq!(
        Parser::parse_sasl_response(b"aGk=="),
        Err(ParseError::InvalidBase64)
    );
    assert!(matches!(
        Parser::parse_sasl_response(b"aG\rk="),
        Err(ParseError::Syntax(_))
    ));
}

#[test]
fn list_and_lsub() {
    assert_eq!(
        body("a LIST \"\" *\r\n"),
        B::List(List {
            select: ListSelect::default(),
            reference: String::new(),
            patterns: vec!["*".into()],
            returns: ListReturn::default(),
            extended: false,
        })
    );
    assert_eq!(
        body("a list inbox %/foo]\r\n"),
        B::List(List {
            select: ListSelect::default(),
            reference: "INBOX".into(),
            patterns: vec!["%/foo]".into()],
            returns: ListReturn::default(),
            extended: false,
        })
    );
    assert_eq!(
        body("a LSUB \"#news.\" \"comp.%\"\r\n"),
        B::Lsub(Lsub {
            reference: "#news.".into(),
            pattern: "comp.%".into()
        })
    );
    let (_, msg) = bad("a LIST \"\"\r\n");
    assert!(
        msg.contains("Missing mailbox pattern") && msg.contains("<reference> <pattern>"),
        "{msg}"
    );
}

#[test]
fn mailbox_commands() {
    assert_eq!(
        body("a SELECT inbox\r\n"),
        B::Select(Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: None,
        })
    );
    assert_eq!(
        body("a SELECT \"InBoX\"\r\n"),
        B::Select(Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: None,
        })
    );
    assert_eq!(
        body("a EXAMINE Sent\r\n"),
        B::Examine(Select {
            mailbox: "Sent".into(),
            condstore: false,
            qresync: None,
        })
    );
    assert_eq!(
        body("a CREATE \"a b\"\r\n"),
        B::Create(Create {
            mailbox: "a b".into(),
            special_use: vec![],
        })
    );
    assert_eq!(
        body("a DELETE {4}\r\nx\"y\\\r\n"),
        B::Delete(Delete {
            mailbox: "x\"y\\".into()
        })
    );
    assert_eq!(
        body("a CREATE inbox.sub\r\n"),
        B::Create(Create {
            mailbox: "inbox.sub".into(),
            special_use: vec![],
        })
    );
    assert_eq!(
        body("a RENAME old new\r\n"),
        B::Rename(Rename {
            from: "old".into(),
            to: "new".into()
        })
    );
    let (_, msg) = bad("a RENAME old\r\n");
    assert!(msg.contains("Missing new mailbox name"), "{msg}");
    let (_, msg) = bad("a SELECT\r\n");
    assert!(msg.contains("Missing mailbox name"), "{msg}");
    let (_, msg) = bad(b"a SELECT {2}\r\n\xff\xfe\r\n");
    assert!(msg.contains("8-bit"), "{msg}");
}

#[test]
fn status() {
    assert_eq!(
        body(
            "a STATUS blurdybloop (UIDNEXT MESSAGES unseen deleted size highestmodseq recent uidvalidity)\r\n"
        ),
        B::Status(Status {
            mailbox: "blurdybloop".into(),
            items: vec![
                StatusItem::UidNext,
                StatusItem::Messages,
                StatusItem::Unseen,
                StatusItem::Deleted,
                StatusItem::Size,
                StatusItem::HighestModSeq,
                StatusItem::Recent,
                StatusItem::UidValidity,
            ],
        })
    );
    let (_, msg) = bad("a STATUS x (FOO)\r\n");
    assert!(msg.contains("Unknown status item FOO"), "{msg}");
    let (_, msg) = bad("a STATUS x ()\r\n");
    assert!(msg.contains("status item"), "{msg}");
    let (_, msg) = bad("a STATUS x MESSAGES\r\n");
    assert!(msg.contains("'('"), "{msg}");
}

#[test]
fn store() {
    use crate::{SeqNumber, SeqRange, SequenceSet, Store, StoreMode};
    assert_eq!(
        body("a STORE 2:4 +FLAGS.SILENT (\\seen \\DELETED $Junk)\r\n"),
        B::Store(Store {
            set: SequenceSet::Ranges(vec![SeqRange {
                start: SeqNumber::Value(2),
                end: SeqNumber::Value(4)
            }]),
            mode: StoreMode::Add,
            silent: true,
            flags: vec!["\\Seen".into(), "\\Deleted".into(), "$Junk".into()],
            uid: false,
            unchanged_since: None,
        })
    );
    match body(
        "a UID STORE 1 (UNCHANGEDSINCE 12) -flags \\Flagged \\answered \\draft \\recent kw\r\n",
    ) {
        B::Store(Store {
            mode,
            silent,
            flags,
            uid,
            unchanged_since,
            ..
        }) => {
            assert_eq!(mode, StoreMode::Remove);
            assert!(!silent && uid);
            assert_eq!(unchanged_since, Some(12));
            assert_eq!(
                flags,
                ["\\Flagged", "\\Answered", "\\Draft", "\\Recent", "kw"]
            );
        }
        other => panic!("{other:?}"),
    }
    match body("a STORE * FLAGS ()\r\n") {
        B::Store(Store {
            mode: StoreMode::Replace,
            flags,
            ..
        }) => assert!(flags.is_empty()),
        other => panic!("{other:?}"),
    }
    // Spaces inside the parentheses pass, as Dovecot lets them (its
    // imapc client sends "( $Label1 Junk)").
    match body("a STORE 1 +FLAGS ( $Label1  Junk )\r\n") {
        B::Store(Store { flags, .. }) => assert_eq!(flags, ["$Label1", "Junk"]),
        other => panic!("{other:?}"),
    }
    let (_, msg) = bad("a STORE 1 FLAGS (\\Seen\\Draft)\r\n");
    assert!(msg.contains("Expected ')' or another flag"), "{msg}");
    let (_, msg) = bad("a STORE 1 FLAGS\r\n");
    assert!(msg.contains("Missing flags"), "{msg}");
    let (_, msg) = bad("a STORE 1 XFLAGS (\\Seen)\r\n");
    assert!(msg.contains("Unknown store item"), "{msg}");
    let (_, msg) = bad("a STORE 1 FLAGS (\\*)\r\n");
    assert!(msg.contains("flag"), "{msg}");
    let (_, msg) = bad("a STORE 1 (FOO 1) FLAGS (\\Seen)\r\n");
    assert!(msg.contains("Unknown store modifier"), "{msg}");
}

#[test]
fn sequence_sets() {
    use crate::{SeqNumber::*, SeqRange, SequenceSet};
    let set = |input: &str| match body(format!("a UID EXPUNGE {input}\r\n")) {
        B::Expunge(Expunge { uid_set: Some(set) }) => set,
        other => panic!("{other:?}"),
    };
    let r = |start, end| SeqRange { start, end };
    assert_eq!(
        set("1:4,7,9:*"),
        SequenceSet::Ranges(vec![
            r(Value(1), Value(4)),
            r(Value(7), Value(7)),
            r(Value(9), Largest)
        ])
    );
    assert_eq!(set("*"), SequenceSet::Ranges(vec![r(Largest, Largest)]));
    assert_eq!(set("5:2"), SequenceSet::Ranges(vec![r(Value(5), Value(2))]));
    assert_eq!(
        set("4294967295"),
        SequenceSet::Ranges(vec![r(Value(u32::MAX), Value(u32::MAX))])
    );
    assert_eq!(set("$"), SequenceSet::Saved);
    for wrong in [
        "0",
        "1:0",
        "4294967296",
        "1:",
        "1,",
        ",1",
        "a",
        "1:2:3",
        "$,1",
        "-1",
    ] {
        let (tag, msg) = bad(format!("t UID EXPUNGE {wrong}\r\n"));
        assert_eq!(tag.as_deref(), Some("t"));
        assert!(msg.contains("UID EXPUNGE <uid-set>"), "{wrong}: {msg}");
    }
}

#[test]
fn unknown_commands() {
    let (tag, msg) = bad("a1 FROB x y\r\n");
    assert_eq!(tag.as_deref(), Some("a1"));
    assert_eq!(msg, "Unknown command FROB");
    let (tag, msg) = bad("a2 UID CAPABILITY\r\n");
    assert_eq!(tag.as_deref(), Some("a2"));
    assert_eq!(msg, "Unknown command UID CAPABILITY");
    let (tag, msg) = bad("a3\r\n");
    assert_eq!(tag.as_deref(), Some("a3"));
    assert!(msg.contains("Missing command name"), "{msg}");
}

#[test]
fn garbage_without_tag() {
    for input in [
        "\x01\x02\r\n",
        "+ foo\r\n",
        "(a) NOOP\r\n",
        "\r\n",
        " NOOP\r\n",
        "{5}x\r\n",
        "\u{e9} NOOP\r\n",
    ] {
        let (tag, _) = bad(input);
        assert_eq!(tag, None, "{input:?}");
    }
}

#[test]
fn several_commands_in_one_buffer() {
    let outs = outcomes(b"a NOOP\r\nb FOO\r\nc LOGOUT\r\n");
    assert_eq!(outs.len(), 3);
    assert!(matches!(&outs[0], Outcome::Command { consumed: 8, .. }));
    assert!(matches!(&outs[1], Outcome::Error { tag: Some(t), consumed: 7, .. } if t == "b"));
    assert!(
        matches!(&outs[2], Outcome::Command { command, .. } if command.body == B::Logout(Logout))
    );
}

#[test]
fn store_unchangedsince_and_keyword_rules() {
    use crate::{Store, StoreMode};
    // RFC 7162 §3.1.3's example.
    match body("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n") {
        B::Store(Store {
            unchanged_since: Some(320_162_338),
            mode: StoreMode::Add,
            silent: true,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // UNCHANGEDSINCE 0 is allowed (mod-sequence-valzer).
    assert!(matches!(
        body("a UID STORE 1 (UNCHANGEDSINCE 0) FLAGS ()\r\n"),
        B::Store(Store {
            unchanged_since: Some(0),
            ..
        })
    ));
    // A keyword named NIL would read as nil: refused in any case.
    for input in [
        "a STORE 1 +FLAGS (NIL)\r\n",
        "a STORE 1 +FLAGS nil\r\n",
        "a STORE 1 FLAGS (\\Seen Nil)\r\n",
    ] {
        let (tag, msg) = bad(input);
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(msg.contains("NIL is not a valid keyword"), "{input}: {msg}");
    }
    // \Nil is a flag extension, not the keyword; and no system flag of
    // that name (or any other unknown one) exists: BAD, not storage's NO
    // [CANNOT] "Invalid argument" after the fact.
    for input in [
        "a STORE 1 +FLAGS (\\Nil)\r\n",
        "a STORE 1 +FLAGS (\\Seen \\Foo)\r\n",
        "a APPEND INBOX (\\Draft \\Foo) {1+}\r\nx\r\n",
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains("Unknown system flag \\"), "{input}: {msg}");
    }
}

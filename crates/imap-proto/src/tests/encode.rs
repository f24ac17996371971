//! The encoder: exact output and round trips through the parser.

use super::drive;
use crate::{
    Code, CommandBody, DateTime, Encoder, FetchResponse, Limits, ListItem, Login, MailboxAttribute,
    Outcome, Select, StatusKind, StatusValue, astring, capability_line, continuation, exists,
    expunge, flag_list, flags_line, list, lsub, nstring, status_line, status_response, string,
};

/// Writes a mailbox name as a connection without UTF-8 does.
fn write_mailbox_name(out: &mut Vec<u8>, name: &str) {
    Encoder::ASCII.mailbox(out, name);
}

/// Runs an encoder into a fresh buffer.
fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

#[test]
fn string_forms() {
    assert_eq!(enc(|o| astring(o, b"joe")), b"joe");
    assert_eq!(enc(|o| astring(o, b"a]b")), b"a]b");
    assert_eq!(enc(|o| astring(o, b"")), b"\"\"");
    assert_eq!(enc(|o| astring(o, b"nil")), b"\"nil\"");
    assert_eq!(enc(|o| astring(o, b"a b")), b"\"a b\"");
    assert_eq!(enc(|o| astring(o, b"a\"b\\")), b"\"a\\\"b\\\\\"");
    assert_eq!(enc(|o| astring(o, b"a\r\nb")), b"{4}\r\na\r\nb");
    assert_eq!(enc(|o| astring(o, "é".as_bytes())), b"{2}\r\n\xc3\xa9");
    assert_eq!(enc(|o| string(o, b"joe")), b"\"joe\"");
    assert_eq!(enc(|o| nstring(o, None)), b"NIL");
    assert_eq!(enc(|o| nstring(o, Some(b"x"))), b"\"x\"");
    assert_eq!(enc(|o| write_mailbox_name(o, "INBOX")), b"INBOX");
    assert_eq!(
        enc(|o| write_mailbox_name(o, "Sent Items")),
        b"\"Sent Items\""
    );
}

#[test]
fn astring_round_trips_through_login() {
    let tricky: &[&[u8]] = &[
        b"plain",
        b"",
        b"with space",
        b"quote\"inside",
        b"back\\slash",
        b"\\\"\\\"",
        b"cr\rlf\n",
        b"\r\n",
        b"{5}",
        b"{5}\r\n",
        b"8bit\xff\xfe",
        "ünïcödé".as_bytes(),
        b"NIL",
        b"(parens) [brackets] %*",
        b"tab\there",
        b"\x01\x7f",
    ];
    for user in tricky {
        let Ok(user_str) = std::str::from_utf8(user) else {
            continue;
        };
        for pass in tricky {
            let mut line = b"t1 LOGIN ".to_vec();
            astring(&mut line, user);
            line.push(b' ');
            astring(&mut line, pass);
            line.extend_from_slice(b"\r\n");
            for step in [1, line.len()] {
                let run = drive(Limits::default(), &line, step);
                let cmds: Vec<_> = run
                    .outcomes
                    .iter()
                    .filter(|o| **o != Outcome::SendContinuation)
                    .collect();
                match cmds.as_slice() {
                    [Outcome::Command { command, consumed }] => {
                        assert_eq!(*consumed, line.len());
                        assert_eq!(
                            command.body,
                            CommandBody::Login(Login {
                                username: user_str.to_string(),
                                password: pass.to_vec()
                            }),
                            "{line:?}"
                        );
                    }
                    other => panic!("{line:?}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn mailbox_round_trips_through_select() {
    for name in [
        "INBOX",
        "a b",
        "x\"y",
        "Ünïcode",
        "[Gmail]/Sent",
        "%*",
        "&",
        "A&B",
        "日本語",
        "a\u{10348}b",
    ] {
        let mut line = b"t SELECT ".to_vec();
        write_mailbox_name(&mut line, name);
        line.extend_from_slice(b"\r\n");
        let run = drive(Limits::default(), &line, 1);
        let last = run.outcomes.last().cloned();
        match last {
            Some(Outcome::Command { command, .. }) => {
                assert_eq!(
                    command.body,
                    CommandBody::Select(Select {
                        mailbox: name.to_string(),
                        condstore: false,
                        qresync: None,
                    })
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn utf8_mailbox_names_round_trip_with_utf8_accept() {
    for name in [
        "caf\u{e9}",
        "A&B",
        "\u{65e5}\u{672c}",
        "x\"y\\",
        "line\r\nend",
    ] {
        let mut line = b"t SELECT ".to_vec();
        Encoder::UTF8.mailbox(&mut line, name);
        line.extend_from_slice(b"\r\n");
        let outs = super::outcomes_utf8(&line);
        match outs.as_slice() {
            [Outcome::Command { command, .. }] => assert_eq!(
                command.body,
                CommandBody::Select(Select {
                    mailbox: name.to_string(),
                    condstore: false,
                    qresync: None,
                })
            ),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn status_responses() {
    assert_eq!(
        enc(|o| status_response(
            o,
            Some("a1"),
            StatusKind::Ok,
            Some(&Code::ReadWrite),
            "SELECT completed"
        )),
        b"a1 OK [READ-WRITE] SELECT completed\r\n"
    );
    assert_eq!(
        enc(|o| status_response(o, None, StatusKind::Bye, None, "bye\r\nx")),
        b"* BYE bye  x\r\n"
    );
    assert_eq!(
        enc(|o| status_response(o, Some("a"), StatusKind::No, Some(&Code::TooBig), "big")),
        b"a NO [TOOBIG] big\r\n"
    );
    let sneaky = Code::BadUrl("/x]\r\n* BYE".into());
    assert_eq!(
        enc(|o| status_response(o, Some("a"), StatusKind::No, Some(&sneaky), "no")),
        b"a NO [BADURL /x* BYE] no\r\n"
    );
    assert_eq!(
        enc(|o| status_response(o, None, StatusKind::PreAuth, None, "hi")),
        b"* PREAUTH hi\r\n"
    );
    assert_eq!(
        enc(|o| status_response(o, Some("b"), StatusKind::Bad, None, "x")),
        b"b BAD x\r\n"
    );
    assert_eq!(enc(|o| continuation(o, "go\nahead")), b"+ go ahead\r\n");
}

#[test]
fn untagged_lines() {
    assert_eq!(
        enc(|o| capability_line(o, &["IMAP4rev2", "LITERAL+"])),
        b"* CAPABILITY IMAP4rev2 LITERAL+\r\n"
    );
    let mut inbox = ListItem::new("INBOX", Some('.'));
    inbox.attributes.push(MailboxAttribute::HasNoChildren);
    assert_eq!(
        enc(|o| list(o, Encoder::ASCII, &inbox)),
        b"* LIST (\\HasNoChildren) \".\" INBOX\r\n"
    );
    assert_eq!(
        enc(|o| list(o, Encoder::ASCII, &ListItem::new("a b", None))),
        b"* LIST () NIL \"a b\"\r\n"
    );
    assert_eq!(
        enc(|o| lsub(o, Encoder::ASCII, &ListItem::new("x", Some('\\')))),
        b"* LSUB () \"\\\\\" x\r\n"
    );
    assert_eq!(
        enc(|o| status_line(
            o,
            Encoder::ASCII,
            "blurdybloop",
            &[StatusValue::Messages(231), StatusValue::UidNext(44292)]
        )),
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    );
    assert_eq!(enc(|o| exists(o, 23)), b"* 23 EXISTS\r\n");
    assert_eq!(enc(|o| crate::recent(o, 5)), b"* 5 RECENT\r\n");
    assert_eq!(enc(|o| expunge(o, 3)), b"* 3 EXPUNGE\r\n");
    let flags = vec!["\\Seen".to_string(), "foo".to_string()];
    assert_eq!(enc(|o| flag_list(o, &flags)), b"(\\Seen foo)");
    assert_eq!(enc(|o| flags_line(o, &flags)), b"* FLAGS (\\Seen foo)\r\n");
}

#[test]
fn fetch_response_streams_literals() {
    let mut r = FetchResponse::new(12, Encoder::ASCII);
    r.uid(7)
        .flags(&["\\Seen".to_string()])
        .rfc822_size(44)
        .internal_date(DateTime {
            unix: 837_596_665,
            offset_minutes: -420,
        })
        .modseq(99)
        .literal_header("BODY[]", 3);
    let mut wire = r.take();
    assert!(wire.ends_with(b"BODY[] {3}\r\n"));
    wire.extend_from_slice(b"abc");
    r.literal("BODY[HEADER]", b"h")
        .nil("BODY[9]")
        .raw("ENVELOPE", b"(NIL)")
        .number("BINARY.SIZE[1]", 5);
    r.literal8_header("BINARY[]", 1);
    wire.extend_from_slice(&r.take());
    wire.push(0);
    wire.extend_from_slice(&r.finish());
    assert_eq!(
        wire,
        b"* 12 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 44 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" \
MODSEQ (99) BODY[] {3}\r\nabc BODY[HEADER] {1}\r\nh BODY[9] NIL ENVELOPE (NIL) BINARY.SIZE[1] 5 \
BINARY[] ~{1}\r\n\0)\r\n"
    );
}

#[test]
fn base64_round_trip() {
    for data in [
        &b""[..],
        b"f",
        b"fo",
        b"foo",
        b"foob",
        b"fooba",
        b"foobar",
        b"\0\xff\x80",
    ] {
        let text = crate::base64_encode(data);
        assert_eq!(
            crate::base64::decode(text.as_bytes()).as_deref(),
            Some(data)
        );
        assert_eq!(
            crate::base64::decode(text.trim_end_matches('=').as_bytes()).as_deref(),
            Some(data)
        );
    }
    assert_eq!(crate::base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(crate::base64_encode(b"fo"), "Zm8=");
}

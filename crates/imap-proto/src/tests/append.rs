//! APPEND and REPLACE: arguments, the streamed literals (MULTIAPPEND,
//! CATENATE, binary, UTF8) and what follows them.

use super::{drive, outcomes};
use crate::{
    Append, AppendMessage, Code, CommandBody, DateTime, Limits, Literal, Outcome, Parser, Replace,
};

/// One step of a streamed command as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Begin(String, CommandBody),
    Message(AppendMessage),
    Url(String),
    /// The literal and the bytes the caller streamed for it.
    Literal(Literal, Vec<u8>),
    End,
    Error(Option<String>, Option<Code>, bool),
    Command(String),
}

/// The steps of `stream` fed `step` bytes at a time.
fn steps(limits: Limits, stream: &[u8], step: usize) -> Vec<Step> {
    let run = drive(limits, stream, step);
    let mut messages = run.messages.into_iter();
    run.outcomes
        .into_iter()
        .filter(|o| *o != Outcome::SendContinuation)
        .map(|o| match o {
            Outcome::AppendBegin { command, .. } => Step::Begin(command.tag, command.body),
            Outcome::AppendMessage { message, .. } => Step::Message(message),
            Outcome::AppendUrl { url, .. } => Step::Url(url),
            Outcome::AppendLiteral { literal, .. } => {
                Step::Literal(literal, messages.next().unwrap_or_default())
            }
            Outcome::AppendEnd { .. } => Step::End,
            Outcome::Error {
                tag, code, close, ..
            } => Step::Error(tag, code, close),
            Outcome::Command { command, .. } => Step::Command(command.tag),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn plain(flags: &[&str], date: Option<DateTime>) -> Step {
    Step::Message(AppendMessage {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        date,
        catenate: false,
        utf8: false,
    })
}

fn lit(size: u64, non_sync: bool, binary: bool, data: &[u8]) -> Step {
    Step::Literal(
        Literal {
            size,
            non_sync,
            binary,
        },
        data.to_vec(),
    )
}

fn begin(tag: &str, mailbox: &str) -> Step {
    Step::Begin(
        tag.into(),
        CommandBody::Append(Append {
            mailbox: mailbox.into(),
        }),
    )
}

#[test]
fn append_streams_message_then_ends() {
    let head = "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {12}\r\n";
    let stream = format!("{head}Hello\r\nthere\r\nA004 NOOP\r\n");
    let date = DateTime {
        unix: 760_686_745,
        offset_minutes: -480,
    };
    for step in [1, 2, 7, stream.len()] {
        assert_eq!(
            steps(Limits::default(), stream.as_bytes(), step),
            [
                begin("A003", "saved-messages"),
                plain(&["\\Seen"], Some(date)),
                lit(12, false, false, b"Hello\r\nthere"),
                Step::End,
                Step::Command("A004".into()),
            ],
            "step {step}"
        );
    }
}

#[test]
fn append_outcomes_consume_exactly_the_command_text() {
    let head = "a APPEND INBOX (\\Seen) {3}\r\n";
    let mut p = Parser::new(Limits::default());
    let mut buf = head.as_bytes().to_vec();
    let mut consumed = 0;
    loop {
        match p.next(&buf) {
            Outcome::AppendBegin { consumed: n, .. }
            | Outcome::AppendMessage { consumed: n, .. } => {
                assert!(n > 0);
                buf.drain(..n);
                consumed += n;
            }
            Outcome::AppendLiteral { consumed: n, .. } => {
                consumed += n;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(consumed, head.len());
}

#[test]
fn append_sync_literal_needs_no_parser_continuation() {
    // The caller sends the continuation for APPEND's message itself.
    let mut p = Parser::new(Limits::default());
    let line = b"a APPEND INBOX {3}\r\n";
    assert!(matches!(
        p.next(line),
        Outcome::AppendBegin { consumed: 14, .. }
    ));
    assert!(matches!(
        p.next(&line[14..]),
        Outcome::AppendMessage { consumed: 1, .. }
    ));
    assert!(matches!(
        p.next(&line[15..]),
        Outcome::AppendLiteral { consumed: 5, .. }
    ));
    assert_eq!(p.next(b""), Outcome::Incomplete);
    assert_eq!(p.next(b"\r"), Outcome::Incomplete);
    assert_eq!(p.next(b"\r\n"), Outcome::AppendEnd { consumed: 2 });
    assert_eq!(p.next(b"b NOOP"), Outcome::Incomplete);
}

#[test]
fn append_variants() {
    let s = |input: &str| steps(Limits::default(), input.as_bytes(), 1);
    // A mailbox name sent as a literal is an inline literal, not the message.
    assert_eq!(
        s("a APPEND {5}\r\ninbox {4+}\r\nabcd\r\n"),
        [
            begin("a", "INBOX"),
            plain(&[], None),
            lit(4, true, false, b"abcd"),
            Step::End
        ]
    );
    assert_eq!(
        s("a APPEND Drafts ~{3}\r\na\0b\r\n"),
        [
            begin("a", "Drafts"),
            plain(&[], None),
            lit(3, false, true, b"a\0b"),
            Step::End
        ]
    );
    let date = DateTime {
        unix: 946_684_800,
        offset_minutes: 0,
    };
    assert_eq!(
        s("a APPEND Drafts \"01-Jan-2000 00:00:00 +0000\" ~{3+}\r\na\0b\r\n"),
        [
            begin("a", "Drafts"),
            plain(&[], Some(date)),
            lit(3, true, true, b"a\0b"),
            Step::End
        ]
    );
    assert_eq!(
        s("a APPEND x () {0}\r\n\r\n"),
        [
            begin("a", "x"),
            plain(&[], None),
            lit(0, false, false, b""),
            Step::End
        ]
    );
    // RFC 6855: UTF8 (literal8).
    assert_eq!(
        s("a APPEND x UTF8 (~{2}\r\nhi)\r\n"),
        [
            begin("a", "x"),
            Step::Message(AppendMessage {
                flags: vec![],
                date: None,
                catenate: false,
                utf8: true,
            }),
            lit(2, false, true, b"hi"),
            Step::End
        ]
    );
}

#[test]
fn multiappend_streams_each_message() {
    let stream = "A003 APPEND saved-messages (\\Seen) {5}\r\nfirst (\\Draft) \"01-Jan-2000 00:00:00 +0000\" {6+}\r\nsecond {0}\r\n\r\nb NOOP\r\n";
    for step in [1, 3, stream.len()] {
        assert_eq!(
            steps(Limits::default(), stream.as_bytes(), step),
            [
                begin("A003", "saved-messages"),
                plain(&["\\Seen"], None),
                lit(5, false, false, b"first"),
                plain(
                    &["\\Draft"],
                    Some(DateTime {
                        unix: 946_684_800,
                        offset_minutes: 0
                    })
                ),
                lit(6, true, false, b"second"),
                plain(&[], None),
                lit(0, false, false, b""),
                Step::End,
                Step::Command("b".into()),
            ],
            "step {step}"
        );
    }
}

#[test]
fn catenate_streams_text_parts_between_urls() {
    // RFC 4469 §5's example, with TEXT parts that must not be buffered.
    let stream = "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {42}\r\n\r\n--------------030308070208000400050907\r\n URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1\" TEXT {3+}\r\nabc)\r\n";
    for step in [1, 5, stream.len()] {
        let got = steps(Limits::default(), stream.as_bytes(), step);
        assert_eq!(
            got,
            [
                begin("A003", "Drafts"),
                Step::Message(AppendMessage {
                    flags: vec!["\\Seen".into(), "\\Draft".into(), "$MDNSent".into()],
                    date: None,
                    catenate: true,
                    utf8: false,
                }),
                Step::Url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER".into()),
                lit(
                    42,
                    false,
                    false,
                    b"\r\n--------------030308070208000400050907\r\n"
                ),
                Step::Url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME".into()),
                Step::Url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1".into()),
                lit(3, true, false, b"abc"),
                Step::End,
            ],
            "step {step}"
        );
    }
}

#[test]
fn catenate_of_urls_only_needs_no_literal() {
    let got = steps(
        Limits::default(),
        b"a APPEND Sent CATENATE (URL \"/INBOX;UID=1\" URL {5}\r\n/a;b=)\r\n",
        1,
    );
    assert_eq!(
        got,
        [
            begin("a", "Sent"),
            Step::Message(AppendMessage {
                flags: vec![],
                date: None,
                catenate: true,
                utf8: false,
            }),
            Step::Url("/INBOX;UID=1".into()),
            Step::Url("/a;b=".into()),
            Step::End,
        ]
    );
}

#[test]
fn multiappend_mixes_catenate_and_plain_messages() {
    let got = steps(
        Limits::default(),
        b"a APPEND x CATENATE (TEXT {1}\r\nA) {1}\r\nB\r\n",
        2,
    );
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[2], lit(1, false, false, b"A"));
    assert_eq!(got[3], plain(&[], None));
    assert_eq!(got[4], lit(1, false, false, b"B"));
    assert_eq!(got[5], Step::End);
}

#[test]
fn replace_and_uid_replace() {
    let s = |input: &str| steps(Limits::default(), input.as_bytes(), 1);
    assert_eq!(
        s("a REPLACE 3 Drafts (\\Draft) {5}\r\nhello\r\n"),
        [
            Step::Begin(
                "a".into(),
                CommandBody::Replace(Replace {
                    uid: false,
                    target: 3,
                    mailbox: "Drafts".into()
                })
            ),
            plain(&["\\Draft"], None),
            lit(5, false, false, b"hello"),
            Step::End,
        ]
    );
    let got = s("b uid replace 4294967295 INBOX CATENATE (URL \"/INBOX;UID=1\")\r\n");
    assert_eq!(
        got[0],
        Step::Begin(
            "b".into(),
            CommandBody::Replace(Replace {
                uid: true,
                target: u32::MAX,
                mailbox: "INBOX".into()
            })
        )
    );
    assert_eq!(got.last(), Some(&Step::End));
    // REPLACE takes exactly one message.
    let got = s("a REPLACE 1 x {1+}\r\nA {1+}\r\nB\r\nc NOOP\r\n");
    assert_eq!(
        got[3],
        Step::Error(Some("a".into()), None, false),
        "{got:?}"
    );
    assert_eq!(got[4], Step::Command("c".into()));
    let (_, msg) = super::bad("a REPLACE 0 x {1+}\r\nA\r\n");
    assert!(msg.contains("zero"), "{msg}");
}

#[test]
fn append_without_literal_or_with_bad_args() {
    let (tag, msg) = super::bad("a APPEND INBOX (\\Seen)\r\n");
    assert_eq!(tag.as_deref(), Some("a"));
    assert!(msg.contains("message literal"), "{msg}");
    assert!(msg.contains("APPEND <mailbox>"), "{msg}");
    // A bad date with a synchronizing literal: refused at once, no continuation.
    let line = "a APPEND INBOX \"31-Feb-2020 00:00:00 +0000\" {10}\r\n";
    let outs = outcomes(line.as_bytes());
    match outs.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                consumed,
                close: false,
                message,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(*consumed, line.len());
            assert!(message.contains("date-time"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The same with a non-synchronizing literal: the literal is skipped.
    let stream = "a APPEND INBOX \"xx\" {3+}\r\nabc\r\nb NOOP\r\n";
    let outs = outcomes(stream.as_bytes());
    let first = "a APPEND INBOX \"xx\" {3+}\r\nabc\r\n".len();
    assert!(
        matches!(&outs[0], Outcome::Error { consumed, close: false, .. } if *consumed == first),
        "{outs:?}"
    );
    assert!(matches!(&outs[1], Outcome::Command { command, .. } if command.tag == "b"));
    // CATENATE parts other than TEXT and URL.
    let (_, msg) = super::bad("a APPEND x CATENATE (FOO \"x\")\r\n");
    assert!(msg.contains("TEXT"), "{msg}");
    // NIL is no keyword.
    let (_, msg) = super::bad("a APPEND x (nil) {1+}\r\nA\r\n");
    assert!(msg.contains("NIL"), "{msg}");
}

#[test]
fn append_too_big() {
    let limits = Limits {
        max_append: 100,
        max_append_total: 150,
        ..Limits::default()
    };
    let line = "a APPEND INBOX {101}\r\n";
    let run = drive(limits, line.as_bytes(), 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                code: Some(Code::TooBig),
                close: false,
                consumed,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(*consumed, line.len());
        }
        other => panic!("{other:?}"),
    }
    let run = drive(limits, b"a APPEND INBOX {101+}\r\nxxxx", 1);
    assert!(
        matches!(
            run.outcomes.as_slice(),
            [Outcome::Error {
                close: true,
                code: Some(Code::TooBig),
                ..
            }]
        ),
        "{:?}",
        run.outcomes
    );
    // At the limit is fine.
    let got = steps(limits, b"a APPEND INBOX {100}\r\n", 1);
    assert!(matches!(
        got.as_slice(),
        [Step::Begin(..), Step::Message(_), Step::Literal(..)]
    ));
    // CATENATE TEXT parts of one message add up.
    let mut stream = b"a APPEND x CATENATE (TEXT {60}\r\n".to_vec();
    stream.extend([b'x'; 60]);
    stream.extend_from_slice(b" TEXT {41}\r\n");
    let got = steps(limits, &stream, 7);
    assert_eq!(
        got.last(),
        Some(&Step::Error(Some("a".into()), Some(Code::TooBig), false))
    );
    // MULTIAPPEND messages add up to max_append_total.
    let mut stream = b"a APPEND x {100}\r\n".to_vec();
    stream.extend([b'x'; 100]);
    stream.extend_from_slice(b" {51}\r\n");
    let got = steps(limits, &stream, 7);
    assert_eq!(
        got.last(),
        Some(&Step::Error(Some("a".into()), Some(Code::TooBig), false))
    );
    // The parser is back to commands afterwards.
    let mut p = Parser::new(limits);
    let mut buf = b"a APPEND x {101}\r\nb NOOP\r\n".to_vec();
    match p.next(&buf) {
        Outcome::Error { consumed, .. } => {
            buf.drain(..consumed);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(p.next(&buf), Outcome::Command { .. }));
}

/// Feeds `buf` until the first AppendLiteral; its literal.
fn until_literal(p: &mut Parser, buf: &mut Vec<u8>) -> Literal {
    loop {
        match p.next(buf) {
            Outcome::AppendBegin { consumed, .. } | Outcome::AppendMessage { consumed, .. } => {
                buf.drain(..consumed);
            }
            Outcome::AppendLiteral { consumed, literal } => {
                buf.drain(..consumed);
                return literal;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn refused_sync_literal_returns_to_commands() {
    let mut p = Parser::new(Limits::default());
    let mut buf = b"a APPEND Nowhere {5}\r\n".to_vec();
    assert!(!until_literal(&mut p, &mut buf).non_sync);
    // The server answers NO [TRYCREATE] instead of "+": the client goes on.
    assert!(p.refuse_literal());
    buf.extend_from_slice(b"b NOOP\r\n");
    assert!(matches!(p.next(&buf), Outcome::Command { command, .. } if command.tag == "b"));
    // A non-synchronizing literal cannot be refused: its bytes come anyway.
    let mut p = Parser::new(Limits::default());
    let mut buf = b"a APPEND Nowhere {1+}\r\n".to_vec();
    assert!(until_literal(&mut p, &mut buf).non_sync);
    assert!(!p.refuse_literal());
    assert_eq!(p.next(b"x"), Outcome::Incomplete);
}

#[test]
fn append_followed_by_garbage() {
    let stream = b"a APPEND INBOX {2+}\r\nhi junk {3+}\r\nabc\r\nb NOOP\r\n";
    let outs: Vec<_> = outcomes(stream)
        .into_iter()
        .filter(|o| {
            !matches!(
                o,
                Outcome::AppendBegin { .. } | Outcome::AppendMessage { .. }
            )
        })
        .collect();
    assert!(matches!(&outs[0], Outcome::AppendLiteral { .. }));
    match &outs[1] {
        Outcome::Error {
            tag: Some(t),
            close: false,
            message,
            consumed,
            ..
        } => {
            assert_eq!(t, "a");
            assert!(message.contains("APPEND"), "{message}");
            assert_eq!(*consumed, " junk {3+}\r\nabc\r\n".len());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&outs[2], Outcome::Command { command, .. } if command.tag == "b"));
}

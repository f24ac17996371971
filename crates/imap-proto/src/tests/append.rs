//! APPEND: arguments, the streamed message literal and what follows it.

use super::{drive, outcomes};
use crate::{Command, CommandBody, DateTime, Limits, Outcome, Parser};

/// The Append body of an AppendLiteral outcome.
fn append_of(outcome: &Outcome) -> (&Command, usize) {
    match outcome {
        Outcome::AppendLiteral { command, consumed } => (command, *consumed),
        other => panic!("expected AppendLiteral, got {other:?}"),
    }
}

#[test]
fn append_streams_message_then_ends() {
    let head = "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {12}\r\n";
    let stream = format!("{head}Hello\r\nthere\r\nA004 NOOP\r\n");
    for step in [1, 2, 7, stream.len()] {
        let run = drive(Limits::default(), stream.as_bytes(), step);
        let outs = &run.outcomes;
        assert_eq!(outs.len(), 3, "step {step}: {outs:?}");
        let (command, consumed) = append_of(&outs[0]);
        assert_eq!(consumed, head.len());
        assert_eq!(command.tag, "A003");
        assert_eq!(
            command.body,
            CommandBody::Append {
                mailbox: "saved-messages".into(),
                flags: vec!["\\Seen".into()],
                date: Some(DateTime {
                    unix: 760_686_745,
                    offset_minutes: -480
                }),
                size: 12,
                non_sync: false,
                binary: false,
            }
        );
        assert_eq!(outs[1], Outcome::AppendEnd { consumed: 2 });
        assert!(matches!(&outs[2], Outcome::Command { command, .. } if command.tag == "A004"));
        assert_eq!(run.messages, vec![b"Hello\r\nthere".to_vec()]);
        assert_eq!(run.leftover, 0);
    }
}

#[test]
fn append_sync_literal_needs_no_parser_continuation() {
    // The caller sends the continuation for APPEND's message itself.
    let mut p = Parser::new(Limits::default());
    let out = p.next(b"a APPEND INBOX {3}\r\n");
    assert!(matches!(out, Outcome::AppendLiteral { consumed: 20, .. }));
    assert_eq!(p.next(b""), Outcome::Incomplete);
    assert_eq!(p.next(b"\r"), Outcome::Incomplete);
    assert_eq!(p.next(b"\n"), Outcome::AppendEnd { consumed: 1 });
}

#[test]
fn append_variants() {
    let run = |s: &str| {
        let outs = outcomes(s.as_bytes());
        let outs: Vec<_> = outs
            .into_iter()
            .filter(|o| *o != Outcome::SendContinuation)
            .collect();
        append_of(&outs[0]).0.body.clone()
    };
    match run("a APPEND {5}\r\ninbox {4+}\r\nabcd\r\n") {
        CommandBody::Append {
            mailbox,
            size: 4,
            non_sync: true,
            flags,
            date: None,
            binary: false,
        } => {
            assert_eq!(mailbox, "INBOX");
            assert!(flags.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match run("a APPEND Drafts ~{3}\r\na\0b\r\n") {
        CommandBody::Append {
            binary: true,
            size: 3,
            non_sync: false,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    match run("a APPEND Drafts \"01-Jan-2000 00:00:00 +0000\" ~{3+}\r\na\0b\r\n") {
        CommandBody::Append {
            binary: true,
            size: 3,
            non_sync: true,
            date: Some(d),
            ..
        } => {
            assert_eq!(
                d,
                DateTime {
                    unix: 946_684_800,
                    offset_minutes: 0
                }
            );
        }
        other => panic!("{other:?}"),
    }
    match run("a APPEND x () {0}\r\n\r\n") {
        CommandBody::Append { size: 0, flags, .. } => assert!(flags.is_empty()),
        other => panic!("{other:?}"),
    }
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
}

#[test]
fn append_too_big() {
    let limits = Limits {
        max_append: 100,
        ..Limits::default()
    };
    let line = "a APPEND INBOX {101}\r\n";
    let run = drive(limits, line.as_bytes(), 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                code: Some(code),
                close: false,
                consumed,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(code, "TOOBIG");
            assert_eq!(*consumed, line.len());
        }
        other => panic!("{other:?}"),
    }
    let run = drive(limits, b"a APPEND INBOX {101+}\r\nxxxx", 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                close: true,
                code: Some(code),
                ..
            },
        ] => assert_eq!(code, "TOOBIG"),
        other => panic!("{other:?}"),
    }
    // At the limit is fine.
    let run = drive(limits, b"a APPEND INBOX {100}\r\n", 1);
    assert!(matches!(
        run.outcomes.as_slice(),
        [Outcome::AppendLiteral { .. }]
    ));
}

#[test]
fn append_followed_by_garbage() {
    let stream = b"a APPEND INBOX {2+}\r\nhi junk {3+}\r\nabc\r\nb NOOP\r\n";
    let outs = outcomes(stream);
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

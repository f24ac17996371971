//! Literals: continuations, LITERAL+, limits, byte-by-byte arrival.

use super::drive;
use crate::{Code, CommandBody, Limits, Login, MetadataCode, Outcome, Parser};

#[test]
fn continuation_requested_exactly_once_per_sync_literal() {
    let stream = b"a LOGIN {3}\r\njoe {6}\r\nsecret\r\n";
    for step in 1..=stream.len() {
        let run = drive(Limits::default(), stream, step);
        let conts = run
            .outcomes
            .iter()
            .filter(|o| **o == Outcome::SendContinuation)
            .count();
        assert_eq!(conts, 2, "step {step}");
        let last = run.outcomes.last();
        assert!(
            matches!(last, Some(Outcome::Command { command, consumed })
                if *consumed == stream.len()
                && command.body == CommandBody::Login(Login { username: "joe".into(), password: b"secret".to_vec() })),
            "step {step}: {last:?}"
        );
    }
}

#[test]
fn continuation_not_repeated_without_new_bytes() {
    let mut p = Parser::new(Limits::default());
    assert_eq!(p.next(b"a LOGIN {3}\r\n"), Outcome::SendContinuation);
    assert_eq!(p.next(b"a LOGIN {3}\r\n"), Outcome::Incomplete);
    assert_eq!(p.next(b"a LOGIN {3}\r\njo"), Outcome::Incomplete);
    assert_eq!(p.next(b"a LOGIN {3}\r\njoe pw"), Outcome::Incomplete);
    assert!(matches!(
        p.next(b"a LOGIN {3}\r\njoe pw\r\n"),
        Outcome::Command { consumed: 21, .. }
    ));
}

#[test]
fn literal_plus_needs_no_continuation() {
    let stream = b"a LOGIN {3+}\r\njoe {2+}\r\npw\r\n";
    let run = drive(Limits::default(), stream, 1);
    assert_eq!(run.outcomes.len(), 1, "{:?}", run.outcomes);
    assert!(matches!(&run.outcomes[0], Outcome::Command { .. }));
}

#[test]
fn literal_contents_are_not_scanned_for_line_ends() {
    let stream = b"a LOGIN {5+}\r\nx\r\n{1 pw\r\n";
    match &drive(Limits::default(), stream, 1).outcomes[..] {
        [Outcome::Command { command, .. }] => {
            assert_eq!(
                command.body,
                CommandBody::Login(Login {
                    username: "x\r\n{1".into(),
                    password: b"pw".to_vec()
                })
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sync_literal_over_limit_is_refused_without_continuation() {
    let limits = Limits {
        max_inline_literal: 10,
        ..Limits::default()
    };
    let line = b"a LOGIN {11}\r\n";
    let run = drive(limits, line, 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                close: false,
                code: None,
                consumed,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(*consumed, line.len());
        }
        other => panic!("{other:?}"),
    }
    // The total of a command's literals counts.
    let run = drive(limits, b"a LOGIN {6}\r\nabcdef {5}\r\n", 1);
    assert_eq!(run.outcomes[0], Outcome::SendContinuation);
    assert!(
        matches!(&run.outcomes[1], Outcome::Error { close: false, .. }),
        "{:?}",
        run.outcomes
    );
}

/// RFC 5464 §4.3: a metadata value over the limit is `NO [METADATA
/// MAXSIZE n]`, and a synchronizing one is refused before it is sent. It
/// was `BAD Literal too big` past the inline limit, and read first below.
#[test]
fn a_metadata_value_over_its_limit_is_refused_before_it_is_sent() {
    let limits = Limits {
        max_metadata_value: 10,
        ..Limits::default()
    };
    let line = b"a SETMETADATA INBOX (/private/comment {11}\r\n";
    let run = drive(limits, line, 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                close: false,
                code: Some(Code::Metadata(MetadataCode::MaxSize(10))),
                consumed,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(*consumed, line.len());
        }
        other => panic!("{other:?}"),
    }
    // Within the limit it is read; other commands keep the inline limit.
    let run = drive(limits, b"a SETMETADATA INBOX (/private/comment {10}\r\n", 1);
    assert_eq!(run.outcomes, [Outcome::SendContinuation]);
    let run = drive(limits, b"a LOGIN {11}\r\n", 1);
    assert_eq!(run.outcomes, [Outcome::SendContinuation]);
}

#[test]
fn non_sync_literal_over_limit_closes() {
    let limits = Limits {
        max_inline_literal: 10,
        ..Limits::default()
    };
    let run = drive(limits, b"a LOGIN {11+}\r\n", 1);
    assert!(matches!(
        run.outcomes.as_slice(),
        [Outcome::Error {
            close: true,
            tag: Some(_),
            ..
        }]
    ));
    let run = drive(limits, b"a LOGIN {99999999999999999999999+}\r\n", 3);
    assert!(matches!(
        run.outcomes.as_slice(),
        [Outcome::Error { close: true, .. }]
    ));
    let run = drive(limits, b"a LOGIN {99999999999999999999999}\r\n", 3);
    assert!(matches!(
        run.outcomes.as_slice(),
        [Outcome::Error { close: false, .. }]
    ));
}

#[test]
fn unknown_command_with_literal() {
    // Synchronizing: refused at once, the client sends no literal.
    let run = drive(Limits::default(), b"a FROB {5}\r\n", 1);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                message,
                consumed: 12,
                close: false,
                ..
            },
        ] => {
            assert_eq!(t, "a");
            assert_eq!(message, "Unknown command FROB");
        }
        other => panic!("{other:?}"),
    }
    // Non-synchronizing: the literal is skipped with the command.
    let run = drive(
        Limits::default(),
        b"a FROB {5+}\r\n\r\nb\r\n x\r\nb NOOP\r\n",
        1,
    );
    match run.outcomes.as_slice() {
        [
            Outcome::Error { consumed: 22, .. },
            Outcome::Command { command, .. },
        ] => {
            assert_eq!(command.tag, "b");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_line_closes() {
    let limits = Limits {
        max_line: 100,
        ..Limits::default()
    };
    let mut stream = b"a LOGIN ".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 200));
    let run = drive(limits, &stream, 7);
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                tag: Some(t),
                close: true,
                ..
            },
        ] => assert_eq!(t, "a"),
        other => panic!("{other:?}"),
    }
    // A complete over-long line is refused without closing.
    stream.extend_from_slice(b"\r\nb NOOP\r\n");
    let run = drive(limits, &stream, stream.len());
    match run.outcomes.as_slice() {
        [
            Outcome::Error {
                close: false,
                consumed: 210,
                ..
            },
            Outcome::Command { .. },
        ] => {}
        other => panic!("{other:?}"),
    }
    // Text after literals counts toward the same limit.
    let mut stream = b"a LOGIN {3+}\r\nabc ".to_vec();
    stream.extend(std::iter::repeat_n(b'y', 95));
    let run = drive(limits, &stream, 1);
    assert!(matches!(
        run.outcomes.as_slice(),
        [Outcome::Error { close: true, .. }]
    ));
}

#[test]
fn byte_by_byte_equals_whole() {
    let stream: &[u8] = b"a1 LOGIN {3}\r\njoe \"pw\"\r\na2 SELECT inbox\r\na3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS ({4}\r\nDate)])\r\nbad\r\na4 UID STORE 1 +FLAGS \\Seen\r\n";
    let whole = drive(Limits::default(), stream, stream.len());
    for step in [1, 2, 3, 5, 13] {
        let run = drive(Limits::default(), stream, step);
        let strip = |v: &[Outcome]| -> Vec<Outcome> {
            v.iter()
                .filter(|o| **o != Outcome::SendContinuation)
                .cloned()
                .collect()
        };
        assert_eq!(strip(&run.outcomes), strip(&whole.outcomes), "step {step}");
        assert_eq!(run.leftover, 0);
    }
    assert_eq!(
        whole
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Command { .. }))
            .count(),
        4
    );
}

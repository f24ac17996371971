//! Unit tests, one file per area, and the helpers they share.

mod acl;
mod append;
mod commands;
mod dates;
mod encode;
mod extensions;
mod fetch;
mod fetch_responses;
mod literals;
mod mailbox;
mod mailboxes;
mod responses;
mod search;
mod session;
mod shape;
mod thread_responses;

use crate::{Command, CommandBody, Limits, Outcome, Parser};

/// What a simulated connection saw.
#[derive(Debug, Default)]
pub(super) struct Run {
    /// Every outcome but Incomplete, in order.
    pub(super) outcomes: Vec<Outcome>,
    /// The APPEND messages the "caller" streamed past the parser.
    pub(super) messages: Vec<Vec<u8>>,
    /// Bytes left unconsumed at the end.
    pub(super) leftover: usize,
}

/// Feeds `stream` to a parser `step` bytes at a time, acting on each
/// outcome as a session would (streaming APPEND messages past the parser).
pub(super) fn drive(limits: Limits, stream: &[u8], step: usize) -> Run {
    drive_with(Parser::new(limits), stream, step)
}

/// [`drive`] with a parser set up by the caller (e.g. UTF8=ACCEPT on).
pub(super) fn drive_with(mut parser: Parser, stream: &[u8], step: usize) -> Run {
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut run = Run::default();
    let mut skip: u64 = 0;
    for _ in 0..1_000_000 {
        let outcome = parser.next(&buf);
        match &outcome {
            Outcome::Incomplete => {
                if fed >= stream.len() {
                    break;
                }
                let end = (fed + step).min(stream.len());
                for &b in &stream[fed..end] {
                    if skip > 0 {
                        skip -= 1;
                        if let Some(m) = run.messages.last_mut() {
                            m.push(b);
                        }
                    } else {
                        buf.push(b);
                    }
                }
                fed = end;
                continue;
            }
            Outcome::SendContinuation => {}
            Outcome::Command { consumed, .. }
            | Outcome::AppendEnd { consumed }
            | Outcome::AppendBegin { consumed, .. }
            | Outcome::AppendMessage { consumed, .. }
            | Outcome::AppendUrl { consumed, .. } => {
                buf.drain(..*consumed);
            }
            Outcome::Error {
                consumed, close, ..
            } => {
                let close = *close;
                buf.drain(..(*consumed).min(buf.len()));
                if close {
                    run.outcomes.push(outcome);
                    break;
                }
            }
            Outcome::AppendLiteral { literal, consumed } => {
                buf.drain(..*consumed);
                let size = literal.size;
                let now = usize::try_from(size).unwrap().min(buf.len());
                run.messages.push(buf.drain(..now).collect());
                skip = size - now as u64;
            }
        }
        run.outcomes.push(outcome);
    }
    run.leftover = buf.len();
    run
}

/// Parses a whole input with UTF8=ACCEPT on; the outcomes but
/// Incomplete and SendContinuation.
pub(super) fn outcomes_utf8(input: &[u8]) -> Vec<Outcome> {
    let mut parser = Parser::new(Limits::default());
    parser.set_utf8(true);
    drive_with(parser, input, input.len().max(1))
        .outcomes
        .into_iter()
        .filter(|o| *o != Outcome::SendContinuation)
        .collect()
}

/// Parses a whole input with default limits; the outcomes but Incomplete.
pub(super) fn outcomes(input: &[u8]) -> Vec<Outcome> {
    drive(Limits::default(), input, input.len().max(1)).outcomes
}

/// The one command `input` holds, which must parse.
pub(super) fn parse(input: impl AsRef<[u8]>) -> Command {
    let input = input.as_ref();
    let run = drive(Limits::default(), input, input.len());
    let commands: Vec<_> = run
        .outcomes
        .into_iter()
        .filter(|o| *o != Outcome::SendContinuation)
        .collect();
    match commands.as_slice() {
        [Outcome::Command { command, consumed }] => {
            assert_eq!(*consumed, input.len(), "consumed for {input:?}");
            command.clone()
        }
        other => panic!("{input:?} gave {other:?}"),
    }
}

/// The body of the one command `input` holds.
pub(super) fn body(input: impl AsRef<[u8]>) -> CommandBody {
    parse(input).body
}

/// The error `input` gives: (tag, message); asserts a BAD that consumes
/// the whole input and does not close.
pub(super) fn bad(input: impl AsRef<[u8]>) -> (Option<String>, String) {
    let input = input.as_ref();
    let outs: Vec<_> = outcomes(input)
        .into_iter()
        .filter(|o| *o != Outcome::SendContinuation)
        .collect();
    match outs.as_slice() {
        [
            Outcome::Error {
                tag,
                message,
                consumed,
                close: false,
                code: None,
            },
        ] => {
            assert_eq!(*consumed, input.len(), "consumed for {input:?}");
            assert!(!message.contains('\r') && !message.contains('\n'));
            (tag.clone(), message.clone())
        }
        other => panic!("{input:?} gave {other:?}"),
    }
}

//! Feeds a byte stream to a parser as a connection would, acting on each
//! outcome as the IMAP session does (dropping what it consumed, streaming
//! APPEND literals past it), and checks the invariants every outcome must
//! keep.

use mailkeep_imap_proto::{Limits, Outcome, Parser};

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Run {
    /// Every outcome but `Incomplete`, in order.
    pub outcomes: Vec<Outcome>,
    /// Bytes left unconsumed at the end of the stream.
    pub leftover: usize,
    /// The content of each streamed literal (APPEND messages and CATENATE
    /// TEXT parts), in order: what the session would have stored.
    pub streamed: Vec<Vec<u8>>,
}

impl Run {
    /// The index of the first outcome that closes the connection, or
    /// `usize::MAX` when none does.
    pub fn closed_at(&self) -> usize {
        self.outcomes
            .iter()
            .position(|o| matches!(o, Outcome::Error { close: true, .. }))
            .unwrap_or(usize::MAX)
    }
}

/// Feeds `stream` to a new parser with `limits` (UTF8=ACCEPT on when
/// `utf8`), `step` bytes at a time.
pub fn drive(limits: Limits, utf8: bool, stream: &[u8], step: usize) -> Run {
    let mut parser = Parser::new(limits);
    parser.set_utf8(utf8);
    // The parser keeps one command's text and inline literals, plus what
    // arrived in the last read.
    let bound =
        2 * (limits.max_line + usize::try_from(limits.max_inline_literal).unwrap_or(0)) + step + 16;
    let announced = literals_announced(stream);
    let mut continuations = 0;
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut skip: u64 = 0;
    let mut run = Run::default();
    // Each round consumes bytes or feeds more, so this many rounds is
    // generous; a parser that loops without progress fails here.
    for _ in 0..4 * stream.len() + 64 {
        let outcome = parser.next(&buf);
        match &outcome {
            Outcome::Incomplete => {
                if fed >= stream.len() {
                    run.leftover = buf.len();
                    return run;
                }
                let end = (fed + step).min(stream.len());
                for &b in &stream[fed..end] {
                    if skip > 0 {
                        skip -= 1;
                        if let Some(content) = run.streamed.last_mut() {
                            content.push(b);
                        }
                    } else {
                        buf.push(b);
                    }
                }
                fed = end;
                assert!(
                    buf.len() <= bound || limits == Limits::default(),
                    "parser buffer grew to {} bytes",
                    buf.len()
                );
                continue;
            }
            Outcome::SendContinuation => {
                continuations += 1;
                assert!(
                    continuations <= announced,
                    "more continuations than literals announced"
                );
            }
            Outcome::Command { consumed, .. }
            | Outcome::AppendEnd { consumed }
            | Outcome::AppendBegin { consumed, .. }
            | Outcome::AppendMessage { consumed, .. }
            | Outcome::AppendUrl { consumed, .. } => {
                assert!(*consumed > 0 && *consumed <= buf.len(), "{outcome:?}");
                buf.drain(..*consumed);
            }
            Outcome::Error {
                consumed,
                close,
                message,
                tag,
                ..
            } => {
                assert!(*consumed > 0, "{outcome:?}");
                assert!(!message.contains(['\r', '\n']), "{message:?}");
                if let Some(tag) = tag {
                    assert!(!tag.is_empty() && !tag.contains([' ', '\r', '\n']));
                }
                if *close {
                    run.outcomes.push(outcome);
                    run.leftover = buf.len();
                    return run;
                }
                assert!(*consumed <= buf.len(), "{outcome:?}");
                buf.drain(..*consumed);
            }
            Outcome::AppendLiteral { literal, consumed } => {
                assert!(*consumed > 0 && *consumed <= buf.len(), "{outcome:?}");
                assert!(literal.size <= limits.max_append, "{outcome:?}");
                buf.drain(..*consumed);
                let now = usize::try_from(literal.size)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                run.streamed.push(buf.drain(..now).collect());
                skip = literal.size - now as u64;
            }
        }
        run.outcomes.push(outcome);
    }
    panic!("the parser stopped making progress");
}

/// How many literal announcements (`{N}` or `{N+}` at a line's end) the
/// stream holds: an upper bound on the continuations it may ask for.
fn literals_announced(stream: &[u8]) -> usize {
    stream.windows(2).filter(|w| w == b"}\n").count()
        + stream.windows(3).filter(|w| w == b"}\r\n").count()
}

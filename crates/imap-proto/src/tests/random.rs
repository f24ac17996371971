//! Property-style test: random input never panics the parser, and every
//! outcome makes progress.

use crate::{Limits, Outcome, Parser};

/// xorshift64*: a tiny deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces that make random input hit interesting paths.
const TOKENS: &[&[u8]] = &[
    b"a1 ",
    b"LOGIN ",
    b"APPEND ",
    b"FETCH ",
    b"UID ",
    b"STORE ",
    b"SELECT ",
    b"STATUS ",
    b"LIST ",
    b"AUTHENTICATE ",
    b"INBOX ",
    b"{3}\r\n",
    b"{2+}\r\n",
    b"~{4}\r\n",
    b"{0}\r\n",
    b"{999999999}\r\n",
    b"{1+}\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0.5>",
    b"\"",
    b"\\",
    b" ",
    b"*",
    b"1:*",
    b"BODY.PEEK[1.HEADER.FIELDS (A B)]",
    b"+FLAGS ",
    b"\\Seen",
    b"\"17-Jul-1996 02:44:25 -0700\" ",
    b"(CHANGEDSINCE 5)",
    b"0",
    b"$",
    b",",
    b"=",
    b"\0",
    b"\xff",
    b"CATENATE (",
    b"TEXT ",
    b"URL ",
    b"UTF8 (",
    b"REPLACE 1 ",
    b"UID REPLACE ",
    b"SEARCH ",
    b"RETURN (",
    b"NOTIFY SET ",
    b"(selected (MessageNew MessageExpunge))",
    b"SETMETADATA ",
    b"&AOk-",
];

#[test]
fn random_input_never_panics_and_always_progresses() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let limits = Limits {
        max_line: 300,
        max_inline_literal: 50,
        max_append: 40,
        max_append_total: 60,
    };
    for _ in 0..6000 {
        let mut stream = Vec::new();
        let len = rng.below(60);
        for _ in 0..len {
            if rng.below(4) == 0 {
                stream.push(rng.next() as u8);
            } else {
                stream.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
            }
        }
        let mut parser = Parser::new(limits);
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut skip = 0u64;
        let mut continuations_in_a_row = 0;
        loop {
            match parser.next(&buf) {
                Outcome::Incomplete => {
                    continuations_in_a_row = 0;
                    if fed >= stream.len() {
                        break;
                    }
                    let end = (fed + 1 + rng.below(8)).min(stream.len());
                    for &b in &stream[fed..end] {
                        if skip > 0 {
                            skip -= 1;
                        } else {
                            buf.push(b);
                        }
                    }
                    fed = end;
                }
                Outcome::SendContinuation => {
                    // At most one per literal announced in the buffer.
                    continuations_in_a_row += 1;
                    let announced = buf.windows(2).filter(|w| w == b"}\n").count()
                        + buf.windows(3).filter(|w| w == b"}\r\n").count();
                    assert!(
                        continuations_in_a_row <= announced,
                        "repeated continuation: {stream:?}"
                    );
                }
                Outcome::Command { consumed, .. }
                | Outcome::AppendEnd { consumed }
                | Outcome::AppendBegin { consumed, .. }
                | Outcome::AppendMessage { consumed, .. }
                | Outcome::AppendUrl { consumed, .. } => {
                    continuations_in_a_row = 0;
                    assert!(consumed > 0 && consumed <= buf.len(), "{stream:?}");
                    buf.drain(..consumed);
                }
                Outcome::Error {
                    consumed,
                    close,
                    message,
                    ..
                } => {
                    continuations_in_a_row = 0;
                    assert!(consumed > 0, "{stream:?}");
                    assert!(!message.contains('\n') && !message.contains('\r'));
                    if close {
                        break;
                    }
                    assert!(consumed <= buf.len(), "{stream:?}");
                    buf.drain(..consumed);
                }
                Outcome::AppendLiteral { literal, consumed } => {
                    continuations_in_a_row = 0;
                    assert!(consumed > 0 && consumed <= buf.len(), "{stream:?}");
                    buf.drain(..consumed);
                    let size = literal.size;
                    assert!(size <= limits.max_append);
                    let now = (size as usize).min(buf.len());
                    buf.drain(..now);
                    skip = size - now as u64;
                }
            }
            assert!(buf.len() <= 2 * (limits.max_line + limits.max_inline_literal as usize) + 16);
        }
    }
}

//! The LMTP command parser and the DATA decoder of `crates/lmtp`, the two
//! places an lmtp process reads bytes an MTA (or anyone who can reach its
//! socket) sends.

use mailkeep_lmtp::command::parse;
use mailkeep_lmtp::data::{DotDecoder, Received};

/// Tokens of LMTP's grammar for the stable engine's mutations.
pub static DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"..",
    b"LHLO ",
    b"MAIL FROM:<",
    b"RCPT TO:<",
    b">",
    b" SIZE=",
    b" BODY=8BITMIME",
    b" SMTPUTF8",
    b"DATA\r\n",
    b"BDAT ",
    b" LAST",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"user+detail@example.org",
];

/// The most of a message the decoder keeps in this target.
const MAX: u64 = 256;

/// Every line is a command the pure parser answers the same way twice;
/// the same bytes as a DATA transfer end at the same place and the same
/// way however they are cut into reads.
pub fn session(data: &[u8]) {
    crate::line_protocol::commands(data, parse);
    let whole = decode(data, data.len().max(1));
    for piece in [1, 3, 7] {
        assert_eq!(decode(data, piece), whole, "read in pieces of {piece}");
    }
    let (consumed, outcome) = whole;
    if let Some(used) = consumed {
        let head = &data[..used];
        assert!(
            head.ends_with(b"\r\n.\r\n") || head == b".\r\n",
            "ended without CRLF . CRLF: {:?}",
            head.escape_ascii().to_string()
        );
    }
    if let Some(Received::Message(message)) = outcome {
        assert!(message.len() as u64 <= MAX, "kept more than the limit");
        for (i, &b) in message.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && message[i - 1] == b'\r', "a bare LF was accepted");
            }
        }
    }
}

/// Feeds `data` to a decoder `piece` bytes at a time, giving back what it
/// left; the bytes used when the message ended (`None`: it did not) and
/// how it ended.
fn decode(data: &[u8], piece: usize) -> (Option<usize>, Option<Received>) {
    let mut decoder = DotDecoder::new(MAX);
    let mut pending: Vec<u8> = Vec::new();
    let mut used_before = 0;
    for chunk in data.chunks(piece) {
        pending.extend_from_slice(chunk);
        let used = decoder.feed(&pending);
        pending.drain(..used);
        used_before += used;
        if decoder.is_done() {
            return (Some(used_before), Some(decoder.finish()));
        }
    }
    (None, None)
}

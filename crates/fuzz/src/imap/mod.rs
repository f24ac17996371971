//! The IMAP command parser (`imap-proto`) fed a client's byte stream.
//!
//! Properties checked on every input:
//! * every outcome consumes at least one byte and no more than it was
//!   given, error messages fit on one line, the parser's buffer stays
//!   bounded under small limits, and it asks at most one continuation per
//!   literal announced;
//! * feeding the stream whole, a few bytes at a time or byte by byte gives
//!   the same outcomes (up to a connection-closing error, which may come
//!   sooner when the parser cannot yet see the line's end);
//! * every parsed command that [`render`] can write back parses again to
//!   the very same command (parse → render → parse), and so does every
//!   complete APPEND and REPLACE, with the messages streamed past it;
//! * the stream's lines as AUTHENTICATE answers, as modified UTF-7 and as
//!   an IMAP URL decode without panicking, and what decodes re-encodes to
//!   the same bytes.

mod append;
mod drive;
mod render;

use mailkeep_imap_proto::{
    Limits, Outcome, Parser, SaslResponse, base64_encode, decode_mutf7, encode_mutf7,
    parse_imap_url,
};

pub use drive::{Run, drive};
pub use render::render;

/// Small limits, so that random inputs reach the limit paths.
const TIGHT: Limits = Limits {
    max_line: 300,
    max_inline_literal: 50,
    max_append: 40,
    max_append_total: 60,
    max_metadata_value: 30,
};

/// Runs one client byte stream through the parser in several ways and
/// checks that they agree, and round-trips every command it parses.
pub fn command_stream(data: &[u8]) {
    for utf8 in [false, true] {
        let whole = drive(Limits::default(), utf8, data, data.len().max(1));
        let chunked = drive(Limits::default(), utf8, data, 3);
        same_outcomes(&whole, &chunked, data);
        for outcome in &whole.outcomes {
            if let Outcome::Command { command, .. } = outcome {
                round_trip(command, utf8);
            }
        }
        for pieces in append::streamed_commands(&whole) {
            append::round_trip(&pieces, utf8);
        }
    }
    let tight_whole = drive(TIGHT, false, data, data.len().max(1));
    let tight_bytes = drive(TIGHT, false, data, 1);
    same_outcomes(&tight_whole, &tight_bytes, data);
    for line in data.split_inclusive(|&b| b == b'\n').take(16) {
        sasl_line(line);
        mutf7(line);
        let _ = parse_imap_url(&String::from_utf8_lossy(line));
        let _ = Parser::new(Limits::default()).idle_end(line);
    }
}

/// The two runs saw the same outcomes, up to the first that closes the
/// connection in either (an unterminated line is refused as soon as it is
/// too long, which a whole stream shows later, if at all).
fn same_outcomes(a: &Run, b: &Run, data: &[u8]) {
    let cut = a
        .closed_at()
        .min(b.closed_at())
        .min(a.outcomes.len())
        .min(b.outcomes.len());
    let (a_head, b_head) = (&a.outcomes[..cut], &b.outcomes[..cut]);
    assert_eq!(
        a_head,
        b_head,
        "outcomes depend on how the stream is split: {:?}",
        String::from_utf8_lossy(data)
    );
    if a.closed_at() == usize::MAX && b.closed_at() == usize::MAX {
        assert_eq!(a.outcomes.len(), b.outcomes.len());
        assert_eq!(a.leftover, b.leftover, "unconsumed bytes differ");
    }
}

/// Parse → render → parse: the command comes back the same.
pub(crate) fn round_trip(command: &mailkeep_imap_proto::Command, utf8: bool) {
    let Some(text) = render(command, utf8) else {
        return;
    };
    let run = drive(Limits::default(), utf8, &text, text.len());
    let commands: Vec<&Outcome> = run
        .outcomes
        .iter()
        .filter(|o| **o != Outcome::SendContinuation)
        .collect();
    match commands.as_slice() {
        [Outcome::Command { command: again, .. }] => assert_eq!(
            again,
            command,
            "rendered as {:?}",
            String::from_utf8_lossy(&text)
        ),
        other => panic!(
            "{command:?} rendered as {:?} parsed as {other:?}",
            String::from_utf8_lossy(&text)
        ),
    }
}

/// A line as an answer to an AUTHENTICATE continuation: data that decodes
/// is the data its canonical base64 decodes to.
fn sasl_line(line: &[u8]) {
    if let Ok(SaslResponse::Data(data)) = Parser::parse_sasl_response(line) {
        let encoded = base64_encode(&data);
        assert_eq!(
            Parser::parse_sasl_response(encoded.as_bytes()),
            Ok(SaslResponse::Data(data))
        );
    }
}

/// Modified UTF-7 (RFC 3501 §5.1.3): a name that decodes is the canonical
/// spelling of what it decodes to, and any text encodes to a name that
/// decodes back to it.
fn mutf7(line: &[u8]) {
    if let Ok(name) = decode_mutf7(line) {
        assert_eq!(encode_mutf7(&name).as_bytes(), line);
    }
    let text = String::from_utf8_lossy(line);
    assert_eq!(
        decode_mutf7(encode_mutf7(&text).as_bytes()).as_deref(),
        Ok(&*text)
    );
}

/// Pieces of IMAP that make random input reach deep into the grammar.
pub static DICTIONARY: &[&[u8]] = &[
    b"a1 ",
    b"UID ",
    b"LOGIN ",
    b"AUTHENTICATE PLAIN ",
    b"SELECT ",
    b"EXAMINE ",
    b"CREATE ",
    b"RENAME ",
    b"STATUS ",
    b"LIST ",
    b"LSUB ",
    b"APPEND ",
    b"FETCH ",
    b"STORE ",
    b"SEARCH ",
    b"SORT ",
    b"THREAD ",
    b"COPY ",
    b"MOVE ",
    b"EXPUNGE",
    b"REPLACE ",
    b"ENABLE ",
    b"ID ",
    b"NOTIFY SET ",
    b"GETMETADATA ",
    b"SETMETADATA ",
    b"SETACL ",
    b"DELETEACL ",
    b"GETACL ",
    b"LISTRIGHTS ",
    b"MYRIGHTS ",
    b"anyone ",
    b"+lrswipkxtea",
    b"-x",
    b"RETURN (MYRIGHTS)",
    b"IDLE\r\nDONE\r\n",
    b"INBOX",
    b"&AOk-",
    b"{3}\r\n",
    b"{2+}\r\n",
    b"~{4}\r\n",
    b"{0}\r\n",
    b"{4294967296}\r\n",
    b"\r\n",
    b"\"",
    b"\\",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0.5>",
    b"1:*",
    b"$",
    b",",
    b"*",
    b" ",
    b"NOT ",
    b"OR ",
    b"HEADER ",
    b"CHARSET UTF-8 ",
    b"RETURN (MIN MAX COUNT SAVE PARTIAL -1:-5) ",
    b"MODSEQ \"/flags/\\\\Seen\" all 5",
    b"SINCE 1-Feb-2024",
    b"BODY.PEEK[1.2.HEADER.FIELDS (From To)]",
    b"BINARY[1]<0.10>",
    b"(CHANGEDSINCE 5 VANISHED)",
    b"+FLAGS.SILENT (\\Seen $Junk)",
    b"(UNCHANGEDSINCE 0)",
    b"(QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
    b"CATENATE (URL \"/INBOX;UIDVALIDITY=9/;UID=20\" TEXT {3}\r\n",
    b"UTF8 (~{3}\r\n",
    b"\"17-Jul-1996 02:44:25 -0700\" ",
    b"{999999999}\r\n",
    b"{1+}\r\n",
    b"\n",
    b"\r",
    b"0",
    b"=",
    b"\\Seen",
    b"TEXT ",
    b"URL ",
    b"REPLACE 1 ",
    b"UID REPLACE ",
    b"(selected (MessageNew MessageExpunge))",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
];

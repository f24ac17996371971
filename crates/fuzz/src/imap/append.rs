//! The parse → render → parse round trip of APPEND and REPLACE, whose
//! messages the parser hands out piece by piece: the pieces of a complete
//! command (with the literals' contents) are written back as a client
//! would send them and must come back the same.

use mailkeep_imap_proto::{
    AppendMessage, Command, CommandBody, Encoder, Limits, Literal, Outcome, flag_list,
    format_date_time,
};

use super::drive::{Run, drive};

/// One piece of a streamed command, without the parser's byte counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// AppendBegin: the head.
    Begin(Command),
    /// AppendMessage: a message's options.
    Message(AppendMessage),
    /// AppendUrl: a CATENATE URL part.
    Url(String),
    /// AppendLiteral and the bytes the session streamed for it.
    Literal(Literal, Vec<u8>),
}

/// The complete streamed commands of a run (AppendBegin through
/// AppendEnd); ones cut short by an error or the stream's end are left out.
pub(crate) fn streamed_commands(run: &Run) -> Vec<Vec<Piece>> {
    let mut done = Vec::new();
    let mut current: Option<Vec<Piece>> = None;
    let mut literals = run.streamed.iter();
    for outcome in &run.outcomes {
        let piece = match outcome {
            Outcome::AppendBegin { command, .. } => {
                current = Some(Vec::new());
                Piece::Begin(command.clone())
            }
            Outcome::AppendMessage { message, .. } => Piece::Message(message.clone()),
            Outcome::AppendUrl { url, .. } => Piece::Url(url.clone()),
            Outcome::AppendLiteral { literal, .. } => {
                let content = literals.next().cloned().unwrap_or_default();
                Piece::Literal(*literal, content)
            }
            Outcome::AppendEnd { .. } => {
                done.extend(current.take());
                continue;
            }
            Outcome::SendContinuation => continue,
            Outcome::Incomplete | Outcome::Command { .. } | Outcome::Error { .. } => {
                current = None;
                continue;
            }
        };
        if let Some(pieces) = current.as_mut() {
            pieces.push(piece);
        }
    }
    done
}

/// Renders `pieces` and checks they parse back to the same pieces.
pub(crate) fn round_trip(pieces: &[Piece], utf8: bool) {
    let text = render(pieces, utf8);
    let run = drive(Limits::default(), utf8, &text, text.len());
    let again = streamed_commands(&run);
    assert_eq!(
        again.as_slice(),
        [pieces.to_vec()],
        "rendered as {:?}",
        text.escape_ascii().to_string()
    );
}

/// The command as a client sends it.
fn render(pieces: &[Piece], utf8: bool) -> Vec<u8> {
    let enc = Encoder { utf8 };
    let mut out = Vec::new();
    // Inside the `CATENATE (` or `UTF8 (` of the message being written.
    let mut open = false;
    let mut catenate = false;
    let mut first_part = true;
    for piece in pieces {
        match piece {
            Piece::Begin(command) => {
                out.extend_from_slice(command.tag.as_bytes());
                out.push(b' ');
                out.extend_from_slice(command.body.name().as_bytes());
                out.push(b' ');
                match &command.body {
                    CommandBody::Append(append) => enc.mailbox(&mut out, &append.mailbox),
                    CommandBody::Replace(replace) => {
                        out.extend_from_slice(format!("{} ", replace.target).as_bytes());
                        enc.mailbox(&mut out, &replace.mailbox);
                    }
                    other => panic!("a streamed command begins with {other:?}"),
                }
            }
            Piece::Message(message) => {
                close(&mut out, &mut open);
                out.push(b' ');
                if !message.flags.is_empty() {
                    flag_list(&mut out, &message.flags);
                    out.push(b' ');
                }
                if let Some(date) = message.date {
                    out.extend_from_slice(format!("\"{}\" ", format_date_time(date)).as_bytes());
                }
                catenate = message.catenate;
                if message.catenate {
                    out.extend_from_slice(b"CATENATE (");
                } else if message.utf8 {
                    out.extend_from_slice(b"UTF8 (");
                }
                open = message.catenate || message.utf8;
                first_part = true;
            }
            Piece::Url(url) => {
                part_separator(&mut out, &mut first_part);
                out.extend_from_slice(b"URL ");
                enc.astring(&mut out, url.as_bytes());
            }
            Piece::Literal(literal, content) => {
                if catenate {
                    part_separator(&mut out, &mut first_part);
                    out.extend_from_slice(b"TEXT ");
                }
                let tilde = if literal.binary { "~" } else { "" };
                let plus = if literal.non_sync { "+" } else { "" };
                out.extend_from_slice(format!("{tilde}{{{}{plus}}}\r\n", literal.size).as_bytes());
                out.extend_from_slice(content);
            }
        }
    }
    close(&mut out, &mut open);
    out.extend_from_slice(b"\r\n");
    out
}

/// The space between two CATENATE parts.
fn part_separator(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b' ');
    }
    *first = false;
}

/// Closes an open `CATENATE (` or `UTF8 (`.
fn close(out: &mut Vec<u8>, open: &mut bool) {
    if std::mem::take(open) {
        out.push(b')');
    }
}

#[cfg(test)]
mod tests {
    use mailkeep_imap_proto::Limits;

    use super::{Piece, round_trip, streamed_commands};
    use crate::imap::drive;

    #[test]
    fn multiappend_catenate_and_utf8_replace_round_trip() {
        let stream = b"c1 APPEND Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" {11}\r\nHello world (\\Seen) {3+}\r\nabc\r\n\
c3 APPEND INBOX CATENATE (URL \"/INBOX;UIDVALIDITY=9/;UID=20\" TEXT {3}\r\nabc URL /INBOX/;UID=1)\r\n\
c4 UID REPLACE 1 &AOk- UTF8 (~{2+}\r\nhi)\r\n";
        for utf8 in [false, true] {
            let run = drive(Limits::default(), utf8, stream, 5);
            let commands = streamed_commands(&run);
            assert_eq!(commands.len(), 3, "{:?}", run.outcomes);
            let literals: Vec<&[u8]> = commands
                .iter()
                .flatten()
                .filter_map(|p| match p {
                    Piece::Literal(_, content) => Some(content.as_slice()),
                    _ => None,
                })
                .collect();
            assert_eq!(literals, [&b"Hello world"[..], b"abc", b"abc", b"hi"]);
            for pieces in &commands {
                round_trip(pieces, utf8);
            }
        }
    }
}

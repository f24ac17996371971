//! The incremental command parser: frames commands in the bytes a
//! connection has received (lines and literals), asks for continuations,
//! hands APPEND's message to the caller to stream, and parses the rest.
//!
//! The caller keeps a buffer of received, unconsumed bytes and calls
//! [`Parser::next`] with all of it after each read. The parser remembers how
//! far it has scanned, so feeding a command byte by byte costs linear time.
//!
//! Limits: command text (everything but literal contents) may be
//! `max_line` bytes; a line that grows past that without CRLF is refused
//! with `close: true` (skipping it safely would require reading unbounded
//! data). A complete but over-long line is refused with BAD. The literals of
//! one command other than APPEND's message may total `max_inline_literal`
//! bytes; APPEND's message may be `max_append` bytes.

use crate::command::{Command, CommandBody};
use crate::error::ParseError;
use crate::framing::{Head, check_head, extract_tag, literal_marker};
use crate::grammar::{Fail, parse_append_prefix, parse_command};
use crate::limits::Limits;
use crate::outcome::{Outcome, SaslResponse};

/// A parse error already known for the command being framed; reported once
/// the command's end (or a synchronizing literal) is reached.
#[derive(Debug, Clone)]
struct Doom {
    tag: Option<String>,
    message: String,
}

/// Progress through the command at the front of the buffer.
#[derive(Debug, Clone, Default)]
struct Frame {
    /// Next byte to scan.
    pos: usize,
    /// Start of the current line (or of the text after a literal).
    line_start: usize,
    /// Command text bytes seen in complete lines.
    text_len: usize,
    /// Inline literal bytes announced so far.
    inline_total: u64,
    /// While inside a literal: where it ends.
    literal_end: Option<usize>,
    /// A known error to report at the end of the command.
    doom: Option<Doom>,
}

/// Where in the stream the parser is.
#[derive(Debug, Clone)]
enum Mode {
    /// At or inside a command.
    Command,
    /// Just after an APPEND message literal: CRLF ends the command. (A
    /// MULTIAPPEND would continue here with another message.)
    AfterAppend {
        /// The APPEND's tag, for errors.
        tag: String,
    },
}

/// One connection's command parser.
#[derive(Debug, Clone)]
pub struct Parser {
    limits: Limits,
    mode: Mode,
    frame: Frame,
}

impl Parser {
    /// A parser for a new connection, enforcing `limits`.
    pub fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            mode: Mode::Command,
            frame: Frame::default(),
        }
    }

    /// Looks at the start of `buf` (the bytes received so far and not yet
    /// consumed) and says what to do; see [`Outcome`]. Between calls the
    /// caller may only append to `buf` or drop the bytes an outcome says.
    pub fn next(&mut self, buf: &[u8]) -> Outcome {
        if let Mode::AfterAppend { tag } = &self.mode {
            let end = match buf {
                [] | [b'\r'] => return Outcome::Incomplete,
                [b'\r', b'\n', ..] => Some(2),
                [b'\n', ..] => Some(1),
                _ => None,
            };
            let tag = tag.clone();
            self.mode = Mode::Command;
            self.frame = Frame::default();
            if let Some(consumed) = end {
                return Outcome::AppendEnd { consumed };
            }
            self.frame.doom = Some(Doom {
                tag: Some(tag),
                message: "Expected end of line after the APPEND message".into(),
            });
        }
        self.frame_command(buf)
    }

    /// Parses one line sent in answer to an AUTHENTICATE continuation:
    /// base64 data, or `*` to cancel. A trailing CRLF (or LF) is allowed.
    pub fn parse_sasl_response(line: &[u8]) -> Result<SaslResponse, ParseError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"*" {
            return Ok(SaslResponse::Cancel);
        }
        if line.contains(&b'\r') || line.contains(&b'\n') {
            return Err(ParseError::Syntax("Expected one line of base64".into()));
        }
        crate::base64::decode(line)
            .map(SaslResponse::Data)
            .ok_or(ParseError::InvalidBase64)
    }

    /// Scans the command at the front of `buf` as far as the bytes go.
    fn frame_command(&mut self, buf: &[u8]) -> Outcome {
        if self.frame.pos > buf.len() || self.frame.line_start > buf.len() {
            // The caller dropped bytes it was not told to: start afresh
            // rather than index out of bounds.
            self.frame = Frame::default();
        }
        loop {
            if let Some(end) = self.frame.literal_end {
                if buf.len() < end {
                    return Outcome::Incomplete;
                }
                self.frame.literal_end = None;
                self.frame.pos = end;
                self.frame.line_start = end;
            }
            let start = self.frame.pos.min(buf.len());
            let Some(offset) = buf[start..].iter().position(|&b| b == b'\n') else {
                if self.frame.text_len + buf.len().saturating_sub(self.frame.line_start)
                    > self.limits.max_line
                {
                    return self.fail(buf, "Command line too long", buf.len(), true, None);
                }
                self.frame.pos = buf.len();
                return Outcome::Incomplete;
            };
            let nl = start + offset;
            let after = nl + 1;
            let line = &buf[self.frame.line_start..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.frame.text_len += after - self.frame.line_start;
            let marker = literal_marker(line);
            if self.frame.text_len > self.limits.max_line {
                let close = marker.is_some_and(|m| m.non_sync);
                return self.fail(buf, "Command line too long", after, close, None);
            }
            let Some(marker) = marker else {
                return self.finish(buf, after);
            };
            if let Some(outcome) = self.literal(buf, after, marker) {
                return outcome;
            }
        }
    }

    /// Handles a literal announced by the line ending at `after`. Returns
    /// what to answer now, or `None` to keep scanning.
    fn literal(
        &mut self,
        buf: &[u8],
        after: usize,
        marker: crate::framing::Marker,
    ) -> Option<Outcome> {
        let mut append = false;
        if self.frame.doom.is_none() {
            match check_head(buf) {
                Head::Fine { append: a } => append = a,
                Head::Bad(message) => {
                    self.frame.doom = Some(Doom {
                        tag: extract_tag(buf),
                        message,
                    });
                }
            }
        }
        if append {
            match parse_append_prefix(&buf[..after]) {
                Ok(command) => return Some(self.append_literal(command, after)),
                Err(Fail::Incomplete) => {}
                Err(Fail::Bad(message)) => {
                    self.frame.doom = Some(Doom {
                        tag: extract_tag(buf),
                        message,
                    });
                }
            }
        }
        if self.frame.doom.is_some() && !marker.non_sync {
            // The client waits for a continuation it will not get.
            return Some(self.finish(buf, after));
        }
        let room = self
            .limits
            .max_inline_literal
            .saturating_sub(self.frame.inline_total);
        let end = marker
            .size
            .filter(|&size| size <= room)
            .and_then(|size| usize::try_from(size).ok())
            .and_then(|size| after.checked_add(size));
        let (Some(end), Some(size)) = (end, marker.size) else {
            let close = marker.non_sync;
            return Some(self.fail(buf, "Literal too big", after, close, None));
        };
        self.frame.inline_total += size;
        self.frame.literal_end = Some(end);
        if marker.non_sync {
            None
        } else {
            Some(Outcome::SendContinuation)
        }
    }

    /// APPEND's message literal has been announced.
    fn append_literal(&mut self, command: Command, after: usize) -> Outcome {
        let (size, non_sync) = match &command.body {
            CommandBody::Append { size, non_sync, .. } => (*size, *non_sync),
            _ => (0, false),
        };
        self.frame = Frame::default();
        if size > self.limits.max_append {
            return Outcome::Error {
                tag: Some(command.tag),
                message: "Message too big".into(),
                consumed: after,
                close: non_sync,
                code: Some("TOOBIG".into()),
            };
        }
        self.mode = Mode::AfterAppend {
            tag: command.tag.clone(),
        };
        Outcome::AppendLiteral {
            command,
            consumed: after,
        }
    }

    /// The command ends at `end`: parse it (or report its known error).
    fn finish(&mut self, buf: &[u8], end: usize) -> Outcome {
        let frame = std::mem::take(&mut self.frame);
        let bytes = &buf[..end];
        if let Some(doom) = frame.doom {
            return error(doom.tag, doom.message, end, false, None);
        }
        match parse_command(bytes) {
            Ok(command) => Outcome::Command {
                command,
                consumed: end,
            },
            Err(message) => error(extract_tag(bytes), message, end, false, None),
        }
    }

    /// Reports an error found while framing and starts over.
    fn fail(
        &mut self,
        buf: &[u8],
        message: &str,
        consumed: usize,
        close: bool,
        code: Option<String>,
    ) -> Outcome {
        let frame = std::mem::take(&mut self.frame);
        let tag = match frame.doom {
            Some(doom) => doom.tag,
            None => extract_tag(buf),
        };
        error(tag, message.to_string(), consumed, close, code)
    }
}

/// An error outcome with a message safe to put on one response line.
fn error(
    tag: Option<String>,
    message: String,
    consumed: usize,
    close: bool,
    code: Option<String>,
) -> Outcome {
    let message = message.replace(['\r', '\n'], " ");
    Outcome::Error {
        tag,
        message,
        consumed: consumed.max(1),
        close,
        code,
    }
}

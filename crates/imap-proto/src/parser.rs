//! The incremental command parser: frames commands in the bytes a
//! connection has received (lines and literals), asks for continuations,
//! hands APPEND's and REPLACE's message literals to the caller to stream,
//! and parses the rest.
//!
//! The caller keeps a buffer of received, unconsumed bytes and calls
//! [`Parser::next`] with all of it after each read. The parser remembers how
//! far it has scanned, so feeding a command byte by byte costs linear time.
//!
//! Limits: command text (everything but literal contents) may be
//! `max_line` bytes; a line that grows past that without CRLF is refused
//! with `close: true` (skipping it safely would require reading unbounded
//! data). A complete but over-long line is refused with BAD. The literals of
//! one command that the parser buffers may total `max_inline_literal`
//! bytes; streamed messages are bounded by `max_append` and
//! `max_append_total`.

use std::collections::VecDeque;

use crate::cmd::append::{self, AppendProgress, Segment};
use crate::cmd::idle::{IdleEnd, idle_end};
use crate::cmd::parse_command;
use crate::code::{Code, MetadataCode};
use crate::error::ParseError;
use crate::framing::{Head, Marker, check_head, extract_tag, literal_marker};
use crate::grammar::Fail;
use crate::limits::Limits;
use crate::outcome::{Outcome, SaslResponse};

/// A parse error already known for the command being framed; reported once
/// the command's end (or a synchronizing literal) is reached.
#[derive(Debug, Clone)]
struct Doom {
    tag: Option<String>,
    message: String,
    code: Option<Code>,
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
    /// Inside an APPEND or REPLACE, just after a literal the caller
    /// streamed.
    Append(AppendProgress),
}

/// One connection's command parser.
#[derive(Debug, Clone)]
pub struct Parser {
    limits: Limits,
    mode: Mode,
    frame: Frame,
    /// Outcomes of a parsed APPEND segment not yet handed out.
    queue: VecDeque<Outcome>,
    /// UTF8=ACCEPT (or IMAP4rev2) is enabled.
    utf8: bool,
    /// Command names plugins add, upper case.
    extensions: std::sync::Arc<[String]>,
}

impl Parser {
    /// A parser for a new connection, enforcing `limits`.
    pub fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            mode: Mode::Command,
            frame: Frame::default(),
            queue: VecDeque::new(),
            utf8: false,
            extensions: std::sync::Arc::from(Vec::new()),
        }
    }

    /// Makes the parser accept the commands `names` (plugins' commands,
    /// e.g. GETQUOTA) as [`crate::CommandBody::Extension`], their
    /// arguments read in generic form; other unknown names stay BAD.
    pub fn set_extensions(&mut self, names: std::sync::Arc<[String]>) {
        self.extensions = names;
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Turns UTF8=ACCEPT on or off for the commands that follow: on after
    /// `ENABLE UTF8=ACCEPT` (RFC 6855 §3) or `ENABLE IMAP4rev2` (whose
    /// names are UTF-8, RFC 9051 §5.1). Off, mailbox names are modified
    /// UTF-7 (RFC 3501 §5.1.3), decoded to UTF-8, and raw 8-bit or invalid
    /// modified UTF-7 is refused with BAD; on, names are UTF-8 as sent.
    pub fn set_utf8(&mut self, on: bool) {
        self.utf8 = on;
    }

    /// Whether UTF8=ACCEPT is on.
    pub fn utf8(&self) -> bool {
        self.utf8
    }

    /// Looks at the start of `buf` (the bytes received so far and not yet
    /// consumed) and says what to do; see [`Outcome`]. Between calls the
    /// caller may only append to `buf` or drop the bytes an outcome says
    /// (and, after [`Outcome::AppendLiteral`], the literal's bytes).
    pub fn next(&mut self, buf: &[u8]) -> Outcome {
        if let Some(outcome) = self.queue.pop_front() {
            return outcome;
        }
        self.frame_command(buf)
    }

    /// The caller refuses the synchronizing literal of the
    /// [`Outcome::AppendLiteral`] just handed out: it answers the command
    /// (NO or BAD) instead of sending a continuation, so the client sends
    /// nothing more of it and the parser goes back to reading commands.
    /// Returns false, and changes nothing, when that literal was not
    /// synchronizing: the client sends it anyway, so the caller must read
    /// and drop its bytes and keep calling [`Parser::next`] until the
    /// command ends.
    pub fn refuse_literal(&mut self) -> bool {
        match &self.mode {
            Mode::Append(progress) if progress.pending_sync && self.queue.is_empty() => {
                self.mode = Mode::Command;
                self.frame = Frame::default();
                true
            }
            _ => false,
        }
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

    /// Recognises the `DONE` that ends an IDLE at the start of `buf`, with
    /// this parser's line limit; see [`IdleEnd`].
    pub fn idle_end(&self, buf: &[u8]) -> IdleEnd {
        idle_end(buf, self.limits.max_line)
    }

    /// The tag errors in the current command carry.
    fn tag_of(&self, buf: &[u8]) -> Option<String> {
        match &self.mode {
            Mode::Append(progress) => Some(progress.tag.clone()),
            Mode::Command => extract_tag(buf),
        }
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

    /// Parses the streamed-command segment `buf[..end]`: `Ok(None)` when
    /// the literal at its end is an inline one.
    fn segment(&self, buf: &[u8], end: usize) -> Result<Option<Segment>, Fail> {
        let bytes = &buf[..end];
        let result = match &self.mode {
            Mode::Append(progress) => append::resume(bytes, progress, self.utf8, &self.limits),
            Mode::Command => match check_head(bytes, &self.extensions) {
                Head::Fine { streamed: true, .. } => append::begin(bytes, self.utf8, &self.limits),
                _ => return Ok(None),
            },
        };
        match result {
            Ok(segment) => Ok(Some(segment)),
            Err(Fail::Incomplete) => Ok(None),
            Err(fail) => Err(fail),
        }
    }

    /// Hands out a parsed segment: the first outcome now, the rest queued.
    fn take_segment(&mut self, (mut outcomes, progress): Segment) -> Outcome {
        self.frame = Frame::default();
        self.mode = match progress {
            Some(progress) => Mode::Append(progress),
            None => Mode::Command,
        };
        let first = outcomes.pop_front();
        self.queue = outcomes;
        first.unwrap_or(Outcome::Incomplete)
    }

    /// Records a failure found before the command's end.
    fn doom(&mut self, buf: &[u8], fail: Fail) {
        let (message, code) = match fail {
            Fail::Bad(message) => (message, None),
            Fail::No(code, message) => (message, Some(code)),
            Fail::Incomplete => ("Unexpected end of command".to_string(), None),
        };
        self.frame.doom = Some(Doom {
            tag: self.tag_of(buf),
            message,
            code,
        });
    }

    /// Handles a literal announced by the line ending at `after`. Returns
    /// what to answer now, or `None` to keep scanning.
    fn literal(&mut self, buf: &[u8], after: usize, marker: Marker) -> Option<Outcome> {
        if self.frame.doom.is_none()
            && let Mode::Command = self.mode
        {
            match check_head(buf, &self.extensions) {
                Head::Bad(message) => self.doom(buf, Fail::Bad(message)),
                // A metadata value over the limit is refused before it is
                // sent, as RFC 5464 §4.3 has it (a non-synchronizing one
                // comes anyway: storage refuses it the same way).
                Head::Fine {
                    name: "SETMETADATA",
                    ..
                } if !marker.non_sync
                    && marker
                        .size
                        .is_none_or(|size| size > self.limits.max_metadata_value) =>
                {
                    let max = self.limits.max_metadata_value;
                    let code = Code::Metadata(MetadataCode::MaxSize(max));
                    return Some(self.fail(buf, "Value too big", after, false, Some(code)));
                }
                Head::Fine { .. } => {}
            }
        }
        if self.frame.doom.is_none() {
            match self.segment(buf, after) {
                Ok(Some(segment)) => return Some(self.take_segment(segment)),
                Ok(None) => {}
                Err(Fail::No(Code::TooBig, message)) => {
                    // The literal at the end of this line is the one over
                    // the limit: a synchronizing one is never sent, a
                    // non-synchronizing one cannot be skipped safely.
                    return Some(self.fail(
                        buf,
                        &message,
                        after,
                        marker.non_sync,
                        Some(Code::TooBig),
                    ));
                }
                Err(fail) => self.doom(buf, fail),
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

    /// The command ends at `end`: parse it (or report its known error).
    fn finish(&mut self, buf: &[u8], end: usize) -> Outcome {
        if let Some(doom) = self.frame.doom.take() {
            self.reset();
            return error(doom.tag, doom.message, end, false, doom.code);
        }
        let streamed = match &self.mode {
            Mode::Append(_) => true,
            Mode::Command => matches!(
                check_head(&buf[..end], &self.extensions),
                Head::Fine { streamed: true, .. }
            ),
        };
        let result = if streamed {
            match self.segment(buf, end) {
                Ok(Some(segment)) => return self.take_segment(segment),
                Ok(None) => Err(Fail::Bad("Unexpected end of command".into())),
                Err(fail) => Err(fail),
            }
        } else {
            parse_command(&buf[..end], self.utf8, &self.extensions).map(|command| {
                Outcome::Command {
                    command,
                    consumed: end,
                }
            })
        };
        let tag = self.tag_of(buf);
        self.reset();
        match result {
            Ok(outcome) => outcome,
            Err(Fail::No(code, message)) => error(tag, message, end, false, Some(code)),
            Err(Fail::Bad(message)) => error(tag, message, end, false, None),
            Err(Fail::Incomplete) => {
                error(tag, "Unexpected end of command".into(), end, false, None)
            }
        }
    }

    /// Back to reading a new command.
    fn reset(&mut self) {
        self.frame = Frame::default();
        self.mode = Mode::Command;
    }

    /// Reports an error found while framing and starts over.
    fn fail(
        &mut self,
        buf: &[u8],
        message: &str,
        consumed: usize,
        close: bool,
        code: Option<Code>,
    ) -> Outcome {
        let tag = match self.frame.doom.take() {
            Some(doom) => doom.tag,
            None => self.tag_of(buf),
        };
        self.reset();
        error(tag, message.to_string(), consumed, close, code)
    }
}

/// An error outcome with a message safe to put on one response line.
fn error(
    tag: Option<String>,
    message: String,
    consumed: usize,
    close: bool,
    code: Option<Code>,
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

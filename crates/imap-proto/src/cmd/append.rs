//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), CATENATE
//! (RFC 4469), binary literals (RFC 3516) and UTF8 (RFC 6855), and
//! REPLACE / UID REPLACE (RFC 8508), which ends in the same message.
//!
//! These commands are never buffered whole: the parser reads them in
//! *segments*, each ending at a literal the caller streams (a message, a
//! CATENATE TEXT part, a UTF8 message) or at the command's final CRLF, and
//! turns each segment into a run of outcomes (see [`crate::Outcome`]):
//!
//! ```text
//! AppendBegin                        the tag and APPEND's mailbox / REPLACE's target
//! then, per message (several only for APPEND):
//!   AppendMessage                    flags, date, CATENATE or UTF8
//!   AppendLiteral                    stream `size` bytes now, or
//!   (AppendUrl | AppendLiteral)*     the CATENATE parts in order
//! AppendEnd                          the command's final CRLF
//! ```
//!
//! An [`crate::Outcome::Error`] may come instead of any of them: the
//! command has failed and is over.

use std::collections::VecDeque;

use super::{CommandBody, head, streamed_usage};
use crate::Command;
use crate::Outcome;
use crate::code::Code;
use crate::grammar::flags::flag_list;
use crate::grammar::mailbox::mailbox;
use crate::grammar::time::date_time;
use crate::grammar::{Cursor, Fail, PResult, bad};
use crate::limits::Limits;
use crate::types::DateTime;

/// APPEND's head: where the messages go. The messages follow as
/// [`crate::Outcome::AppendMessage`] and their parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The target mailbox.
    pub mailbox: String,
}

/// REPLACE's head (RFC 8508): the message to replace and where the new
/// one goes. One message follows, as for APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// UID REPLACE: `target` is a UID.
    pub uid: bool,
    /// The message to expunge once the new one is stored.
    pub target: u32,
    /// The mailbox that receives the new message.
    pub mailbox: String,
}

/// One message of an APPEND or REPLACE: its options and its kind of
/// content. Its content is the concatenation of the URL and literal parts
/// that follow until the next message or the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set (system flags in canonical case, keywords as sent).
    pub flags: Vec<String>,
    /// The internal date to give it.
    pub date: Option<DateTime>,
    /// CATENATE (RFC 4469): the content is URL and TEXT parts.
    pub catenate: bool,
    /// UTF8 (RFC 6855): the message may have UTF-8 headers.
    pub utf8: bool,
}

/// A literal the caller streams: a message, or a CATENATE TEXT part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    /// Its size in bytes.
    pub size: u64,
    /// `{N+}`: the client sends it without waiting. For a synchronizing
    /// literal the caller sends a continuation first, or refuses it with
    /// [`crate::Parser::refuse_literal`].
    pub non_sync: bool,
    /// `~{N}` (RFC 3516): may contain NUL. Without it the content must
    /// not, which the caller checks as it streams.
    pub binary: bool,
}

/// Where a streamed command is between two segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// After a message: another message (APPEND only) or the end.
    AfterMessage,
    /// After a CATENATE TEXT part: more parts or `)`.
    InCatenate,
    /// After UTF8's literal: `)`.
    InUtf8,
}

/// A streamed command in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppendProgress {
    /// The command's tag, for errors.
    pub(crate) tag: String,
    /// Where the next segment starts.
    pub(crate) at: At,
    /// APPEND (several messages allowed), not REPLACE.
    pub(crate) multi: bool,
    /// Literal bytes of the current message so far.
    pub(crate) message_bytes: u64,
    /// Literal bytes of the whole command so far.
    pub(crate) total_bytes: u64,
    /// The last literal handed out was synchronizing (it can be refused).
    pub(crate) pending_sync: bool,
}

/// The outcomes of one segment and what follows it: `None` once the
/// command has ended.
pub(crate) type Segment = (VecDeque<Outcome>, Option<AppendProgress>);

/// Outcomes of a segment, each consuming the bytes since the last.
struct Events {
    out: VecDeque<Outcome>,
    last: usize,
}

impl Events {
    /// Adds the outcome `make(consumed)` for the bytes up to the cursor.
    fn push(&mut self, c: &Cursor<'_>, make: impl FnOnce(usize) -> Outcome) {
        let consumed = c.pos() - self.last;
        self.last = c.pos();
        self.out.push_back(make(consumed));
    }
}

/// Parses the first segment of an APPEND or REPLACE, `buf` holding the
/// command from its tag to a literal header's CRLF or the final CRLF.
/// `Err(Incomplete)` means the literal at the end of `buf` is an inline
/// one (a mailbox name, a URL), to be read before parsing again.
pub(crate) fn begin(buf: &[u8], utf8: bool, limits: &Limits) -> Result<Segment, Fail> {
    let mut c = Cursor::with_utf8(buf, utf8);
    let (tag, spec, uid) = head(&mut c, &[])?;
    let name = spec.name;
    let result = (|| {
        let replace = name == "REPLACE";
        let body = if replace {
            c.sp("message number")?;
            let target = c.nz_number("message number")?;
            c.sp("mailbox name")?;
            let mailbox = mailbox(&mut c, "mailbox name")?;
            CommandBody::Replace(Replace {
                uid,
                target,
                mailbox,
            })
        } else {
            c.sp("mailbox name")?;
            CommandBody::Append(Append {
                mailbox: mailbox(&mut c, "mailbox name")?,
            })
        };
        let mut ev = Events {
            out: VecDeque::new(),
            last: 0,
        };
        let command = Command {
            tag: tag.clone(),
            body,
        };
        ev.push(&c, |consumed| Outcome::AppendBegin { command, consumed });
        let mut progress = AppendProgress {
            tag: tag.clone(),
            at: At::AfterMessage,
            multi: !replace,
            message_bytes: 0,
            total_bytes: 0,
            pending_sync: false,
        };
        c.sp("message literal")?;
        let more = message(&mut c, &mut ev, &mut progress, limits)?;
        Ok((ev.out, more.then_some(progress)))
    })();
    result.map_err(|f| streamed_usage(f, name, uid))
}

/// Parses a later segment of a streamed command, `buf` starting just after
/// the literal the caller streamed.
pub(crate) fn resume(
    buf: &[u8],
    progress: &AppendProgress,
    utf8: bool,
    limits: &Limits,
) -> Result<Segment, Fail> {
    let mut c = Cursor::with_utf8(buf, utf8);
    let mut progress = progress.clone();
    let mut ev = Events {
        out: VecDeque::new(),
        last: 0,
    };
    let more = match progress.at {
        At::AfterMessage => after_message(&mut c, &mut ev, &mut progress, limits),
        At::InCatenate => match c.peek() {
            Some(b' ') => {
                c.sp("CATENATE part")?;
                parts(&mut c, &mut ev, &mut progress, limits)
            }
            Some(b')') => {
                c.eat(b')');
                after_message(&mut c, &mut ev, &mut progress, limits)
            }
            None => Err(Fail::Incomplete),
            Some(_) => bad("Expected another CATENATE part or ')'"),
        },
        At::InUtf8 => {
            c.expect(b')', "')' after the UTF8 message")?;
            after_message(&mut c, &mut ev, &mut progress, limits)
        }
    }
    .map_err(|f| match f {
        Fail::Bad(msg) => Fail::Bad(format!("{msg} (in APPEND after a literal)")),
        other => other,
    })?;
    Ok((ev.out, more.then_some(progress)))
}

/// One message, the cursor just after the SP before it: `[flag-list SP]
/// [date-time SP]` then a literal, `CATENATE (...)` or `UTF8 (...)`.
/// Returns whether a streamed literal ends the segment.
fn message(
    c: &mut Cursor<'_>,
    ev: &mut Events,
    progress: &mut AppendProgress,
    limits: &Limits,
) -> PResult<bool> {
    let mut message = AppendMessage {
        flags: Vec::new(),
        date: None,
        catenate: false,
        utf8: false,
    };
    if c.peek() == Some(b'(') {
        message.flags = flag_list(c)?;
        c.sp("message literal")?;
    }
    if c.peek() == Some(b'"') {
        message.date = Some(date_time(c)?);
        c.sp("message literal")?;
    }
    progress.message_bytes = 0;
    if c.eat_word("CATENATE") {
        c.sp("CATENATE parts")?;
        c.expect(b'(', "'(' to start the CATENATE parts")?;
        message.catenate = true;
        ev.push(c, |consumed| Outcome::AppendMessage { message, consumed });
        return parts(c, ev, progress, limits);
    }
    if c.eat_word("UTF8") {
        c.sp("UTF8 message")?;
        c.expect(b'(', "'(' before the UTF8 message")?;
        message.utf8 = true;
        ev.push(c, |consumed| Outcome::AppendMessage { message, consumed });
        return streamed(c, ev, progress, limits, At::InUtf8);
    }
    match c.peek() {
        Some(b'{' | b'~') | None => {}
        Some(_) => return bad("Expected the message literal"),
    }
    ev.push(c, |consumed| Outcome::AppendMessage { message, consumed });
    streamed(c, ev, progress, limits, At::AfterMessage)
}

/// A literal header the caller streams, which must end the segment.
fn streamed(
    c: &mut Cursor<'_>,
    ev: &mut Events,
    progress: &mut AppendProgress,
    limits: &Limits,
    next: At,
) -> PResult<bool> {
    let (size, non_sync, binary) = c.literal_header(true, "message")?;
    if c.peek().is_some() {
        return bad("Unexpected data after the literal");
    }
    let message_room = limits.max_append.saturating_sub(progress.message_bytes);
    let total_room = limits.max_append_total.saturating_sub(progress.total_bytes);
    if size > message_room || size > total_room {
        return Err(Fail::No(Code::TooBig, "Message too big".into()));
    }
    progress.message_bytes += size;
    progress.total_bytes += size;
    progress.pending_sync = !non_sync;
    progress.at = next;
    let literal = Literal {
        size,
        non_sync,
        binary,
    };
    ev.push(c, |consumed| Outcome::AppendLiteral { literal, consumed });
    Ok(true)
}

/// CATENATE parts from the first one after `(` or a SP.
fn parts(
    c: &mut Cursor<'_>,
    ev: &mut Events,
    progress: &mut AppendProgress,
    limits: &Limits,
) -> PResult<bool> {
    loop {
        if c.eat_word("TEXT") {
            c.sp("TEXT literal")?;
            return streamed(c, ev, progress, limits, At::InCatenate);
        }
        if !c.eat_word("URL") {
            return bad("Expected TEXT <literal> or URL <url> in CATENATE");
        }
        c.sp("URL")?;
        let url = String::from_utf8_lossy(&c.astring("URL")?).into_owned();
        ev.push(c, |consumed| Outcome::AppendUrl { url, consumed });
        match c.peek() {
            Some(b' ') => c.sp("CATENATE part")?,
            Some(b')') => {
                c.eat(b')');
                return after_message(c, ev, progress, limits);
            }
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected another CATENATE part or ')'"),
        }
    }
}

/// After a message: the end of the command, or (APPEND) another message.
fn after_message(
    c: &mut Cursor<'_>,
    ev: &mut Events,
    progress: &mut AppendProgress,
    limits: &Limits,
) -> PResult<bool> {
    if c.at_eol() {
        c.eol()?;
        ev.push(c, |consumed| Outcome::AppendEnd { consumed });
        return Ok(false);
    }
    if !progress.multi {
        return bad("REPLACE takes one message");
    }
    c.sp("next message")?;
    message(c, ev, progress, limits)
}

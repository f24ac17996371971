//! IDLE (RFC 2177, RFC 9051 §6.3.13): the command, and the `DONE` line
//! that ends it, which is not a command and so has its own recogniser.

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// IDLE: wait for the server's updates until the client sends `DONE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Idle;

/// Parses IDLE's (absent) arguments.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.eol()?;
    Ok(CommandBody::Idle(Idle))
}

/// What the bytes a client sent during IDLE are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// No complete line yet.
    Incomplete,
    /// `DONE` (any case) and CRLF (or LF): drop `consumed` bytes, end the
    /// IDLE with its tagged OK.
    Done {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// Some other line: drop `consumed` bytes and end the IDLE with a BAD
    /// ("Expected DONE"), as Dovecot does.
    Other {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// More than `max_line` bytes without a line end: close the connection.
    TooLong,
}

/// Recognises the line that ends an IDLE at the start of `buf` (the bytes
/// received since the continuation request); a line longer than
/// `max_line` bytes is [`IdleEnd::TooLong`].
pub fn idle_end(buf: &[u8], max_line: usize) -> IdleEnd {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > max_line {
            IdleEnd::TooLong
        } else {
            IdleEnd::Incomplete
        };
    };
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.eq_ignore_ascii_case(b"DONE") {
        IdleEnd::Done { consumed: nl + 1 }
    } else {
        IdleEnd::Other { consumed: nl + 1 }
    }
}

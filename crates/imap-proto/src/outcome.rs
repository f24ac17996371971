//! What [`crate::Parser::next`] tells its caller to do.

use crate::cmd::{AppendMessage, Command, Literal};
use crate::code::Code;

/// The parser's answer for the bytes received so far.
///
/// Most commands come whole, as [`Outcome::Command`]. APPEND and REPLACE
/// come in pieces so that their messages are streamed, never buffered:
///
/// ```text
/// AppendBegin                        the command: tag, APPEND's mailbox or REPLACE's target
/// then for each message (MULTIAPPEND: one or more; REPLACE: one):
///   AppendMessage                    its flags, date, and whether CATENATE / UTF8
///   its content, one of:
///     AppendLiteral                  a plain (or UTF8) message: stream `size` bytes
///     (AppendUrl | AppendLiteral)*   CATENATE: URL parts and TEXT parts, in order
/// AppendEnd                          the final CRLF: the command is complete
/// ```
///
/// A message ends where the next `AppendMessage` or the `AppendEnd`
/// arrives. After an `AppendLiteral` the caller drops `consumed` bytes,
/// then takes the literal's `size` bytes from the stream itself (after
/// sending a continuation request for a synchronizing literal, or calling
/// [`crate::Parser::refuse_literal`] instead), and calls `next` with the
/// bytes that follow. [`Outcome::Error`] may replace any step: the command
/// is then over (messages already stored must be undone, RFC 3502).
/// Limits: each message's literals may total `max_append` bytes and the
/// whole command's `max_append_total`; over that the answer is an error
/// with code TOOBIG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Need more bytes; nothing to send.
    Incomplete,
    /// A synchronizing literal `{N}` inside a command was announced and is
    /// acceptable: send a continuation request (`+ OK\r\n`) now, then wait
    /// for more bytes. Returned once per literal; consumes nothing. (Never
    /// for a literal the caller streams: see [`Outcome::AppendLiteral`].)
    SendContinuation,
    /// A complete command; drop `consumed` bytes from the front of the buffer.
    Command {
        /// The command.
        command: Command,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// An APPEND or REPLACE begins: its tag and head
    /// ([`crate::CommandBody::Append`] or [`crate::CommandBody::Replace`]).
    AppendBegin {
        /// The command, without its messages.
        command: Command,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// A message of the APPEND or REPLACE begins.
    AppendMessage {
        /// The message's options.
        message: AppendMessage,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// A CATENATE URL part (RFC 4469): content the server fetches itself.
    AppendUrl {
        /// The URL as sent (an IMAP URL, RFC 5092).
        url: String,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// A literal the caller streams: a message, or a CATENATE TEXT part.
    /// Drop `consumed` bytes (through the literal header's CRLF); the next
    /// `literal.size` bytes of the stream are the content.
    AppendLiteral {
        /// The literal's size and kind.
        literal: Literal,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// The CRLF that ends an APPEND or REPLACE: the command is complete.
    AppendEnd {
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// The command is bad. Drop `consumed` bytes (the whole bad command,
    /// including its non-synchronizing literals, so that the stream
    /// resynchronizes on the next command), then reply `<tag> BAD <message>`
    /// (`* BAD` without a tag), or `<tag> NO [<code>] <message>` when `code`
    /// is set. With `close`, the parser cannot find the next command
    /// (an unterminated over-long line or an over-limit non-synchronizing
    /// literal): send `* BYE` and close the connection; `consumed` is then
    /// only advisory.
    Error {
        /// The bad command's tag, when one could be read.
        tag: Option<String>,
        /// Human-readable reason, without CR or LF.
        message: String,
        /// Bytes to drop from the front of the buffer (always > 0).
        consumed: usize,
        /// Whether the connection must be closed.
        close: bool,
        /// A response code such as TOOBIG or BADCHARSET; when set, reply
        /// NO, not BAD.
        code: Option<Code>,
    },
}

/// A client's answer to an AUTHENTICATE continuation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// The decoded base64 data (empty for an empty line).
    Data(Vec<u8>),
    /// `*`: the client cancels the exchange.
    Cancel,
}

//! What [`crate::Parser::next`] tells its caller to do.

use crate::command::Command;

/// The parser's answer for the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Need more bytes; nothing to send.
    Incomplete,
    /// A synchronizing literal `{N}` was announced and is acceptable: send a
    /// continuation request (`+ OK\r\n`) now, then wait for more bytes.
    /// Returned once per literal; consumes nothing.
    SendContinuation,
    /// A complete command; drop `consumed` bytes from the front of the buffer.
    Command {
        /// The command.
        command: Command,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// An APPEND parsed up to and including its message literal's header
    /// (`{N}`, `{N+}` or `~{N}`, then CRLF); `CommandBody::Append` carries
    /// the size. Drop `consumed` bytes; the next `size` bytes of the stream
    /// are the message, which the caller reads and streams itself (the
    /// parser never buffers it; for a synchronizing literal the caller sends
    /// the continuation first). Then call `next` again, with the bytes after
    /// the message: it answers [`Outcome::AppendEnd`] for the CRLF that ends
    /// the command, or an error (the APPEND then fails).
    AppendLiteral {
        /// The APPEND command, without the message.
        command: Command,
        /// Bytes to drop from the front of the buffer.
        consumed: usize,
    },
    /// The CRLF after an APPEND message: the APPEND is complete.
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
        /// A response code such as `TOOBIG`; when set, reply NO, not BAD.
        code: Option<String>,
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

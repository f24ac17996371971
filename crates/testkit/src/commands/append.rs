//! APPEND (RFC 9051 §6.3.12) with the message as a literal, synchronizing
//! or not.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::{Client, ClientError, LiteralMode, Part, quote};
use crate::reply::Reply;

/// One APPEND: where, which flags and date, the message, and how its
/// literal is announced.
#[derive(Debug, Clone)]
pub struct Append<'a> {
    /// The mailbox name, sent quoted.
    pub mailbox: &'a str,
    /// Flags (`\Seen`, keywords), sent as a list when not empty.
    pub flags: Vec<&'a str>,
    /// The internal date as IMAP writes it (`"17-Jul-1996 02:44:25 -0700"`,
    /// quotes included), if any.
    pub date: Option<&'a str>,
    /// The message.
    pub message: &'a [u8],
    /// How the literal is announced.
    pub literal: LiteralMode,
}

impl<'a> Append<'a> {
    /// An APPEND of `message` to `mailbox`, no flags or date, with a
    /// synchronizing literal.
    pub fn new(mailbox: &'a str, message: &'a [u8]) -> Append<'a> {
        Append {
            mailbox,
            flags: Vec::new(),
            date: None,
            message,
            literal: LiteralMode::Sync,
        }
    }

    /// With `flags`.
    pub fn flags(mut self, flags: &[&'a str]) -> Append<'a> {
        self.flags = flags.to_vec();
        self
    }

    /// With the internal date `date` (quoted, as sent).
    pub fn date(mut self, date: &'a str) -> Append<'a> {
        self.date = Some(date);
        self
    }

    /// With the literal announced as `mode`.
    pub fn literal(mut self, mode: LiteralMode) -> Append<'a> {
        self.literal = mode;
        self
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// APPEND `message` to `mailbox` with `flags` (none if empty) and a
    /// synchronizing literal. If the server answers the literal's
    /// announcement with its tagged response (`NO [TOOBIG]`), the message is
    /// not sent and that reply is returned.
    pub async fn append(
        &mut self,
        mailbox: &str,
        flags: &[&str],
        message: &[u8],
    ) -> Result<Reply, ClientError> {
        self.append_with(&Append::new(mailbox, message).flags(flags))
            .await
    }

    /// APPEND as `append` describes it.
    pub async fn append_with(&mut self, append: &Append<'_>) -> Result<Reply, ClientError> {
        let mut head = format!("APPEND {} ", quote(append.mailbox));
        if !append.flags.is_empty() {
            head.push_str(&format!("({}) ", append.flags.join(" ")));
        }
        if let Some(date) = append.date {
            head.push_str(date);
            head.push(' ');
        }
        self.run_parts(&[
            Part::Text(&head),
            Part::Literal(append.message, append.literal),
        ])
        .await
    }
}

//! IMAP syntax for mailkeep: an incremental command parser that turns a
//! connection's bytes into typed commands, and the encoder of every
//! response the server sends. No I/O and no storage: the protocol process
//! (`crates/imap`, DESIGN.md §6) feeds bytes in and writes the bytes that
//! come out; it never writes IMAP syntax itself.
//!
//! * Commands: [`Parser`] yields [`Outcome`]s; a [`Command`] carries a
//!   [`CommandBody`], one variant per command, each wrapping the struct
//!   defined with its grammar in `src/cmd/` (`Fetch`, `Search`, ...).
//!   APPEND and REPLACE are streamed (see [`Outcome`]).
//! * Responses: the functions and builders re-exported from [`encode`],
//!   response codes as [`Code`], strings through [`Encoder`].
//!
//! ```
//! use mailkeep_imap_proto::{
//!     Code, CommandBody, Encoder, Limits, Outcome, Parser, StatusKind, status_response,
//! };
//!
//! let mut parser = Parser::new(Limits::default());
//! let mut buf = b"a1 SELECT INBOX (CONDSTORE)\r\na2 APPEND Drafts {5}\r\n".to_vec();
//! let Outcome::Command { command, consumed } = parser.next(&buf) else { panic!() };
//! buf.drain(..consumed);
//! assert!(matches!(command.body, CommandBody::Select(ref s) if s.condstore));
//! let mut out = Vec::new();
//! status_response(&mut out, Some(&command.tag), StatusKind::Ok, Some(&Code::ReadWrite), "Done");
//! assert_eq!(out, b"a1 OK [READ-WRITE] Done\r\n");
//!
//! // APPEND comes in pieces; the message itself is streamed by the caller.
//! let Outcome::AppendBegin { command, consumed } = parser.next(&buf) else { panic!() };
//! buf.drain(..consumed);
//! assert_eq!(command.body.name(), "APPEND");
//! let Outcome::AppendMessage { consumed, .. } = parser.next(&buf) else { panic!() };
//! buf.drain(..consumed);
//! let Outcome::AppendLiteral { literal, consumed } = parser.next(&buf) else { panic!() };
//! buf.drain(..consumed);
//! assert_eq!(literal.size, 5); // send "+ Ready", then read 5 bytes from the client
//! buf.clear();
//! buf.extend_from_slice(b"\r\n"); // what follows the message
//! assert_eq!(parser.next(&buf), Outcome::AppendEnd { consumed: 2 });
//!
//! // Mailbox names go back in the client's encoding.
//! let mut name = Vec::new();
//! Encoder::ASCII.mailbox(&mut name, "Entw\u{fc}rfe");
//! assert_eq!(name, b"Entw&APw-rfe");
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod base64;
pub mod cmd;
mod code;
mod datetime;
pub mod encode;
mod error;
mod framing;
mod grammar;
mod limits;
mod mailbox_name;
mod mutf7;
mod outcome;
mod parser;
mod types;
mod url;

#[cfg(test)]
mod tests;

pub use base64::base64_encode;
pub use cmd::*;
pub use code::{Code, MetadataCode};
pub use datetime::format_date_time;
pub use encode::*;
pub use error::ParseError;
pub use grammar::fetch::{FetchAttribute, Section, SectionText};
pub use grammar::search_key::{
    EntryKind, MAX_SEARCH_DEPTH, ModSeqEntry, SEARCH_CHARSETS, SearchKey,
};
pub use limits::Limits;
pub use mailbox_name::{MAX_MAILBOX_NAME_LEN, MailboxNameError, check_new_mailbox_name};
pub use mutf7::{Mutf7Error, decode_mutf7, encode_mutf7};
pub use outcome::{Outcome, SaslResponse};
pub use parser::Parser;
pub use types::{DateTime, SearchDate, SeqNumber, SeqRange, SequenceSet};
pub use url::{ImapUrl, parse_imap_url};

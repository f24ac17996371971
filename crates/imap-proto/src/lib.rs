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

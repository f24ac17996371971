//! IMAP's command grammar over a complete, framed command (literals in
//! place): the low-level tokens, then one module per kind of argument.

pub(crate) mod commands;
pub(crate) mod cursor;
pub(crate) mod fetch;
pub(crate) mod flags;
pub(crate) mod search;
pub(crate) mod seqset;
pub(crate) mod time;

pub(crate) use commands::{known_command, parse_append_prefix, parse_command};
pub(crate) use cursor::{Cursor, Fail};

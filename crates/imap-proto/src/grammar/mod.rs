//! IMAP's argument grammar over a complete, framed command (literals in
//! place): the low-level tokens, then one module per kind of argument
//! shared by several commands. Each command's own grammar is in
//! [`crate::cmd`].

pub(crate) mod cursor;
pub(crate) mod fetch;
pub(crate) mod flags;
pub(crate) mod mailbox;
pub(crate) mod search_key;
pub(crate) mod seqset;
pub(crate) mod time;

pub(crate) use cursor::{Cursor, Fail, PResult, bad};

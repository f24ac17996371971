//! IMAP syntax for mailkeep: an incremental command parser and a response
//! encoder. No I/O: the protocol process feeds bytes in and writes the bytes
//! that come out.

pub mod command;

pub use command::*;

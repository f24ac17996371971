//! IMAP syntax for mailkeep: an incremental command parser and a response
//! encoder. No I/O: the protocol process feeds bytes in and writes the bytes
//! that come out.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod base64;
pub mod command;
mod datetime;
pub mod encode;
mod error;
mod framing;
mod grammar;
mod limits;
mod outcome;
mod parser;

#[cfg(test)]
mod tests;

pub use base64::base64_encode;
pub use command::*;
pub use datetime::format_date_time;
pub use encode::*;
pub use error::ParseError;
pub use limits::Limits;
pub use outcome::{Outcome, SaslResponse};
pub use parser::Parser;

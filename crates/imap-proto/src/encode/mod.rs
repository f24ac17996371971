//! The response encoder: functions that append IMAP response syntax to a
//! `Vec<u8>`, so that the session crate never writes protocol syntax by hand.

mod fetch;
mod responses;
mod strings;
mod structure;

pub use fetch::FetchResponse;
pub use responses::{
    StatusKind, capability_line, continuation, exists, expunge, flags_line, list_line, lsub_line,
    recent, status_line, status_response,
};
pub use strings::{astring, flag_list, nstring, string, string_for_humans, write_mailbox_name};
pub use structure::*;

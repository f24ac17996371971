//! The response encoder: functions that append IMAP response syntax to a
//! `Vec<u8>`, one module per kind of response, all writing strings through
//! the one quoter ([`Encoder`]) and literals through the one literal
//! writer, so that the server crate never writes protocol syntax by hand.

mod acl;
mod capability;
mod fetch;
mod id;
mod list;
mod mailbox_data;
mod mailbox_status;
mod metadata;
mod namespace;
mod search;
mod status;
mod strings;
mod structure;
mod thread;

pub use acl::{acl, list_rights, my_rights};
pub use capability::{capability_line, enabled};
pub use fetch::FetchResponse;
pub use id::id_response;
pub use list::{ListItem, MailboxAttribute, list, lsub};
pub use mailbox_data::{exists, expunge, flags_line, recent, vanished};
pub use mailbox_status::{StatusValue, status_line};
pub use metadata::{metadata, metadata_changed};
pub use namespace::{NamespaceDescr, namespace};
pub use search::{Esearch, esearch, search_response, sort_response};
pub use status::{StatusKind, continuation, continuation_data, status_response};
pub use strings::{
    Encoder, astring, flag_list, literal_header, literal8_header, nstring, string,
    string_for_humans,
};
pub use structure::*;
pub use thread::{ThreadNode, thread_response};

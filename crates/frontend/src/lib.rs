//! What every protocol process (imap, pop3, lmtp) shares, so that each of
//! them is only its grammar and its commands (DESIGN.md §6): listeners
//! (TCP, implicit TLS, UNIX), connections that can be upgraded in place
//! (STARTTLS, COMPRESS), the SASL relay to auth, and the one path every
//! storage call takes (ticket renewal, retry on a lost storage process, one
//! channel per owner), which is also the project's async client API.
//!
//! It runs without privileges: it never links the store, never holds a key,
//! and treats tickets as opaque bytes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod connector;

pub use connector::{ConnectError, Connector};

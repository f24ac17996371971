//! What every protocol process (imap, pop3, lmtp) shares, so that each of
//! them is only its grammar and its commands (DESIGN.md §6): listeners
//! (TCP, implicit TLS, UNIX), connections that can be upgraded in place
//! (STARTTLS, COMPRESS), the SASL relay to auth, and the one path every
//! storage call takes (ticket renewal, retry on a lost storage process, one
//! channel per owner), which is also the project's async client API
//! ([`Storage`]).
//!
//! It runs without privileges: it never links the store, never holds a key,
//! and treats tickets as opaque bytes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod any_connector;
pub mod auth_link;
pub mod clock;
pub mod connector;
pub mod sasl;
pub mod storage;

pub use any_connector::AnyConnector;
pub use auth_link::AuthLink;
pub use clock::Clock;
pub use connector::{ConnectError, Connector};
pub use sasl::{AuthFailure, ChannelBinding, ClientFacts, LoggedIn, SaslExchange, SaslStep};
pub use storage::{Retry, Rpc, Storage, StorageError};

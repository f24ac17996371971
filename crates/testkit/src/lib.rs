//! mailkeep's test kit: what tests of the protocol processes share.
//!
//! - One IMAP client ([`Client`], async over any stream; [`BlockingClient`]
//!   for synchronous tests, the same client on a private runtime) with a
//!   response parser: every response becomes a [`Response`] (continuation,
//!   status with its [`Code`], or [`Data`] as a tree of [`Value`]s), every
//!   command's answer a [`Reply`] that tests question
//!   (`reply.code()`, `reply.fetches()`, `fetch.bytes("BODY[]")`,
//!   `reply.esearch()`).
//! - [`Services`]: the real auth service and real storage processes in
//!   process, handed out through [`mailkeep_frontend::Connector`] as the
//!   broker hands them out, for session tests against real storage.
//! - [`Pop3Client`]: a synchronous POP3 client (status lines, bodies
//!   with dot-stuffing undone).
//! - [`Listeners`]: ports bound before a server starts and passed to it
//!   as systemd socket activation does, so parallel tests never race for a
//!   port.
//!
//! It is a dev-dependency only: no shipped crate may depend on it.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use mailkeep_testkit::{Client, Services};
//! let services = Services::start().await?;
//! services.add_user("alice", "secret").await?;
//! // A session of the protocol process under test, given `services` as
//! // its Connector, runs on one end of a duplex stream:
//! let (ours, _theirs) = tokio::io::duplex(1 << 16);
//! let mut imap = Client::new(ours);
//! imap.read_greeting().await?;
//! let reply = imap.login("alice", "secret").await?;
//! assert!(reply.is_ok(), "{reply:?}");
//! let reply = imap.run("UID FETCH 1:* (UID BODY.PEEK[])").await?;
//! for fetch in reply.fetches() {
//!     let body = fetch.bytes("BODY[]");
//!     # let _ = body;
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod deflate;
pub mod framing;
pub mod pop3;
pub mod reply;
pub mod response;
pub mod scram;
pub mod services;
pub mod value;
pub mod views;

#[cfg(test)]
mod tests;

pub use activation::Listeners;
pub use blocking::{BlockingClient, BlockingIdle};
pub use client::{Client, ClientError, LiteralMode, Part, quote};
pub use commands::append::Append;
pub use commands::authenticate::{base64, plain};
pub use commands::idle::Idle;
pub use deflate::Deflate;
pub use framing::Limits;
pub use pop3::{Pop3Client, Status as Pop3Status};
pub use reply::{Listed, Reply};
pub use response::{Code, Data, Kind, Response, Status, StatusResponse};
pub use services::{Login, Services, ServicesBuilder, ServicesError};
pub use value::{ParseError, Value};
pub use views::{Esearch, Fetch, sequence_set};

//! What every protocol process (imap, pop3, lmtp) shares, so that each of
//! them is only its grammar and its commands (DESIGN.md §6): listeners
//! (TCP, implicit TLS, UNIX), connections that can be upgraded in place
//! (STARTTLS, COMPRESS), the SASL relay to auth, and the one path every
//! storage call takes (ticket renewal, retry on a lost storage process, one
//! channel per owner, kept warm between short sessions), which is also the project's async client API
//! ([`Storage`]).
//!
//! It runs without privileges: it never links the store, never holds a key,
//! and treats tickets as opaque bytes. It opens no file: TLS certificates
//! come from the master over the control channel.
//!
//! A protocol process starts like this (the listeners, the control channel
//! and the broker channel are inherited descriptors):
//!
//! ```no_run
//! # async fn run(listeners: Vec<mailkeep_frontend::Listener>, control: tokio::net::UnixStream)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use mailkeep_frontend::{AcceptSettings, Acceptor, ControlChannel, ServerTls};
//! let mut control = ControlChannel::new(control);
//! let tls = ServerTls::new(&control.first_certificates().await?, std::time::Duration::from_secs(30))?;
//! tokio::spawn(control.apply(tls.clone()));
//! let settings = AcceptSettings {
//!     max_connections: 1000,
//!     refusal: b"* BYE Too many connections\r\n".to_vec(),
//!     plaintext_logins: Default::default(),
//!     limits: Default::default(),
//!     clients: Default::default(),
//! };
//! Acceptor::new(listeners, tls, settings)
//!     .serve(|conn| async move {
//!         let (mut reader, writer) = conn.split();
//!         // greet, then parse reader.buf(), answer through writer ...
//!     })
//!     .await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accept;
pub mod admission;
pub mod any_connector;
pub mod auth_link;
pub mod client;
pub mod clock;
pub mod conn_info;
pub mod connection;
pub mod connector;
pub mod control;
mod deflate;
pub mod listen;
pub mod namespaces;
pub mod networks;
mod proxy_header;
pub mod sasl;
pub mod session_end;
pub mod storage;
pub mod tls;
pub mod warm;

pub use accept::{AcceptSettings, Acceptor, ConnectionCount};
pub use admission::{Admission, ClientPolicy, ClientTable, LimitExceeded};
pub use any_connector::AnyConnector;
pub use auth_link::AuthLink;
pub use clock::Clock;
pub use conn_info::{ConnInfo, Endpoint, PlaintextLogins, TlsInfo, TlsVersion};
pub use connection::{
    ClientStream, ConnLimits, ConnReader, ConnWriter, Connection, ReadError, Traffic, UpgradeError,
    WriteGuard,
};
pub use connector::{ConnectError, Connector};
pub use control::{ControlChannel, ControlError};
pub use listen::{ListenError, Listener, ListenerKind, ListenerSpec};
pub use networks::{Network, NetworkError, Networks};
pub use sasl::{AuthFailure, ChannelBinding, ClientFacts, LoggedIn, SaslExchange, SaslStep};
pub use session_end::{SessionEnd, report_sessions, spawn_session_reports};
pub use storage::{Retry, Rpc, Storage, StorageError};
pub use tls::{CertificateError, ServerTls};
pub use warm::KeepWarm;

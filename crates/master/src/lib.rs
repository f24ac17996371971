//! The master: the one long-lived root process. It prepares the data
//! directory, binds the listeners, starts every other process by
//! re-executing its own binary with a role, supervises and restarts them,
//! and hosts the broker that hands protocol processes their connections to
//! auth and storage (DESIGN §1, §3).
//!
//! It also holds the code every child runs first: dropping privileges
//! before any protocol code runs.

pub mod admin;
pub mod broker;
pub mod certificates;
mod child_output;
pub mod children;
pub mod client_socket;
mod cluster_roles;
pub mod cluster_setup;
pub mod gateway;
pub mod home;
pub mod host_keys;
pub mod layout;
pub mod linger;
pub mod listeners;
pub mod privileges;
pub mod protocols;
pub mod relay;
pub(crate) mod revoke;
pub mod serve;
pub mod sessions;
pub mod shares;
pub mod shares_elsewhere;
pub mod storage_procs;
pub mod storage_roots;
mod vouched;

pub use serve::serve;

/// Why the master could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// An OS call failed; `context` says what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A setup step found something that cannot work.
    #[error("{0}")]
    Setup(String),
    /// The users file could not be read or changed.
    #[error(transparent)]
    Users(#[from] mailkeep_auth::AuthError),
}

impl MasterError {
    /// Wraps an OS error with what was being done.
    pub fn io(context: impl Into<String>, source: impl Into<std::io::Error>) -> MasterError {
        MasterError::Io {
            context: context.into(),
            source: source.into(),
        }
    }
}

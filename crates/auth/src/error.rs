//! The errors of this crate, each naming the file (and line) it concerns so
//! an administrator can act on the message alone.

use std::io;
use std::path::PathBuf;

/// Why an auth operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Reading, writing or renaming a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "renaming into", ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A line of the passwd-file is malformed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The passwd-file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A user name that may not be written to the passwd-file.
    #[error("invalid user name {name:?}: {reason}")]
    BadName {
        /// The refused name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A field value (home directory, password) that would break the line format.
    #[error("invalid {field}: {reason}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// `add_user` for a name that already exists.
    #[error("user {name:?} already exists in {path}")]
    DuplicateUser {
        /// The user name.
        name: String,
        /// The passwd-file.
        path: PathBuf,
    },
    /// An edit for a name that does not exist.
    #[error("no user {name:?} in {path}")]
    NoSuchUser {
        /// The user name.
        name: String,
        /// The passwd-file.
        path: PathBuf,
    },
    /// Hashing a new password failed.
    #[error("hashing the password: {0}")]
    Hash(String),
    /// The control channel from the master failed.
    #[error("auth control channel: {0}")]
    Control(#[from] mailkeep_storage_rpc::framing::FrameError),
    /// The gRPC server failed.
    #[error("auth gRPC server: {0}")]
    Server(#[from] tonic::transport::Error),
    /// The gRPC server task panicked or was cancelled.
    #[error("auth gRPC server task: {0}")]
    Task(String),
}

impl AuthError {
    /// Wraps an I/O error with what was being done to which file.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        AuthError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

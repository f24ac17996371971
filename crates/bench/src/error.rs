//! What can go wrong while setting up or driving a benchmark.

use std::path::PathBuf;

/// A benchmark step that failed, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A server did not come up.
    #[error("{server} did not start: {why}")]
    Start {
        /// Which server.
        server: &'static str,
        /// Why, with its log where there is one.
        why: String,
    },
    /// The baseline cannot run here (no Dovecot, not root).
    #[error("baseline unavailable: {0}")]
    Unavailable(String),
    /// The IMAP client failed.
    #[error("{what}: {source}")]
    Client {
        /// The command or step.
        what: String,
        /// The client's error.
        source: mailkeep_testkit::ClientError,
    },
    /// A server answered something other than what the step needs.
    #[error("{what}: {answer}")]
    Refused {
        /// The command or step.
        what: String,
        /// The server's answer.
        answer: String,
    },
    /// mailkeep's admin socket failed.
    #[error("admin socket {path}: {why}")]
    Admin {
        /// The socket.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A wait ran out.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl BenchError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }

    /// A client error during `what`.
    pub fn client(what: impl Into<String>, source: mailkeep_testkit::ClientError) -> BenchError {
        BenchError::Client {
            what: what.into(),
            source,
        }
    }
}

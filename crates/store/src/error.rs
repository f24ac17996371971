//! The one error type of the store, with enough context (mailbox, file) to
//! be logged as is, and variants a server can map to RPC status codes.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such mailbox (or message).
    #[error("{what} does not exist")]
    NotFound {
        /// What was looked for, e.g. `mailbox "Work"`.
        what: String,
    },
    /// A mailbox of that name exists already.
    #[error("mailbox {mailbox:?} already exists")]
    AlreadyExists {
        /// The mailbox name.
        mailbox: String,
    },
    /// The mailbox name is not acceptable.
    #[error("invalid mailbox name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Another argument (a flag, a keyword, a range) is refused.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation is not possible on this mailbox (deleting INBOX,
    /// renaming a mailbox below itself).
    #[error("{0}")]
    Cannot(String),
    /// A name, a count or a size is over what the store accepts (a mailbox
    /// name longer than a Maildir++ folder name may be, a mailbox out of
    /// UIDs, too many metadata entries).
    #[error("{what}: the limit is {max}")]
    Limit {
        /// What is over its limit, e.g. `mailbox name of 300 bytes`.
        what: String,
        /// The limit.
        max: u64,
    },
    /// A metadata value (RFC 5464) is larger than the store accepts.
    #[error("metadata value of {size} bytes: the limit is {max}")]
    MetadataTooLarge {
        /// The value's size.
        size: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// Setting metadata would give the owner more entries than allowed.
    #[error("too many metadata entries: the limit is {max}")]
    MetadataTooMany {
        /// The most entries an owner may have.
        max: u64,
    },
    /// A special-use attribute (RFC 6154) is unknown or not allowed.
    #[error("unknown special-use attribute {attribute:?}")]
    UseAttr {
        /// The attribute as given.
        attribute: String,
    },
    /// A message named by the caller was expunged meanwhile (the message a
    /// REPLACE was to expunge).
    #[error("{what} was expunged")]
    Expunged {
        /// Which message, e.g. `UID 4 in "Drafts"`.
        what: String,
    },
    /// A section to be decoded has a transfer encoding the store does not
    /// know (IMAP BINARY, `[UNKNOWN-CTE]`).
    #[error("content-transfer-encoding {encoding:?} is not known")]
    UnknownCte {
        /// The encoding as the message names it.
        encoding: String,
    },
    /// The mailbox cannot be deleted because it has child mailboxes
    /// (IMAP `[HASCHILDREN]`).
    #[error("mailbox {mailbox:?} has children; delete them first")]
    HasChildren {
        /// The mailbox name.
        mailbox: String,
    },
    /// The caller's view belongs to another UIDVALIDITY: it is stale.
    #[error("mailbox {mailbox:?} has UIDVALIDITY {current}, not {expected}")]
    UidValidityChanged {
        /// The mailbox name.
        mailbox: String,
        /// The UIDVALIDITY the caller gave.
        expected: u32,
        /// The mailbox's UIDVALIDITY now.
        current: u32,
    },
    /// An append carried another number of bytes than announced.
    #[error("append to {mailbox:?}: announced {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The mailbox name.
        mailbox: String,
        /// The announced size.
        expected: u64,
        /// The bytes received (at least; writing stops at the first excess).
        actual: u64,
    },
    /// The disk is full (ENOSPC, SQLITE_FULL).
    #[error("no space left: {context}")]
    NoSpace {
        /// What was being written.
        context: String,
    },
    /// The owner's disk quota is exhausted (EDQUOT).
    #[error("over quota: {context}")]
    OverQuota {
        /// What was being written.
        context: String,
    },
    /// A file grew past what the system allows (EFBIG: the file-size
    /// limit or the file system's largest file).
    #[error("too big: {context}")]
    TooBig {
        /// What was being written.
        context: String,
    },
    /// The index knows a message whose file is gone.
    #[error("message file of UID {uid} in {mailbox:?} is missing: {}", path.display())]
    MessageFileMissing {
        /// The mailbox name.
        mailbox: String,
        /// The message's UID.
        uid: u32,
        /// Where the file should be.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on which path.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The caller cancelled the operation (a long SEARCH, SORT or THREAD).
    #[error("operation cancelled")]
    Cancelled,
    /// The index database failed.
    #[error("index: {context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// An I/O error with context; ENOSPC becomes [`StoreError::NoSpace`],
    /// EDQUOT [`StoreError::OverQuota`] and EFBIG [`StoreError::TooBig`].
    pub fn io(context: impl Into<String>, source: io::Error) -> StoreError {
        let context = context.into();
        match source.raw_os_error() {
            Some(nix::libc::ENOSPC) => StoreError::NoSpace {
                context: format!("{context}: {source}"),
            },
            Some(nix::libc::EDQUOT) => StoreError::OverQuota {
                context: format!("{context}: {source}"),
            },
            Some(nix::libc::EFBIG) => StoreError::TooBig {
                context: format!("{context}: {source}"),
            },
            _ => StoreError::Io { context, source },
        }
    }

    /// An SQLite error with context; SQLITE_FULL becomes [`StoreError::NoSpace`].
    pub fn sqlite(context: impl Into<String>, source: rusqlite::Error) -> StoreError {
        let context = context.into();
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return StoreError::NoSpace {
                context: format!("{context}: {source}"),
            };
        }
        StoreError::Sqlite { context, source }
    }

    /// Whether retrying later (or through another process) may succeed:
    /// the index was busy or locked past the busy timeout.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    /// A mailbox that has run out of UIDs (the next would be `u32::MAX`).
    pub(crate) fn out_of_uids(mailbox: &str) -> StoreError {
        StoreError::Limit {
            what: format!("the UIDs of mailbox {mailbox:?}"),
            max: u64::from(u32::MAX - 1),
        }
    }

    pub(crate) fn mailbox_not_found(name: &str) -> StoreError {
        StoreError::NotFound {
            what: format!("mailbox {name:?}"),
        }
    }
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds context to SQLite results.
pub(crate) trait SqlContext<T> {
    /// Wraps the error with `context`.
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> SqlContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|e| StoreError::sqlite(context, e))
    }
}

//! Errors: what ends a connection, and storage failures turned into the
//! exact NO reply, by their typed reason, one to one.

use mailkeep_frontend::StorageError;
use mailkeep_imap_proto::Code;
use mailkeep_storage_rpc::errors::ErrorReason;

use crate::reply::Reply;

/// What can stop the IMAP process or one connection.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Reading from or writing to the client failed.
    #[error("client I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The storage stream failed after part of a response was sent; the
    /// connection cannot continue.
    #[error("storage failed mid-response: {0}")]
    Broken(String),
}

/// Where the failed call named a mailbox, where that changes the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The mailbox is where something goes (APPEND, COPY, MOVE): a missing
    /// one is TRYCREATE.
    Destination,
    /// Anything else: a missing mailbox is NONEXISTENT.
    Other,
}

/// The NO reply for a failed storage call; the details go to the log.
pub(crate) fn storage_reply(error: &StorageError, target: Target) -> Reply {
    let reason = error.reason();
    let (code, text): (Code, &'static str) = match reason {
        ErrorReason::Nonexistent if target == Target::Destination => {
            (Code::TryCreate, "Mailbox does not exist")
        }
        ErrorReason::Nonexistent => (Code::NonExistent, "Mailbox does not exist"),
        ErrorReason::AlreadyExists => (Code::AlreadyExists, "Mailbox already exists"),
        ErrorReason::HasChildren => (Code::HasChildren, "Mailbox has children; delete them first"),
        ErrorReason::InvalidName => (Code::Cannot, "Invalid mailbox name"),
        ErrorReason::Limit => (Code::Limit, "Over a server limit"),
        ErrorReason::InvalidArgument => (Code::Cannot, "Invalid argument"),
        ErrorReason::UidvalidityChanged => {
            (Code::ServerBug, "Mailbox was recreated; select it again")
        }
        ErrorReason::OverQuota => (Code::OverQuota, "Quota exceeded"),
        ErrorReason::NoSpace => (Code::OverQuota, "Not enough disk space"),
        ErrorReason::TooBig => (Code::TooBig, "Message too big"),
        ErrorReason::UnknownCte => (Code::UnknownCte, "Unknown content transfer encoding"),
        ErrorReason::UseAttr => (Code::UseAttr, "Special-use attribute not allowed"),
        ErrorReason::BadCharset => (
            Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]),
            "Unsupported charset",
        ),
        ErrorReason::NoPermission => (Code::NoPerm, "Permission denied"),
        ErrorReason::Unavailable => (Code::Unavailable, "Storage unavailable, try again"),
        ErrorReason::Corruption => (Code::Corruption, "Mail data is damaged"),
        ErrorReason::Expunged => (Code::ExpungeIssued, "Some messages were expunged"),
        ErrorReason::InUse => (Code::InUse, "Mailbox in use"),
        ErrorReason::Cannot => (Code::Cannot, "Not possible"),
        ErrorReason::Cancelled => (Code::Unavailable, "Cancelled"),
        ErrorReason::ServerBug | ErrorReason::Unspecified => {
            (Code::ServerBug, "Internal storage error")
        }
    };
    match reason {
        ErrorReason::ServerBug | ErrorReason::Unspecified | ErrorReason::Corruption => {
            tracing::error!(%error, "storage call failed");
        }
        _ => tracing::debug!(%error, "storage call refused"),
    }
    Reply::no(text).code(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailkeep_storage_rpc::errors::status;

    fn code(reason: ErrorReason, target: Target) -> Option<Code> {
        storage_reply(&StorageError::Status(status(reason, "x")), target).code
    }

    #[test]
    fn every_reason_has_its_code() {
        assert_eq!(
            code(ErrorReason::Nonexistent, Target::Other),
            Some(Code::NonExistent)
        );
        assert_eq!(
            code(ErrorReason::Nonexistent, Target::Destination),
            Some(Code::TryCreate)
        );
        assert_eq!(
            code(ErrorReason::HasChildren, Target::Other),
            Some(Code::HasChildren)
        );
        assert_eq!(
            code(ErrorReason::OverQuota, Target::Other),
            Some(Code::OverQuota)
        );
        assert_eq!(
            code(ErrorReason::UnknownCte, Target::Other),
            Some(Code::UnknownCte)
        );
        assert_eq!(
            code(ErrorReason::UseAttr, Target::Other),
            Some(Code::UseAttr)
        );
        assert_eq!(
            code(ErrorReason::Unavailable, Target::Other),
            Some(Code::Unavailable)
        );
        assert_eq!(
            code(ErrorReason::ServerBug, Target::Other),
            Some(Code::ServerBug)
        );
    }

    #[test]
    fn a_lost_connection_is_unavailable() {
        let error = StorageError::Connect(mailkeep_frontend::ConnectError::unavailable("gone"));
        assert_eq!(
            storage_reply(&error, Target::Other).code,
            Some(Code::Unavailable)
        );
    }
}

//! Translations between the store's types and the storage RPC's messages,
//! and from store errors to gRPC statuses (codes as the proto's header
//! comment lists them).

use mailkeep_storage_rpc::storage as pb;
use mailkeep_store::{MailboxStatus, MessageFlags, MessageMeta, StoreError, StoreMode, UidRange};
use tonic::Status;

/// The gRPC status for a store error. Internal failures are logged here,
/// with their full context; the client gets the same message.
pub(crate) fn status_of(e: StoreError) -> Status {
    let message = e.to_string();
    match e {
        StoreError::NotFound { .. } => Status::not_found(message),
        StoreError::Cancelled => Status::cancelled(message),
        StoreError::AlreadyExists { .. } => Status::already_exists(message),
        StoreError::InvalidName { .. }
        | StoreError::InvalidArgument(_)
        | StoreError::SizeMismatch { .. } => Status::invalid_argument(message),
        StoreError::UidValidityChanged { .. } | StoreError::HasChildren { .. } => {
            Status::failed_precondition(message)
        }
        StoreError::NoSpace { .. } => {
            tracing::warn!(error = %message, "storage full");
            Status::resource_exhausted(message)
        }
        StoreError::MessageFileMissing { .. } => {
            tracing::error!(error = %message, "index and Maildir disagree");
            Status::data_loss(message)
        }
        ref other if other.is_transient() => {
            tracing::warn!(error = %message, "index busy");
            Status::unavailable(message)
        }
        StoreError::Io { .. } | StoreError::Sqlite { .. } => {
            tracing::error!(error = %message, "storage failure");
            Status::internal(message)
        }
    }
}

/// The RPC form of a mailbox status.
pub(crate) fn status_msg(s: &MailboxStatus) -> pb::MailboxStatus {
    pb::MailboxStatus {
        uidvalidity: s.uidvalidity,
        uidnext: s.uidnext,
        highestmodseq: s.highestmodseq,
        messages: s.messages,
        unseen: s.unseen,
        deleted: s.deleted,
        size: s.size,
    }
}

/// The RPC form of a message's flags.
pub(crate) fn flags_msg(m: &MessageFlags) -> pb::MessageFlags {
    pb::MessageFlags {
        uid: m.uid,
        flags: m.flags.names(),
        modseq: m.modseq,
    }
}

/// The RPC form of a message's metadata.
pub(crate) fn fetched_msg(m: &MessageMeta) -> pb::FetchedMessage {
    pb::FetchedMessage {
        uid: m.uid,
        flags: m.flags.names(),
        modseq: m.modseq,
        size: m.size,
        internal_date: m.internal_date,
        internal_date_offset_minutes: m.internal_date_offset_minutes,
        save_date: m.save_date,
    }
}

/// UID ranges from the RPC.
pub(crate) fn ranges(r: &[pb::UidRange]) -> Vec<UidRange> {
    r.iter().map(|r| UidRange::new(r.first, r.last)).collect()
}

/// The store mode from the RPC enum's number.
pub(crate) fn store_mode(mode: i32) -> Result<StoreMode, Status> {
    match pb::StoreMode::try_from(mode) {
        Ok(pb::StoreMode::Replace) => Ok(StoreMode::Replace),
        Ok(pb::StoreMode::Add) => Ok(StoreMode::Add),
        Ok(pb::StoreMode::Remove) => Ok(StoreMode::Remove),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown store mode {mode}"
        ))),
    }
}

//! Translations between the store's types and the storage RPC's messages,
//! and from store errors to error statuses carrying their
//! [`ErrorReason`] (proto `error.proto`), so a protocol process maps each
//! failure to its response code without reading the message.

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_store::{
    CutSpec, MailboxStatus, MessageFlags, MessageMeta, SectionSpec, SectionText, StoreError,
    StoreMode, UidRange,
};
use tonic::Status;

/// The reason a protocol process is given for a store error. Every
/// variant is named, so a new one cannot go unmapped.
pub(crate) fn reason_of(e: &StoreError) -> ErrorReason {
    if e.is_transient() {
        return ErrorReason::Unavailable;
    }
    match e {
        StoreError::NotFound { .. } => ErrorReason::Nonexistent,
        StoreError::AlreadyExists { .. } => ErrorReason::AlreadyExists,
        StoreError::InvalidName { .. } => ErrorReason::InvalidName,
        StoreError::InvalidArgument(_) | StoreError::SizeMismatch { .. } => {
            ErrorReason::InvalidArgument
        }
        StoreError::Cannot(_) => ErrorReason::Cannot,
        StoreError::Limit { .. }
        | StoreError::MetadataTooLarge { .. }
        | StoreError::MetadataTooMany { .. } => ErrorReason::Limit,
        StoreError::UseAttr { .. } => ErrorReason::UseAttr,
        StoreError::Expunged { .. } => ErrorReason::Expunged,
        StoreError::UnknownCte { .. } => ErrorReason::UnknownCte,
        StoreError::HasChildren { .. } => ErrorReason::HasChildren,
        StoreError::UidValidityChanged { .. } => ErrorReason::UidvalidityChanged,
        StoreError::NoSpace { .. } => ErrorReason::NoSpace,
        StoreError::OverQuota { .. } => ErrorReason::OverQuota,
        StoreError::TooBig { .. } => ErrorReason::TooBig,
        StoreError::MessageFileMissing { .. } => ErrorReason::Corruption,
        StoreError::Cancelled => ErrorReason::Cancelled,
        StoreError::Io { .. } | StoreError::Sqlite { .. } => ErrorReason::ServerBug,
    }
}

/// The error status for a store error. Failures of the server rather
/// than of the request are logged here, with their full context; the
/// client gets the same message.
pub(crate) fn status_of(e: StoreError) -> Status {
    let reason = reason_of(&e);
    let message = e.to_string();
    match reason {
        ErrorReason::NoSpace | ErrorReason::OverQuota | ErrorReason::TooBig => {
            tracing::warn!(error = %message, "storage full");
        }
        ErrorReason::Corruption => {
            tracing::error!(error = %message, "index and Maildir disagree");
        }
        ErrorReason::Unavailable => tracing::warn!(error = %message, "index busy"),
        ErrorReason::ServerBug => tracing::error!(error = %message, "storage failure"),
        _ => {}
    }
    errors::status(reason, message)
}

/// An error status for a request the storage process refuses as it is
/// (a malformed stream, an unknown enum value).
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    errors::status(ErrorReason::InvalidArgument, message)
}

/// An error status for a failure of the storage process itself.
pub(crate) fn server_bug(message: impl Into<String>) -> Status {
    let message = message.into();
    tracing::error!(error = %message, "storage failure");
    errors::status(ErrorReason::ServerBug, message)
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
        mailbox_id: s.mailbox_id.clone(),
        deleted_size: s.deleted_size,
        recent: 0,
    }
}

/// The RPC form of a message's flags, with its object ids or without
/// them (a SELECT that did not ask).
pub(crate) fn flags_msg(m: &MessageFlags, with_ids: bool) -> pb::MessageFlags {
    let id = |id: &String| if with_ids { id.clone() } else { String::new() };
    pb::MessageFlags {
        uid: m.uid,
        flags: m.flags.names(),
        modseq: m.modseq,
        email_id: id(&m.email_id),
        thread_id: id(&m.thread_id),
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
        email_id: m.email_id.clone(),
        thread_id: m.thread_id.clone(),
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
        Err(_) => Err(invalid(format!("unknown store mode {mode}"))),
    }
}

/// The store's description of a section to cut, from its RPC form.
pub(crate) fn cut_spec(c: &pb::SectionCut) -> CutSpec {
    let text = match c.text() {
        pb::SectionTextKind::Full => SectionText::Full,
        pb::SectionTextKind::Header => SectionText::Header,
        pb::SectionTextKind::HeaderFields => SectionText::HeaderFields(c.header_names.clone()),
        pb::SectionTextKind::HeaderFieldsNot => {
            SectionText::HeaderFieldsNot(c.header_names.clone())
        }
        pb::SectionTextKind::Text => SectionText::Text,
        pb::SectionTextKind::Mime => SectionText::Mime,
    };
    CutSpec {
        section: SectionSpec {
            parts: c.parts.clone(),
            text,
            partial: c.partial.then_some((c.partial_offset, c.partial_count)),
        },
        binary: c.binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> StoreError {
        StoreError::io("writing", std::io::Error::from_raw_os_error(code))
    }

    #[test]
    fn each_store_error_has_its_reason() {
        let cases = [
            (
                StoreError::HasChildren {
                    mailbox: "a".into(),
                },
                ErrorReason::HasChildren,
            ),
            (
                StoreError::NotFound { what: "x".into() },
                ErrorReason::Nonexistent,
            ),
            (
                StoreError::InvalidName {
                    name: "a..b".into(),
                    reason: "empty level",
                },
                ErrorReason::InvalidName,
            ),
            (
                StoreError::Limit {
                    what: "name".into(),
                    max: 254,
                },
                ErrorReason::Limit,
            ),
            (
                StoreError::UseAttr {
                    attribute: "\\X".into(),
                },
                ErrorReason::UseAttr,
            ),
            (
                StoreError::UidValidityChanged {
                    mailbox: "a".into(),
                    expected: 1,
                    current: 2,
                },
                ErrorReason::UidvalidityChanged,
            ),
            (os(nix::libc::ENOSPC), ErrorReason::NoSpace),
            (os(nix::libc::EDQUOT), ErrorReason::OverQuota),
            (os(nix::libc::EFBIG), ErrorReason::TooBig),
            (os(nix::libc::EIO), ErrorReason::ServerBug),
            (
                StoreError::MessageFileMissing {
                    mailbox: "a".into(),
                    uid: 1,
                    path: "/x".into(),
                },
                ErrorReason::Corruption,
            ),
            (StoreError::Cancelled, ErrorReason::Cancelled),
            (
                StoreError::Expunged { what: "x".into() },
                ErrorReason::Expunged,
            ),
            (StoreError::Cannot("x".into()), ErrorReason::Cannot),
        ];
        for (error, reason) in cases {
            let text = error.to_string();
            let status = status_of(error);
            assert_eq!(errors::reason_of(&status), reason, "{text}");
        }
    }
}

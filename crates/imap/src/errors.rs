//! Errors: the crate's error type, and storage/broker failures mapped to
//! IMAP responses.

use mailkeep_imap_proto::StatusKind;
use tonic::{Code, Status};

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

/// A tagged reply: kind, optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// OK, NO or BAD.
    pub kind: StatusKind,
    /// The response code without brackets, e.g. `NONEXISTENT`.
    pub code: Option<String>,
    /// Human-readable text.
    pub text: String,
}

impl Reply {
    /// `OK text`.
    pub fn ok(text: &str) -> Reply {
        Reply {
            kind: StatusKind::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `OK [code] text`.
    pub fn ok_code(code: impl Into<String>, text: &str) -> Reply {
        Reply {
            kind: StatusKind::Ok,
            code: Some(code.into()),
            text: text.into(),
        }
    }

    /// `NO text`.
    pub fn no(text: &str) -> Reply {
        Reply {
            kind: StatusKind::No,
            code: None,
            text: text.into(),
        }
    }

    /// `NO [code] text`.
    pub fn no_code(code: &str, text: &str) -> Reply {
        Reply {
            kind: StatusKind::No,
            code: Some(code.into()),
            text: text.into(),
        }
    }

    /// `BAD text`.
    pub fn bad(text: &str) -> Reply {
        Reply {
            kind: StatusKind::Bad,
            code: None,
            text: text.into(),
        }
    }
}

/// Why a storage call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The storage process answered with an error status.
    Status(Status),
    /// No storage connection could be had from the broker.
    Broker(String),
}

impl From<Status> for CallError {
    fn from(status: Status) -> Self {
        CallError::Status(status)
    }
}

/// Which command failed, where the mapping depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// APPEND: NOT_FOUND means TRYCREATE.
    Append,
    /// Anything else.
    Other,
}

/// The NO reply for a failed storage call (details go to the log).
pub(crate) fn call_reply(error: &CallError, context: Context) -> Reply {
    match error {
        CallError::Status(status) => status_reply(status, context),
        CallError::Broker(message) => {
            tracing::warn!(%message, "no storage connection");
            Reply::no_code("UNAVAILABLE", "Storage unavailable, try again later")
        }
    }
}

/// Turns a status that reports a broken connection (the storage process
/// died mid-call: tonic reports the transport failure as UNKNOWN, INTERNAL
/// or CANCELLED with an h2 or transport message) into UNAVAILABLE, so that
/// the caller reconnects and the client is told to retry.
pub(crate) fn connection_lost(status: Status) -> Status {
    let transport = matches!(
        status.code(),
        Code::Unknown | Code::Internal | Code::Cancelled
    ) && {
        let m = status.message().to_ascii_lowercase();
        m.contains("h2 protocol error")
            || m.contains("transport error")
            || m.contains("connection")
            || m.contains("broken pipe")
    };
    if transport {
        Status::unavailable(format!("storage connection lost: {}", status.message()))
    } else {
        status
    }
}

/// Maps a storage status to an IMAP reply.
pub(crate) fn status_reply(status: &Status, context: Context) -> Reply {
    let status = &connection_lost(status.clone());
    let message = status.message();
    match status.code() {
        Code::NotFound if context == Context::Append => {
            Reply::no_code("TRYCREATE", "Mailbox does not exist")
        }
        Code::NotFound => Reply::no_code("NONEXISTENT", "Mailbox does not exist"),
        Code::AlreadyExists => Reply::no_code("ALREADYEXISTS", "Mailbox already exists"),
        Code::InvalidArgument => {
            Reply::no_code("CANNOT", &client_text(message, "Invalid argument"))
        }
        Code::ResourceExhausted => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("quota") {
                Reply::no_code("OVERQUOTA", "Quota exceeded")
            } else if lower.contains("too big") || lower.contains("too large") {
                Reply::no_code("TOOBIG", "Message too big")
            } else {
                Reply::no_code("LIMIT", &client_text(message, "Resource limit reached"))
            }
        }
        Code::Unauthenticated | Code::PermissionDenied => {
            tracing::warn!(code = ?status.code(), %message, "storage refused the ticket");
            Reply::no_code("NOPERM", "Permission denied")
        }
        Code::Unavailable => Reply::no_code("UNAVAILABLE", "Storage restarting, try again"),
        Code::FailedPrecondition => Reply::no_code("SERVERBUG", "Mailbox changed, select it again"),
        code => {
            tracing::error!(?code, %message, "storage call failed");
            Reply::no_code("SERVERBUG", "Internal storage error")
        }
    }
}

/// Storage's own message when it is short and printable, else `fallback`.
fn client_text(message: &str, fallback: &str) -> String {
    if !message.is_empty() && message.len() <= 200 && message.chars().all(|c| !c.is_control()) {
        message.to_string()
    } else {
        fallback.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(status: Status, context: Context) -> (StatusKind, Option<String>) {
        let r = status_reply(&status, context);
        (r.kind, r.code)
    }

    #[test]
    fn codes_map_to_response_codes() {
        let no = |c: &str| (StatusKind::No, Some(c.to_string()));
        assert_eq!(
            code_of(Status::not_found("x"), Context::Other),
            no("NONEXISTENT")
        );
        assert_eq!(
            code_of(Status::not_found("x"), Context::Append),
            no("TRYCREATE")
        );
        assert_eq!(
            code_of(Status::already_exists("x"), Context::Other),
            no("ALREADYEXISTS")
        );
        assert_eq!(
            code_of(Status::invalid_argument("bad name"), Context::Other),
            no("CANNOT")
        );
        assert_eq!(
            code_of(Status::resource_exhausted("over quota"), Context::Other),
            no("OVERQUOTA")
        );
        assert_eq!(
            code_of(Status::resource_exhausted("disk full"), Context::Other),
            no("LIMIT")
        );
        assert_eq!(
            code_of(Status::unauthenticated("x"), Context::Other),
            no("NOPERM")
        );
        assert_eq!(
            code_of(Status::permission_denied("x"), Context::Other),
            no("NOPERM")
        );
        assert_eq!(
            code_of(Status::unavailable("x"), Context::Other),
            no("UNAVAILABLE")
        );
        assert_eq!(
            code_of(Status::internal("x"), Context::Other),
            no("SERVERBUG")
        );
        assert_eq!(
            call_reply(&CallError::Broker("x".into()), Context::Other)
                .code
                .as_deref(),
            Some("UNAVAILABLE")
        );
    }

    #[test]
    fn storage_text_is_shown_only_when_safe() {
        assert_eq!(
            status_reply(
                &Status::invalid_argument("Bad mailbox name"),
                Context::Other
            )
            .text,
            "Bad mailbox name"
        );
        assert_eq!(
            status_reply(&Status::invalid_argument("a\r\nb"), Context::Other).text,
            "Invalid argument"
        );
        assert_eq!(
            status_reply(&Status::invalid_argument(""), Context::Other).text,
            "Invalid argument"
        );
    }
}

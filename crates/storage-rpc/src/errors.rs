//! Typed storage errors: every error status a storage process returns
//! carries an [`ErrorReason`] in its details, so a protocol process maps a
//! failure to its exact response code (`NO [OVERQUOTA]`, `452 4.2.2`)
//! without reading message text. The message stays for logs.

use prost::Message;
use tonic::{Code, Status};

pub use crate::storage::{ErrorDetail, ErrorReason};

/// The gRPC code that goes with a reason (for peers and tools that read
/// only codes).
pub fn code_of(reason: ErrorReason) -> Code {
    use ErrorReason as R;
    match reason {
        R::Nonexistent => Code::NotFound,
        R::AlreadyExists => Code::AlreadyExists,
        R::HasChildren | R::UidvalidityChanged | R::InUse | R::Expunged | R::Cannot => {
            Code::FailedPrecondition
        }
        R::InvalidName | R::InvalidArgument | R::UnknownCte | R::UseAttr | R::BadCharset => {
            Code::InvalidArgument
        }
        R::Limit | R::OverQuota | R::TooBig | R::NoSpace => Code::ResourceExhausted,
        R::NoPermission => Code::PermissionDenied,
        R::Unavailable => Code::Unavailable,
        R::Corruption => Code::DataLoss,
        R::Cancelled => Code::Cancelled,
        R::ServerBug | R::Unspecified => Code::Internal,
    }
}

/// An error status with `reason` in its details.
pub fn status(reason: ErrorReason, message: impl Into<String>) -> Status {
    let detail = ErrorDetail {
        reason: reason as i32,
    };
    Status::with_details(
        code_of(reason),
        message.into(),
        detail.encode_to_vec().into(),
    )
}

/// Why a call failed. A status with an [`ErrorDetail`] gives its reason;
/// one without (a failure of the connection itself, made on the client
/// side, or a peer that sent none) is read by its code, and a broken
/// connection is [`ErrorReason::Unavailable`], so the caller reconnects.
pub fn reason_of(status: &Status) -> ErrorReason {
    if !status.details().is_empty()
        && let Ok(detail) = ErrorDetail::decode(status.details())
    {
        return detail.reason();
    }
    // A status made on this side from a transport error keeps its source;
    // one that came over the wire never has one.
    let transport = std::error::Error::source(status).is_some();
    match status.code() {
        // ENHANCE_YOUR_CALM and INADEQUATE_SECURITY of a closed
        // connection read as exhausted and denied: the connection is
        // gone all the same.
        Code::Unknown
        | Code::Internal
        | Code::Cancelled
        | Code::ResourceExhausted
        | Code::PermissionDenied
            if transport =>
        {
            ErrorReason::Unavailable
        }
        Code::Unavailable => ErrorReason::Unavailable,
        Code::NotFound => ErrorReason::Nonexistent,
        Code::AlreadyExists => ErrorReason::AlreadyExists,
        Code::InvalidArgument => ErrorReason::InvalidArgument,
        Code::ResourceExhausted => ErrorReason::Limit,
        Code::Unauthenticated | Code::PermissionDenied => ErrorReason::NoPermission,
        Code::FailedPrecondition => ErrorReason::Cannot,
        Code::DataLoss => ErrorReason::Corruption,
        Code::Cancelled | Code::DeadlineExceeded => ErrorReason::Cancelled,
        _ => ErrorReason::ServerBug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_survives_the_status() {
        for reason in [
            ErrorReason::Nonexistent,
            ErrorReason::HasChildren,
            ErrorReason::OverQuota,
            ErrorReason::UnknownCte,
            ErrorReason::UseAttr,
        ] {
            let sent = status(reason, "words");
            // As the client sees it: rebuilt from the wire headers.
            let mut headers = tonic::codegen::http::HeaderMap::new();
            sent.add_header(&mut headers).unwrap_or_default();
            let received = Status::from_header_map(&headers).unwrap_or_else(|| Status::unknown(""));
            assert_eq!(reason_of(&received), reason);
            assert_eq!(received.code(), code_of(reason));
        }
    }

    #[test]
    fn a_status_without_details_is_read_by_its_code() {
        assert_eq!(reason_of(&Status::not_found("x")), ErrorReason::Nonexistent);
        assert_eq!(
            reason_of(&Status::unavailable("x")),
            ErrorReason::Unavailable
        );
        assert_eq!(reason_of(&Status::internal("x")), ErrorReason::ServerBug);
        assert_eq!(
            reason_of(&Status::with_details(
                Code::Internal,
                "x",
                vec![0xff, 0xff].into()
            )),
            ErrorReason::ServerBug
        );
    }

    #[test]
    fn a_broken_connection_is_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "peer gone");
        let status = Status::from_error(Box::new(io));
        assert_eq!(reason_of(&status), ErrorReason::Unavailable);
    }

    #[test]
    fn a_connection_the_peer_calmed_down_is_unavailable() {
        // It read as a server limit (NO [LIMIT]), so the call was not made
        // again on a new connection.
        for reason in [
            h2::Reason::ENHANCE_YOUR_CALM,
            h2::Reason::INADEQUATE_SECURITY,
        ] {
            let status = Status::from_error(Box::new(h2::Error::from(reason)));
            assert_eq!(reason_of(&status), ErrorReason::Unavailable, "{reason:?}");
        }
        // Over the wire, the codes keep their meaning.
        assert_eq!(
            reason_of(&Status::resource_exhausted("x")),
            ErrorReason::Limit
        );
    }
}

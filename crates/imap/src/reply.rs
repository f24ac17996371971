//! A command's tagged reply: OK, NO or BAD, a typed response code, and text.

use std::borrow::Cow;

use mailkeep_imap_proto::{Code, StatusKind};

/// A tagged reply, rendered by `imap-proto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// OK, NO or BAD.
    pub(crate) kind: StatusKind,
    /// The response code, if any.
    pub(crate) code: Option<Code>,
    /// Human-readable text.
    pub(crate) text: Cow<'static, str>,
}

impl Reply {
    /// `OK text`.
    pub(crate) fn ok(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            kind: StatusKind::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `NO text`.
    pub(crate) fn no(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            kind: StatusKind::No,
            code: None,
            text: text.into(),
        }
    }

    /// `BAD text`.
    pub(crate) fn bad(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            kind: StatusKind::Bad,
            code: None,
            text: text.into(),
        }
    }

    /// The same reply with a response code.
    pub(crate) fn code(mut self, code: Code) -> Reply {
        self.code = Some(code);
        self
    }
}

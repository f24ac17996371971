//! The commands that take no arguments: CAPABILITY, NOOP, LOGOUT,
//! STARTTLS, UNAUTHENTICATE (RFC 8437), NAMESPACE (RFC 2342), CHECK,
//! CLOSE and UNSELECT (RFC 3691).

use super::CommandBody;
use crate::grammar::{Cursor, PResult};

/// Defines each command's unit struct and its parse function (which only
/// requires the end of the line).
macro_rules! no_args {
    ($($(#[$doc:meta])* $name:ident => $parse:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        /// Parses the command's (absent) arguments.
        pub(crate) fn $parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
            c.eol()?;
            Ok(CommandBody::$name($name))
        }
    )*};
}

no_args! {
    /// CAPABILITY: list the server's capabilities.
    Capability => capability;
    /// NOOP: do nothing, but let the server send pending updates.
    Noop => noop;
    /// LOGOUT: end the session.
    Logout => logout;
    /// STARTTLS: start TLS on this connection (RFC 9051 §6.2.1).
    StartTls => starttls;
    /// UNAUTHENTICATE: back to the not-authenticated state (RFC 8437).
    Unauthenticate => unauthenticate;
    /// NAMESPACE: the server's namespaces (RFC 2342, RFC 9051 §6.3.10).
    Namespace => namespace;
    /// CHECK: a checkpoint (IMAP4rev1; a NOOP in IMAP4rev2).
    Check => check;
    /// CLOSE: expunge \Deleted messages and leave the selected state.
    Close => close;
    /// UNSELECT: leave the selected state without expunging (RFC 3691).
    Unselect => unselect;
}

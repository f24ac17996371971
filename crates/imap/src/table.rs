//! The command table: one line per command, mapping the parsed command to
//! the type that runs it. The capability list and the state checks come
//! from each command's [`Spec`](crate::cmd::Spec).

use mailkeep_imap_proto::CommandBody;

use crate::cmd::{Command, Route, Routed, Spec};

/// Declares the table: `route` (parsed command → runnable command) and
/// `SPECS` (every command's spec, for CAPABILITY).
macro_rules! commands {
    ($($variant:ident => $command:ty),* $(,)?) => {
        /// The runnable form of a parsed command.
        pub(crate) fn route(body: CommandBody) -> Box<dyn Routed> {
            match body {
                $(CommandBody::$variant(c) => Box::new(Route(<$command>::from(c))),)*
            }
        }

        /// The spec of every command in the table.
        pub(crate) static SPECS: &[&Spec] = &[$(&<$command as Command>::SPEC),*];
    };
}

use crate::cmd::copy_move::Move;
use crate::cmd::select::Examine;
use mailkeep_imap_proto as p;

commands! {
    Capability => p::Capability,
    Noop => p::Noop,
    Logout => p::Logout,
    Login => p::Login,
    Authenticate => p::Authenticate,
    Id => p::Id,
    Enable => p::Enable,
    Select => p::Select,
    Examine => Examine,
    Create => p::Create,
    Delete => p::Delete,
    Rename => p::Rename,
    Subscribe => p::Subscribe,
    Unsubscribe => p::Unsubscribe,
    List => p::List,
    Lsub => p::Lsub,
    Namespace => p::Namespace,
    Status => p::Status,
    Append => p::Append,
    Replace => p::Replace,
    Idle => p::Idle,
    Check => p::Check,
    Close => p::Close,
    Unselect => p::Unselect,
    Expunge => p::Expunge,
    Search => p::Search,
    Sort => p::Sort,
    Thread => p::Thread,
    Fetch => p::Fetch,
    Store => p::Store,
    Copy => p::CopyMove,
    Move => Move,
    Unauthenticate => p::Unauthenticate,
    Notify => p::Notify,
    CancelUpdate => p::CancelUpdate,
    GetMetadata => p::GetMetadata,
    StartTls => p::StartTls,
    Compress => p::Compress,
    SetMetadata => p::SetMetadata,
    SetAcl => p::SetAcl,
    DeleteAcl => p::DeleteAcl,
    GetAcl => p::GetAcl,
    ListRights => p::ListRights,
    MyRights => p::MyRights,
    Extension => p::Extension,
}

//! A command the parser knows but this server does not offer (yet): a BAD
//! that names it, so the client does not wait.

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::AnyState;

/// The name of a command not offered.
pub(crate) struct NotOffered(&'static str);

impl From<&'static str> for NotOffered {
    fn from(name: &'static str) -> NotOffered {
        NotOffered(name)
    }
}

impl Command for NotOffered {
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "(not offered)",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, _state: AnyState) -> Result<Done, ImapError> {
        Ok(Done::reply(Reply::bad(format!(
            "Command {} is not supported",
            self.0
        ))))
    }
}

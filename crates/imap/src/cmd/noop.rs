//! NOOP and CHECK (RFC 9051 §6.1.2, RFC 3501 §6.4.1): nothing but the
//! mailbox changes every command's end reports.

use mailkeep_imap_proto::{Check, Noop};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{AnyState, Selected};

impl Command for Noop {
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "NOOP",
        runs: Runs::Alone,
        capability: None,
    };

    fn polls(&self) -> bool {
        true
    }

    async fn run(self, _cx: Cx, _state: AnyState) -> Result<Done, ImapError> {
        Ok(Done::reply(Reply::ok("NOOP completed.")))
    }
}

impl Command for Check {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "CHECK",
        runs: Runs::Alone,
        capability: None,
    };

    fn polls(&self) -> bool {
        true
    }

    async fn run(self, _cx: Cx, _state: Selected) -> Result<Done, ImapError> {
        Ok(Done::reply(Reply::ok("CHECK completed.")))
    }
}

//! CANCELUPDATE (RFC 5267 §4.3): the client no longer wants the named
//! searches kept up to date.

use mailkeep_imap_proto::CancelUpdate;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::Selected;

impl Command for CancelUpdate {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "CANCELUPDATE",
        runs: Runs::Alone,
        capability: Some("CONTEXT=SEARCH"),
    };

    async fn run(self, _cx: Cx, state: Selected) -> Result<Done, ImapError> {
        state.mailbox.cancel_contexts(&self.tags);
        Ok(Done::reply(Reply::ok("CANCELUPDATE completed.")))
    }
}

//! UNAUTHENTICATE (RFC 8437): back to the not-authenticated state, with
//! the selected mailbox closed and the login forgotten (its tickets
//! revoked), on the same connection.

use mailkeep_imap_proto::Unauthenticate;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{Authenticated, Transition};

impl Command for Unauthenticate {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "UNAUTHENTICATE",
        // The parser must forget UTF8=ACCEPT before the next command.
        runs: Runs::Exclusive,
        capability: Some("UNAUTHENTICATE"),
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, mut cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        tracing::info!(user = %state.authed.user(), "unauthenticated");
        state.authed.storage.end().await;
        Ok(
            Done::reply_with_input(Reply::ok("Unauthenticate completed."), &mut cx)
                .with(Transition::Unauthenticate),
        )
    }
}

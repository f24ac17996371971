//! CLOSE (RFC 9051 §6.4.1: expunges `\Deleted` messages silently when
//! read-write) and UNSELECT (RFC 3691).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Close, Unselect};
use mailkeep_storage_rpc::storage::ExpungeRequest;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{Selected, Transition};

impl Command for Close {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "CLOSE",
        runs: Runs::Alone,
        capability: None,
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, _cx: Cx, state: Selected) -> Result<Done, ImapError> {
        if !state.mailbox.read_only {
            let request = ExpungeRequest {
                owner: state.owner().to_owned(),
                mailbox: state.mailbox.name(),
                uidvalidity: state.mailbox.uidvalidity,
                uids: Vec::new(),
            };
            let result = state
                .call(Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.storage().expunge(request).await }
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "expunge on CLOSE failed");
            }
        }
        Ok(Done::reply(Reply::ok("Close completed.")).with(Transition::Unselect))
    }
}

impl Command for Unselect {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "UNSELECT",
        runs: Runs::Alone,
        capability: Some("UNSELECT"),
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, _cx: Cx, _state: Selected) -> Result<Done, ImapError> {
        Ok(Done::reply(Reply::ok("Unselect completed.")).with(Transition::Unselect))
    }
}

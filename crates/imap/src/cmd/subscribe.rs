//! SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7–6.3.8). Names that do not
//! exist may be subscribed (LIST (SUBSCRIBED) shows them \NonExistent).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Subscribe, Unsubscribe};
use mailkeep_storage_rpc::storage::SubscriptionRequest;

use crate::cmd::common::normalize;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::state::Authenticated;

impl Command for Subscribe {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "SUBSCRIBE",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let request = SubscriptionRequest {
            owner: state.authed.user().to_owned(),
            mailbox: normalize(&self.mailbox),
        };
        let result = state
            .authed
            .call(state.authed.user(), Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.organize().subscribe(request).await }
            })
            .await;
        Ok(Done::reply(match result {
            Ok(_) => Reply::ok("Subscribe completed."),
            Err(e) => storage_reply(&e, Target::Other),
        }))
    }
}

impl Command for Unsubscribe {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "UNSUBSCRIBE",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let request = SubscriptionRequest {
            owner: state.authed.user().to_owned(),
            mailbox: normalize(&self.mailbox),
        };
        let result = state
            .authed
            .call(state.authed.user(), Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.organize().unsubscribe(request).await }
            })
            .await;
        Ok(Done::reply(match result {
            Ok(_) => Reply::ok("Unsubscribe completed."),
            Err(e) => storage_reply(&e, Target::Other),
        }))
    }
}

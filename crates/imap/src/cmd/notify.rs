//! NOTIFY (RFC 5465): the client says which events of which mailboxes it
//! wants to hear about without asking; the session then reports them as
//! they happen (see `session/notifier.rs`).

use std::collections::BTreeSet;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, Notify, NotifyEvent, NotifyMailboxes};
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, ListSubscriptionsRequest};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::MailboxRef;
use crate::reply::Reply;
use crate::session::notifier::{Notifier, send_status};
use crate::session::state::{Authenticated, Transition};

/// The events this server reports.
const SUPPORTED: &[&str] = &[
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
];

impl Command for Notify {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "NOTIFY",
        runs: Runs::Alone,
        capability: Some("NOTIFY"),
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let Some(set) = self.set else {
            return Ok(Done::reply(Reply::ok("NOTIFY completed.")).with(Transition::Notify(None)));
        };
        let unsupported = set.groups.iter().any(|g| {
            g.events.iter().flatten().any(|e| {
                matches!(
                    e,
                    NotifyEvent::AnnotationChange
                        | NotifyEvent::MailboxMetadataChange
                        | NotifyEvent::ServerMetadataChange
                        | NotifyEvent::Other(_)
                )
            })
        });
        if unsupported {
            let code = Code::BadEvent(SUPPORTED.iter().map(|e| (*e).to_owned()).collect());
            return Ok(Done::reply(
                Reply::no("Unsupported NOTIFY event").code(code),
            ));
        }
        let authed = &state.authed;
        let subscribed = if set
            .groups
            .iter()
            .any(|g| g.mailboxes == NotifyMailboxes::Subscribed)
        {
            let request = ListSubscriptionsRequest {
                owner: authed.user().to_owned(),
            };
            match authed
                .call(authed.user(), Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.organize().list_subscriptions(request).await }
                })
                .await
            {
                Ok(r) => r.names.into_iter().collect(),
                Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
            }
        } else {
            BTreeSet::new()
        };
        let status = set.status;
        let notifier = match Notifier::start(authed, set, subscribed).await {
            Ok(notifier) => notifier,
            Err(e) => {
                tracing::warn!(error = %e, "NOTIFY without a change stream");
                return Ok(Done::reply(
                    Reply::no("Notifications are unavailable now").code(Code::Unavailable),
                ));
            }
        };
        if status {
            // NOTIFY SET STATUS: the current state of every named mailbox
            // but the selected one (RFC 5465 §3.1).
            let request = ListMailboxesRequest {
                owner: authed.user().to_owned(),
            };
            let names: Vec<String> = match authed
                .call(authed.user(), Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.storage().list_mailboxes(request).await }
                })
                .await
            {
                Ok(listing) => listing
                    .mailboxes
                    .into_iter()
                    .filter(|m| {
                        !m.attributes
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case("\\Noselect"))
                    })
                    .map(|m| m.name)
                    .collect(),
                Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
            };
            // The user's own mailboxes and the watched ones of other
            // owners, but the selected one.
            let selected = state.selected.as_ref().map(|m| MailboxRef {
                owner: m.owner().to_owned(),
                name: m.name(),
            });
            for mailbox in notifier.status_mailboxes(&names, selected.as_ref(), authed) {
                send_status(authed, &cx.out, &mailbox, cx.enabled).await?;
            }
        }
        Ok(Done::reply(Reply::ok("NOTIFY completed."))
            .with(Transition::Notify(Some(Box::new(notifier)))))
    }
}

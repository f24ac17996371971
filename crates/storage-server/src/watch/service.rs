//! The Watch gRPC service: admits the call like every other, subscribes
//! the caller to its owner's changes (starting cross-process polling for
//! the first watcher), and streams the events of the watched mailbox (or
//! of all) plus every mailbox list event.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use tokio::sync::broadcast::{self, error::RecvError};
use tonic::{Request, Response, Status};

use super::bus::canonical;
use super::poll;
use crate::gate::{Admitted, Gate};

/// The Watch service over the owners this process serves.
pub(crate) struct WatchService {
    pub(crate) gate: Arc<Gate>,
}

/// The stream of one watcher's events.
type EventStream = Pin<Box<dyn Stream<Item = Result<pb::MailboxEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::watch_server::Watch for WatchService {
    type WatchStream = EventStream;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "Watch").await?;
        let mailbox = req.mailbox;
        let mailbox = (!mailbox.is_empty()).then(|| canonical(&mailbox));
        if let Some(name) = mailbox.clone() {
            // NOT_FOUND now rather than a stream that never says anything.
            let store = store.clone();
            self.gate.run(&owner, move || store.status(&name)).await?;
        }
        // Subscribed before the response goes out: once the caller has the
        // stream, no later change can be missed.
        let (changes, rx, start) = self.gate.changes().subscribe(&owner);
        if start {
            let started = poll::start(
                Arc::clone(&self.gate),
                owner.clone(),
                store.clone(),
                changes,
            )
            .await;
            if let Err(status) = started {
                self.gate.changes().polling_stopped(&owner);
                return Err(status);
            }
        }
        tracing::debug!(owner, mailbox = ?mailbox, "watcher added");
        Ok(Response::new(Box::pin(events(rx, mailbox))))
    }
}

/// The events `rx` delivers that concern `mailbox` (`None`: every
/// mailbox), and a resync event in place of any that were dropped because
/// the watcher fell behind. Ends when the client goes away (tonic drops
/// the stream, which drops the receiver).
fn events(
    rx: broadcast::Receiver<pb::MailboxEvent>,
    mailbox: Option<String>,
) -> impl Stream<Item = Result<pb::MailboxEvent, Status>> + Send {
    futures::stream::unfold((rx, mailbox), |(mut rx, mailbox)| async move {
        loop {
            match rx.recv().await {
                Ok(event) if concerns(&event, mailbox.as_deref()) => {
                    return Some((Ok(event), (rx, mailbox)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(dropped)) => {
                    tracing::debug!(dropped, "watcher fell behind; sending resync");
                    let resync = pb::MailboxEvent {
                        event: Some(Event::Resync(pb::WatchResync {})),
                    };
                    return Some((Ok(resync), (rx, mailbox)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// Whether a watcher of `mailbox` wants `event`: list and resync events
/// always, mailbox events only for its mailbox.
fn concerns(event: &pb::MailboxEvent, mailbox: Option<&str>) -> bool {
    match (&event.event, mailbox) {
        (Some(Event::Changed(c)), Some(name)) => c.mailbox == name,
        _ => true,
    }
}

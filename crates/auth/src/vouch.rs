//! Telling the master of each login ticket auth signs (`TicketIssued` on
//! auth's control socket, broker.proto): the master and the owner's
//! storage processes then keep it as verified without an Ed25519 check of
//! their own (`mailkeep-ticket`'s `Verifier::vouched`), which would
//! otherwise hold up the session's attach and first call. The login
//! queues its ticket before it is answered, and one writer task sends the
//! queue on; it usually reaches them long before the session's first
//! call. Only an optimisation: a ticket not vouched for is verified in
//! full where it is used, so a login never waits for this: when the queue
//! is full (the master stopped reading), the ticket is not vouched for.

use std::sync::Arc;

use mailkeep_storage_rpc::broker::{AuthEvent, TicketIssued, auth_event};
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Tickets queued for the writer at most.
const QUEUED: usize = 256;

/// The queue of tickets to vouch for.
#[derive(Debug, Clone)]
pub(crate) struct Vouching {
    queue: mpsc::Sender<Zeroizing<String>>,
}

impl Vouching {
    /// Starts the writer that vouches on `control` (shared with the loop
    /// that reads the master's messages from it). Must be called inside a
    /// tokio runtime.
    pub(crate) fn start(control: Arc<QuietStream>) -> Vouching {
        let (queue, tickets) = mpsc::channel(QUEUED);
        tokio::spawn(write_vouches(control, tickets));
        Vouching { queue }
    }

    /// Queues `ticket`, which auth just signed, to be vouched for; drops it
    /// if the queue is full.
    pub(crate) fn issued(&self, ticket: &str) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.queue.try_send(Zeroizing::new(ticket.to_owned()))
        {
            tracing::debug!("vouching queue full; a ticket is verified in full instead");
        }
    }
}

/// Sends each queued ticket as a `TicketIssued` event, one whole frame at
/// a time, until the queue or the socket closes.
async fn write_vouches(control: Arc<QuietStream>, mut tickets: mpsc::Receiver<Zeroizing<String>>) {
    while let Some(ticket) = tickets.recv().await {
        let event = AuthEvent {
            kind: Some(auth_event::Kind::TicketIssued(TicketIssued {
                ticket: ticket.as_str().to_owned(),
            })),
        };
        let sent = send_frame(&*control, &event, None).await;
        // The event's copy of the ticket: wiped, as every other.
        if let Some(auth_event::Kind::TicketIssued(issued)) = event.kind {
            drop(Zeroizing::new(issued.ticket));
        }
        if let Err(error) = sent {
            tracing::warn!(%error, "telling the master of issued tickets; no more are vouched for");
            return;
        }
    }
}

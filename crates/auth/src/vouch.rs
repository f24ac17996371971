//! Telling the master of each login ticket auth signs (`TicketIssued` on
//! auth's control socket, broker.proto), before the login is answered: the
//! master and the owner's storage processes then keep it as verified
//! without an Ed25519 check of their own (`mailkeep-ticket`'s
//! `Verifier::vouched`), which would otherwise hold up the session's first
//! call. Only an optimisation: a ticket not vouched for is verified as
//! before, so a failed send is logged and nothing else, and a master that
//! stops reading (its socket full for [`MOST_WAIT`]) is vouched to no more:
//! logins never wait on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mailkeep_storage_rpc::broker::{AuthEvent, TicketIssued, auth_event};
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::sync::Mutex;

/// The longest a vouch waits for room on the control socket.
const MOST_WAIT: Duration = Duration::from_millis(50);

/// The sending half of auth's control socket, one frame at a time.
#[derive(Debug)]
pub(crate) struct Vouching {
    control: Arc<QuietStream>,
    sending: Mutex<()>,
    /// Set when a vouch found no room in time: the master is not reading,
    /// and a frame may have been cut short; no more are sent.
    stopped: AtomicBool,
}

impl Vouching {
    /// Vouches on `control` (shared with the loop that reads the master's
    /// messages from it).
    pub(crate) fn new(control: Arc<QuietStream>) -> Vouching {
        Vouching {
            control,
            sending: Mutex::new(()),
            stopped: AtomicBool::new(false),
        }
    }

    /// Tells the master that auth signed `ticket`.
    pub(crate) async fn issued(&self, ticket: &str) {
        let event = AuthEvent {
            kind: Some(auth_event::Kind::TicketIssued(TicketIssued {
                ticket: ticket.to_owned(),
            })),
        };
        let _one_frame_at_a_time = self.sending.lock().await;
        if self.stopped.load(Ordering::Relaxed) {
            return;
        }
        match tokio::time::timeout(MOST_WAIT, send_frame(&*self.control, &event, None)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "telling the master of an issued ticket"),
            Err(_) => {
                self.stopped.store(true, Ordering::Relaxed);
                tracing::error!(
                    "the master reads no issued tickets (its socket stayed full); \
                     tickets are verified in full from now on"
                );
            }
        }
        // The event's copy of the ticket: wiped, as every other.
        if let Some(auth_event::Kind::TicketIssued(issued)) = event.kind {
            drop(zeroize::Zeroizing::new(issued.ticket));
        }
    }
}

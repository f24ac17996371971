//! Login tickets auth vouches for (`TicketIssued`, broker.proto): read
//! from auth's control socket, kept as verified in the broker's verifier
//! without an Ed25519 check, and passed on to the storage processes that
//! serve the ticket's user, which keep them the same way. Auth queues one
//! before it answers the login, so the session's attach and first storage
//! call usually find the ticket known. Only an optimisation: a ticket that
//! was not passed on (a storage process started after the login, say) is
//! verified in full where it is used.

use std::sync::Arc;

use mailkeep_storage_rpc::broker::{
    AuthEvent, ControlMessage, TicketIssued, auth_event, control_message,
};
use mailkeep_storage_rpc::framing::recv_frame;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::now_unix;
use zeroize::Zeroizing;

use crate::serve::Shared;

/// Reads auth's events from `events` (a descriptor of auth's control
/// socket of its own) until auth closes it.
pub(crate) async fn read_auth_events(shared: Arc<Shared>, events: QuietStream) {
    loop {
        let (event, fd) = match recv_frame::<AuthEvent>(&events).await {
            Ok(frame) => frame,
            Err(error) => {
                tracing::info!(%error, "auth's events end");
                return;
            }
        };
        match (event.kind, fd) {
            (Some(auth_event::Kind::TicketIssued(issued)), None) => {
                vouched(&shared, Zeroizing::new(issued.ticket)).await;
            }
            (Some(auth_event::Kind::TicketIssued(issued)), Some(_)) => {
                drop(Zeroizing::new(issued.ticket));
                tracing::warn!("auth sent a descriptor on its control socket; ignoring it");
            }
            (None, _) => tracing::warn!("unknown event from auth ignored"),
        }
    }
}

/// Keeps a ticket auth vouched for, and passes it on to the storage
/// processes serving its user.
pub(crate) async fn vouched(shared: &Arc<Shared>, ticket: Zeroizing<String>) {
    let claims = match shared.verifier.vouched(&ticket, now_unix()) {
        Ok(claims) if claims.issuer == shared.prepared.keys.name => claims,
        Ok(claims) => {
            tracing::warn!(issuer = %claims.issuer, "auth vouched for a ticket of another host; ignored");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "a ticket auth vouched for is not usable");
            return;
        }
    };
    let targets: Vec<_> = {
        let table = shared.storage.lock().await;
        table
            .iter()
            .filter(|p| p.serves(&claims.user))
            .map(|p| (p.pid, Arc::clone(&p.control)))
            .collect()
    };
    if targets.is_empty() {
        return;
    }
    let message = ControlMessage {
        kind: Some(control_message::Kind::TicketIssued(TicketIssued {
            ticket: ticket.as_str().to_owned(),
        })),
    };
    // In turn, here: a process whose socket is full holds up only the
    // vouches behind it (auth drops what it cannot queue), and never cuts
    // a frame short.
    for (pid, control) in targets {
        if let Err(error) = control.send(&message, None).await {
            tracing::warn!(pid, %error, "passing on a vouched ticket");
        }
    }
    // The message's copy of the ticket: wiped, as every other.
    if let Some(control_message::Kind::TicketIssued(issued)) = message.kind {
        drop(Zeroizing::new(issued.ticket));
    }
}

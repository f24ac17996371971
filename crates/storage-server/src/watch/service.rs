//! The Watch gRPC service: admits the call like every other, subscribes
//! the caller to its owner's changes (starting cross-process polling for
//! the first watcher), and streams the events of the watched mailbox (or
//! of all) plus every mailbox list event; a guest's stream shows only
//! what the owner's ACLs let the guest see (`guest.rs`).

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use tokio::sync::broadcast::{self, error::RecvError};
use tonic::{Request, Response, Status};

use mailkeep_storage_rpc::metadata::{WatchStart, set_watch_start};
use mailkeep_store::{MailboxStatus, Rights, Store};

use super::bus::{OwnerChanges, canonical};
use super::guest::GuestView;
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
            owner,
            store,
            req,
            actor,
        } = self.gate.admit_call(request, "Watch").await?;
        let mailbox = req.mailbox;
        let mailbox = (!mailbox.is_empty()).then(|| canonical(&mailbox));
        // Subscribed before the response goes out: once the caller has the
        // stream, no later change can be missed.
        let (changes, rx, start) = self.gate.changes().subscribe(&owner);
        let sourced = if start {
            self.start_source(&owner, &store, &changes, mailbox.as_deref())
                .await
        } else {
            if changes.is_kernel()
                && let Some(notifier) = self.gate.changes().notifier()
            {
                // Adds this watcher's mailbox's new/ to the owner's watches.
                let added =
                    notifier.watch(&self.gate, &owner, &store, &changes, mailbox.as_deref());
                if let Err(e) = added {
                    tracing::debug!(owner, error = %e, "cannot add the mailbox's inotify watch");
                }
            }
            Ok(())
        };
        if let Err(status) = sourced {
            self.gate.changes().polling_stopped(&owner);
            drop(rx);
            self.gate.changes().watcher_left(&owner);
            return Err(status);
        }
        // A guest watching one mailbox (a selected shared mailbox) hears
        // of that mailbox only: no list events, so no view to keep.
        let lists = actor.guest().is_none() || mailbox.is_none();
        // Read once subscribed, so that a change after a read is a
        // difference from it and one before it is already in it: the
        // watched mailbox's state (NOT_FOUND now rather than a stream that
        // never says anything; a watcher whose view is at it need not ask
        // storage what it missed before the stream began), and a guest's
        // view. A failed read ends the watch as a failed source does.
        let read = async {
            let begun = match &mailbox {
                Some(name) => Some(self.start_state(&owner, &store, name).await?),
                None => None,
            };
            let guest = match actor.guest().filter(|_| mailbox.is_none()) {
                Some(guest) => Some(
                    GuestView::start(
                        Arc::clone(&self.gate),
                        owner.clone(),
                        store.clone(),
                        guest.to_owned(),
                    )
                    .await?,
                ),
                None => None,
            };
            Ok::<_, Status>((begun, guest))
        };
        let (begun, guest) = match read.await {
            Ok(read) => read,
            Err(status) => {
                drop(rx);
                self.gate.changes().watcher_left(&owner);
                return Err(status);
            }
        };
        let recheck = match (actor.guest(), &mailbox) {
            (Some(guest), Some(name)) => Some(Box::new(Recheck {
                gate: Arc::clone(&self.gate),
                owner: owner.clone(),
                store: store.clone(),
                guest: guest.to_owned(),
                mailbox: name.clone(),
            })),
            _ => None,
        };
        tracing::debug!(owner, mailbox = ?mailbox, "watcher added");
        let leaving = Leaving::new(Arc::clone(&self.gate), owner);
        let mut response =
            Response::new(
                Box::pin(events(rx, mailbox, lists, (guest, recheck), leaving)) as EventStream,
            );
        if let Some(status) = begun {
            set_watch_start(
                &mut response,
                WatchStart {
                    uidvalidity: status.uidvalidity,
                    highest_modseq: status.highestmodseq,
                },
            );
        }
        Ok(response)
    }
}

impl WatchService {
    /// `owner`'s mailbox `name` as it is: settled, read on this thread
    /// (a watch starts with nearly every selection, at its first
    /// command), else on a store thread.
    async fn start_state(
        &self,
        owner: &str,
        store: &Store,
        name: &str,
    ) -> Result<MailboxStatus, Status> {
        if let Some(status) = self.gate.run_settled(|| store.status_if_settled(name))? {
            return Ok(status);
        }
        let (store, name) = (store.clone(), name.to_owned());
        self.gate.run(owner, move || store.status(&name)).await
    }

    /// Starts telling `owner`'s watchers of other processes' changes: by
    /// inotify where the kernel allows, else by polling. Records what
    /// watchers know now as the baseline (after the watches exist, so that
    /// nothing committed after it is missed).
    async fn start_source(
        &self,
        owner: &str,
        store: &Store,
        changes: &Arc<OwnerChanges>,
        mailbox: Option<&str>,
    ) -> Result<(), Status> {
        let kernel = self.gate.changes().notifier().and_then(|notifier| {
            match notifier.watch(&self.gate, owner, store, changes, mailbox) {
                Ok(checker) => Some((notifier, checker)),
                Err(e) => {
                    // Out of inotify watches, most likely
                    // (fs.inotify.max_user_watches).
                    tracing::warn!(owner, error = %e, "cannot watch the index by inotify; polling it");
                    None
                }
            }
        });
        let Some((notifier, checker)) = kernel else {
            return poll::start(
                Arc::clone(&self.gate),
                owner.to_owned(),
                store.clone(),
                Arc::clone(changes),
            )
            .await;
        };
        let now = {
            let store = store.clone();
            self.gate
                .run(owner, move || store.mailbox_counters_transient())
                .await
        };
        match now {
            Ok(now) => {
                changes.baseline(&now);
                changes.set_kernel();
                checker.baseline_taken();
                Ok(())
            }
            Err(status) => {
                notifier.unwatch(owner, changes);
                Err(status)
            }
        }
    }
}

/// Held by a watcher's event stream, and counted as an open stream while
/// it lives: when the stream is dropped (the client went away), after its
/// receiver, the owner is forgotten if that was its last watcher.
struct Leaving {
    gate: Arc<Gate>,
    owner: String,
}

impl Leaving {
    fn new(gate: Arc<Gate>, owner: String) -> Leaving {
        gate.changes().stream_opened();
        Leaving { gate, owner }
    }
}

impl Drop for Leaving {
    fn drop(&mut self) {
        self.gate.changes().stream_closed();
        self.gate.changes().watcher_left(&self.owner);
    }
}

/// The events `rx` delivers that concern `mailbox` (`None`: every
/// mailbox), and a resync event in place of any that were dropped because
/// the watcher fell behind. Ends when the client goes away (tonic drops
/// the stream, which drops the receiver).
fn events(
    rx: broadcast::Receiver<super::bus::Event>,
    mailbox: Option<String>,
    lists: bool,
    (guest, recheck): (Option<GuestView>, Option<Box<Recheck>>),
    leaving: Leaving,
) -> impl Stream<Item = Result<pb::MailboxEvent, Status>> + Send {
    // The receiver comes first in the state, so it is dropped before
    // `leaving` runs.
    let state = Watcher {
        rx,
        mailbox,
        lists,
        guest: guest.map(Box::new),
        recheck,
        _leaving: leaving,
    };
    // What a guest's stream awaits besides the next event is boxed: the
    // stream's future is kept for as long as the watcher is connected,
    // and most watchers are owners, who wait for events only.
    futures::stream::unfold(state, |mut state| async move {
        let Watcher {
            rx,
            mailbox,
            lists,
            guest,
            recheck,
            ..
        } = &mut state;
        loop {
            if let Some(event) = guest.as_mut().and_then(|g| g.pending()) {
                return Some((Ok(event), state));
            }
            match rx.recv().await {
                Ok(event) if guest.is_some() => {
                    if let Some(guest) = guest.as_mut() {
                        Box::pin(guest.take(&event)).await;
                    }
                }
                Ok(event) => {
                    if let Some(recheck) = recheck.as_ref()
                        && recheck.concerned_by(&event)
                        && !Box::pin(recheck.still_reads()).await
                    {
                        return None;
                    }
                    if concerns(&event, mailbox.as_deref(), *lists) {
                        let event = Arc::unwrap_or_clone(event);
                        // A guest watching a shared mailbox: no delta.
                        let event = if recheck.is_some() {
                            super::bus::without_delta(event)
                        } else {
                            event
                        };
                        return Some((Ok(event), state));
                    }
                }
                Err(RecvError::Lagged(dropped)) => {
                    tracing::debug!(dropped, "watcher fell behind; sending resync");
                    let resync = pb::MailboxEvent {
                        event: Some(Event::Resync(pb::WatchResync {})),
                    };
                    match (guest.as_mut(), recheck.as_ref()) {
                        // The guest's view is re-read too: list events
                        // may be among the dropped ones.
                        (Some(guest), _) => Box::pin(guest.take(&resync)).await,
                        // So may a change of the watched mailbox's ACL.
                        (None, Some(recheck)) if !Box::pin(recheck.still_reads()).await => {
                            return None;
                        }
                        (None, _) => return Some((Ok(resync), state)),
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// A guest's watch of one mailbox (a selected shared mailbox): the guest's
/// right to read it was checked when the watch started, and is checked
/// again after each change of the mailbox's ACL (made here, or elsewhere
/// and noticed by its ACL stamp in the index) and after a resync, which
/// may hide one; the stream ends once the guest may no longer read the
/// mailbox, so it tells nothing more of it.
struct Recheck {
    gate: Arc<Gate>,
    owner: String,
    store: Store,
    guest: String,
    mailbox: String,
}

impl Recheck {
    /// Whether `event` may have changed the guest's rights on the mailbox.
    fn concerned_by(&self, event: &pb::MailboxEvent) -> bool {
        match &event.event {
            Some(Event::List(l)) => {
                l.kind() == pb::ListChangeKind::Rights && canonical(&l.name) == self.mailbox
            }
            Some(Event::Resync(_)) => true,
            _ => false,
        }
    }

    /// Whether the guest may still read the mailbox (a failed check counts
    /// as no: the stream ends, and the watch, if asked again, is admitted
    /// again or not).
    async fn still_reads(&self) -> bool {
        let (store, mailbox, guest) =
            (self.store.clone(), self.mailbox.clone(), self.guest.clone());
        let rights = self
            .gate
            .run(&self.owner, move || store.rights_of(&mailbox, &guest))
            .await;
        matches!(rights, Ok(Some(r)) if r.contains(Rights::READ))
    }
}

/// One watcher's stream state. Fields drop in order: the receiver before
/// the [`Leaving`] that checks whether any receiver is left.
struct Watcher {
    rx: broadcast::Receiver<super::bus::Event>,
    mailbox: Option<String>,
    /// Whether list events are sent (not to a guest watching one
    /// mailbox).
    lists: bool,
    /// A guest's stream of every mailbox: what the guest may see of the
    /// events.
    guest: Option<Box<GuestView>>,
    /// A guest's stream of one mailbox: its right to read it, checked
    /// again when that may have changed.
    recheck: Option<Box<Recheck>>,
    _leaving: Leaving,
}

/// Whether a watcher of `mailbox` wants `event`: resync events always,
/// list events when it takes them (`lists`), mailbox events only for its
/// mailbox.
fn concerns(event: &pb::MailboxEvent, mailbox: Option<&str>, lists: bool) -> bool {
    match (&event.event, mailbox) {
        (Some(Event::Changed(c)), Some(name)) => c.mailbox == name,
        (Some(Event::List(_)), _) => lists,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    /// The size of what `make` would return (never called).
    fn returned_size<A, B, C, D, E, S>(_make: impl FnOnce(A, B, C, D, E) -> S) -> usize {
        std::mem::size_of::<S>()
    }

    /// A process keeps one event stream per watched mailbox of every
    /// connected session, for as long as it stays connected: what it
    /// holds while waiting for the next event is multiplied by thousands.
    /// (Debug build; it was 776 bytes before the guest's awaits were
    /// boxed.)
    #[test]
    fn a_watchers_event_stream_is_small() {
        let size = returned_size(super::events);
        eprintln!("event stream: {size} bytes");
        assert!(size <= 384, "the event stream is {size} bytes");
    }
}

//! Knowing when the selected mailbox changed without asking: while a
//! mailbox is selected, a task follows its Watch stream (changes by any
//! session or delivery, in any storage process of the owner) and marks the
//! mailbox changed. Commands then ask storage for changes only when
//! something did change, and IDLE wakes up at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use mailkeep_frontend::{Retry, Storage, StorageError};
use mailkeep_storage_rpc::storage::{MailboxEvent, WatchRequest, mailbox_event};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::codec::Streaming;

use crate::session::mailbox::Mailbox;

/// Whether the selected mailbox may have changed since it was last synced.
#[derive(Default)]
pub(crate) struct ChangeMark {
    /// An event came since the last sync.
    dirty: AtomicBool,
    /// The watch runs; without it every command syncs.
    watching: AtomicBool,
    /// Wakes an IDLE.
    notify: Notify,
}

impl ChangeMark {
    /// Marks a change and wakes a waiter.
    fn mark(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        // One waiter at most (an IDLE); a permit is kept if none waits yet.
        self.notify.notify_one();
    }

    /// Whether the mailbox must be asked for changes now (clearing the
    /// mark): a change came, or no watch tells us of changes.
    pub(crate) fn take(&self) -> bool {
        let dirty = self.dirty.swap(false, Ordering::SeqCst);
        dirty || !self.watching.load(Ordering::SeqCst)
    }

    /// Stops trusting the watch (the mailbox was renamed under it): every
    /// command syncs from now on.
    pub(crate) fn unwatch(&self) {
        self.watching.store(false, Ordering::SeqCst);
    }

    /// Whether a watch tells of changes.
    pub(crate) fn watching(&self) -> bool {
        self.watching.load(Ordering::SeqCst)
    }

    /// Resolves at the next change.
    pub(crate) async fn changed(&self) {
        if self.dirty.load(Ordering::SeqCst) {
            return;
        }
        self.notify.notified().await;
    }
}

/// The task following a mailbox's Watch stream; stops when dropped.
pub(crate) struct Watcher(JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts following `mailbox`'s changes. The task holds the mailbox
/// weakly, so it ends with the selection.
pub(crate) fn watch(mailbox: &Arc<Mailbox>, storage: Storage) -> Watcher {
    let weak = Arc::downgrade(mailbox);
    let name = mailbox.name();
    let owner = mailbox.owner().to_owned();
    Watcher(tokio::spawn(follow(weak, storage, owner, name)))
}

/// Follows the Watch stream of `owner`'s mailbox `name`.
pub(crate) async fn follow(mailbox: Weak<Mailbox>, storage: Storage, owner: String, name: String) {
    // Opening is boxed: the task keeps only what following needs while it
    // waits for events, for as long as the mailbox stays selected.
    let stream = Box::pin(open(storage, owner, name.clone())).await;
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "no change stream; every command will ask storage");
            return;
        }
    };
    match mailbox.upgrade() {
        Some(m) => {
            m.mark().watching.store(true, Ordering::SeqCst);
            // Anything between SELECT's answer and the watch starting.
            m.mark().mark();
        }
        None => return,
    }
    loop {
        let event = stream.message().await;
        let Some(m) = mailbox.upgrade() else {
            return;
        };
        match event {
            Ok(Some(event)) => {
                let concerns = match &event.event {
                    Some(mailbox_event::Event::Changed(c)) => c.mailbox == name,
                    Some(mailbox_event::Event::Resync(_)) => true,
                    Some(mailbox_event::Event::List(_)) | None => false,
                };
                if concerns {
                    m.mark().mark();
                }
            }
            Ok(None) | Err(_) => {
                // The storage process went away: fall back to asking.
                tracing::info!("the change stream ended; every command will ask storage");
                m.mark().unwatch();
                m.mark().mark();
                return;
            }
        }
    }
}

/// Opens the Watch stream of `owner`'s mailbox `name`.
async fn open(
    storage: Storage,
    owner: String,
    name: String,
) -> Result<Streaming<MailboxEvent>, StorageError> {
    let request = WatchRequest {
        owner: owner.clone(),
        mailbox: name,
    };
    storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            crate::session::watch_call::watch(rpc, request)
        })
        .await
}

impl std::fmt::Debug for ChangeMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeMark")
            .field("dirty", &self.dirty.load(Ordering::Relaxed))
            .field("watching", &self.watching.load(Ordering::Relaxed))
            .finish()
    }
}

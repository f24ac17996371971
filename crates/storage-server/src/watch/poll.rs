//! Cross-process change detection where inotify is not available (see
//! `kernel.rs`, used everywhere else): while anyone watches an owner, read
//! the owner's index `data_version` on a dedicated connection every
//! [`POLL_EVERY`]; when another connection committed, read every
//! mailbox's counters (one small query) and announce what differs from
//! what watchers were last told. Idle cost: one PRAGMA per tick, read on
//! the async thread (it touches only the shared-memory index and never
//! waits, see `ChangesProbe`); the counters are read on the store-work
//! pool. In shared mode the PRAGMA too runs with the owner's credentials.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailkeep_store::{ChangesProbe, Store};
use tonic::Status;

use super::bus::OwnerChanges;
use crate::gate::Gate;

/// How often the index is probed; changes made by another process reach
/// watchers within this plus one query.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(250);

/// Reads in a row that may be dropped as stale (see the loop).
const MAX_STALE_READS: u32 = 2;

/// Opens a probe on `owner`'s index (of `store`), records the current
/// state as the baseline (so that nothing committed after the watcher's
/// call returns is missed), and starts the polling task. The task stops by
/// itself when the owner has no watcher left.
pub(crate) async fn start(
    gate: Arc<Gate>,
    owner: String,
    store: Store,
    changes: Arc<OwnerChanges>,
) -> Result<(), Status> {
    let (probe, version, now) = gate
        .run(&owner, {
            let store = store.clone();
            move || {
                let probe = ChangesProbe::open(store.root())?;
                let version = probe.data_version()?;
                let now = store.mailbox_counters()?;
                Ok((probe, version, now))
            }
        })
        .await?;
    changes.baseline(&now);
    let probe = Arc::new(Mutex::new(probe));
    tokio::spawn(run(gate, owner, store, changes, probe, version));
    Ok(())
}

/// The polling loop of one owner.
async fn run(
    gate: Arc<Gate>,
    owner: String,
    store: Store,
    changes: Arc<OwnerChanges>,
    probe: Arc<Mutex<ChangesProbe>>,
    mut version: i64,
) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut failing = false;
    let mut stale_reads = 0;
    loop {
        tick.tick().await;
        if gate.changes().stop_if_unwatched(&owner, &changes) {
            tracing::debug!(owner, "no watcher left; change polling stops");
            return;
        }
        let probe = Arc::clone(&probe);
        let store = store.clone();
        let last = version;
        let published = changes.published();
        let read_version = move || {
            probe
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .data_version()
        };
        let now = if gate.is_shared() {
            gate.run(&owner, read_version).await
        } else {
            read_version().map_err(crate::convert::status_of)
        };
        let read = match now {
            Ok(now) if now == last => Ok((now, None)),
            Ok(now) => {
                gate.run(&owner, move || Ok((now, Some(store.mailbox_counters()?))))
                    .await
            }
            Err(status) => Err(status),
        };
        match read {
            Ok((now, mailboxes)) => {
                failing = false;
                let Some(mailboxes) = mailboxes else {
                    version = now;
                    continue;
                };
                // A read overtaken by this process's own announcements is
                // read again at the next tick; under a constant stream of
                // them, the third is taken as it is.
                let check = (stale_reads < MAX_STALE_READS).then_some(published);
                if changes.reconcile(&mailboxes, check) {
                    version = now;
                    stale_reads = 0;
                } else {
                    stale_reads += 1;
                }
            }
            // Logged once per failing stretch, not every tick.
            Err(status) if !failing => {
                failing = true;
                tracing::warn!(
                    owner,
                    reason = status.message(),
                    "change polling failed; retrying"
                );
            }
            Err(_) => {}
        }
    }
}

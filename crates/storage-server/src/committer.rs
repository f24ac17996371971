//! The committer of whole appends. An append gathered whole before any
//! store work starts (a delivery of a usual size, most APPENDs: see
//! `crate::append`) gets no store thread of its own: it joins its store's
//! queue, and one store thread per store with appends waiting writes every
//! one that waits and commits them together
//! ([`Store::commit_appends_together`]): one index transaction and one
//! WAL sync for all the appends that came while the last ones were being
//! written. So concurrent deliveries to one owner wake one thread, not one
//! each, and do not queue for the write lock and then for the sync one
//! after another. Each append still gets its own answer, only once its
//! commit is durable. A REPLACE, and an append too big to gather, keep a
//! thread of their own.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use mailkeep_store::{AppendedBatch, StagedMessage, Store, StoreError};
use tokio::sync::oneshot;
use tonic::Status;

use crate::append::{Piece, Target, stage_allowed};
use crate::gate::Gate;
use crate::plugin::Plugins;

/// An append gathered whole, waiting for its store's committer.
pub(crate) struct Whole {
    pub(crate) store: Store,
    pub(crate) owner: String,
    pub(crate) mailbox: String,
    pub(crate) plugins: Plugins,
    /// The guest who appends, if not the owner (see [`Target`]).
    pub(crate) guest: Option<String>,
    /// Every piece, the commit last.
    pub(crate) pieces: Vec<Piece>,
    /// Where its answer goes: the committed batch, `None` if the pieces
    /// ended without a commit, or why it failed.
    pub(crate) done: oneshot::Sender<Result<Option<AppendedBatch>, StoreError>>,
}

impl Whole {
    fn target(&self) -> Target<'_> {
        Target {
            owner: &self.owner,
            mailbox: &self.mailbox,
            plugins: &self.plugins,
            guest: self.guest.as_deref(),
        }
    }
}

/// Whose appends one committer takes: an owner's store, by its root (two
/// owners whose stores share a root each get their own committer, which
/// commits through its own owner's store, as that owner).
type QueueKey = (String, PathBuf);

/// The appends waiting, by store: a store has an entry exactly while its
/// committer is started or runs.
static QUEUES: LazyLock<Mutex<HashMap<QueueKey, Vec<Whole>>>> = LazyLock::new(Mutex::default);

fn queues() -> MutexGuard<'static, HashMap<QueueKey, Vec<Whole>>> {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `append` for its store's committer, starting one on the owner's
/// kind of store thread (see [`Gate::spawn`]) if none runs.
pub(crate) fn enqueue(gate: &Gate, append: Whole) -> Result<(), Status> {
    let key = (append.owner.clone(), append.store.root().to_path_buf());
    {
        let mut queues = queues();
        if let Some(waiting) = queues.get_mut(&key) {
            waiting.push(append);
            return Ok(());
        }
        queues.insert(key.clone(), vec![append]);
    }
    // Made before the thread is asked for: if the work is dropped without
    // running (no thread could take it, or its pool went away), the
    // entry goes with it and what waits is answered (failed) instead of
    // waiting for a committer that never comes.
    let running = Running(Some(key.clone()));
    gate.spawn(&key.0, move || run(running))
}

/// The committer of one store: commits what waits until nothing does.
fn run(mut running: Running) {
    let Some(key) = running.0.clone() else {
        return;
    };
    loop {
        let appends = {
            let mut queues = queues();
            match queues.get_mut(&key) {
                Some(waiting) if !waiting.is_empty() => std::mem::take(waiting),
                _ => {
                    queues.remove(&key);
                    // Done: a committer started from now on has an entry
                    // of its own, which this one must not remove.
                    running.0 = None;
                    return;
                }
            }
        };
        commit(appends);
    }
}

/// A committer started or under way: dropped before it is done only if it
/// never ran or panicked, when it drops what waits for it (each append
/// fails, answered by its dropped sender) rather than leave it waiting.
struct Running(Option<QueueKey>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(key) = self.0.take() {
            drop(queues().remove(&key));
        }
    }
}

/// Stages each of `appends`, asks the plugins' before-add hooks, commits
/// those allowed together, and answers each. One append whose staging or
/// hooks panic fails alone.
fn commit(appends: Vec<Whole>) {
    let mut ready: Vec<(Whole, Vec<StagedMessage>)> = Vec::with_capacity(appends.len());
    for mut append in appends {
        let pieces = std::mem::take(&mut append.pieces);
        let prepared = catch_unwind(AssertUnwindSafe(|| {
            stage_allowed(&append.store, &append.target(), pieces, None)
        }))
        .unwrap_or_else(|_| Err(panicked("staging an append")));
        match prepared {
            Ok(Some(staged)) => ready.push((append, staged)),
            other => {
                let _ = append.done.send(other.map(|_| None));
            }
        }
    }
    let (appends, batches): (Vec<Whole>, Vec<Vec<StagedMessage>>) = ready.into_iter().unzip();
    let sizes: Vec<(u64, u64)> = batches
        .iter()
        .map(|b| (b.len() as u64, b.iter().map(StagedMessage::size).sum()))
        .collect();
    let Some(store) = appends.first().map(|a| a.store.clone()) else {
        return;
    };
    let results = store.commit_appends_together(batches);
    for ((append, (messages, bytes)), result) in appends.into_iter().zip(sizes).zip(results) {
        // The commit stands whatever the hooks do: its answer goes out.
        let hooks = catch_unwind(AssertUnwindSafe(|| {
            let target = append.target();
            let adding = crate::plugin::Adding {
                messages,
                bytes,
                ..target.adding(&[])
            };
            append.plugins.add_ended(&adding);
            if let Ok(batch) = &result {
                append
                    .plugins
                    .after_add(&append.store, &adding, &batch.uids);
            }
        }));
        if hooks.is_err() {
            tracing::error!(owner = %append.owner, "a plugin's hook panicked after an append");
        }
        let _ = append.done.send(result.map(Some));
    }
}

/// The error of an append whose work panicked while `doing`.
fn panicked(doing: &str) -> StoreError {
    tracing::error!("panic while {doing}");
    StoreError::Cannot(format!("internal error while {doing}"))
}

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
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use mailkeep_store::{AppendedBatch, StagedMessage, Store, StoreError};
use tokio::sync::oneshot;
use tonic::Status;

use crate::append::{Piece, Target, stage};
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

/// The appends waiting, by store (its root): a store has an entry exactly
/// while its committer runs.
static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Vec<Whole>>>> = LazyLock::new(Mutex::default);

fn queues() -> MutexGuard<'static, HashMap<PathBuf, Vec<Whole>>> {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `append` for its store's committer, starting one on the owner's
/// kind of store thread (see [`Gate::spawn`]) if none runs.
pub(crate) fn enqueue(gate: &Gate, append: Whole) -> Result<(), Status> {
    let root = append.store.root().to_path_buf();
    let owner = append.owner.clone();
    {
        let mut queues = queues();
        if let Some(waiting) = queues.get_mut(&root) {
            waiting.push(append);
            return Ok(());
        }
        queues.insert(root.clone(), vec![append]);
    }
    let started = gate.spawn(&owner, {
        let root = root.clone();
        move || run(&root)
    });
    if let Err(status) = started {
        // No committer: what waits for it is answered by its dropped
        // sender (a failed append), this one by the error.
        drop(queues().remove(&root));
        return Err(status);
    }
    Ok(())
}

/// The committer of the store at `root`: commits what waits until nothing
/// does.
fn run(root: &Path) {
    let running = Running(root);
    loop {
        let appends = {
            let mut queues = queues();
            match queues.get_mut(root) {
                Some(waiting) if !waiting.is_empty() => std::mem::take(waiting),
                _ => {
                    queues.remove(root);
                    std::mem::forget(running);
                    return;
                }
            }
        };
        commit(appends);
    }
}

/// A committer under way: dropped only if it panicked, when it drops what
/// waits for it (each append fails, answered by its dropped sender)
/// rather than leave it waiting for a committer that is gone.
struct Running<'a>(&'a Path);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        drop(queues().remove(self.0));
    }
}

/// Stages each of `appends`, asks the plugins' before-add hooks, commits
/// those allowed together, and answers each.
fn commit(appends: Vec<Whole>) {
    let mut ready: Vec<(Whole, Vec<StagedMessage>)> = Vec::with_capacity(appends.len());
    for mut append in appends {
        let pieces = std::mem::take(&mut append.pieces);
        let staged = match stage(&append.store, &append.target(), pieces, None) {
            Ok(Some(staged)) => staged,
            other => {
                let _ = append.done.send(other.map(|_| None));
                continue;
            }
        };
        let target = append.target();
        if let Err(e) = append
            .plugins
            .before_add(&append.store, &target.adding(&staged))
        {
            // Dropped: its files are removed.
            drop(staged);
            let _ = append.done.send(Err(e));
            continue;
        }
        ready.push((append, staged));
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
        let _ = append.done.send(result.map(Some));
    }
}

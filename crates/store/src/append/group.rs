//! Group commit of appends (DESIGN §5). Every append must be durable
//! before it is acknowledged: its file renamed into `cur/` and the index
//! committed with the message's bytes in the append journal, an fsync of
//! the WAL (`crate::journal`; a message too big for the journal has its
//! file fsynced by its writer and its `cur/` before the commit). Done one
//! append at a time, that fsync bounds a store to one append per disk
//! flush however many clients deliver at once.
//!
//! So appends that come while a commit runs wait for the write lock
//! together, and the first of them to get it commits them all: their
//! renames, one transaction with a savepoint per
//! batch (a batch that fails is rolled back and its files removed, the
//! others go on; a batch alone needs none), one commit. Each batch keeps its own UIDs and MODSEQ
//! and gets its own answer; none is answered before the commit that made
//! it durable. One append alone commits exactly as before.
//!
//! The sync that makes a commit durable runs after the write lock is
//! released (`crate::journal::Durability`): the next appends' transaction
//! is built and committed while the disk flushes, and one sync then makes
//! every commit made meanwhile durable. The lock is held for the
//! transaction only, so the flush is no longer what the next commit
//! queues behind.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::StagedMessage;
use super::commit::{AppendedBatch, check_cap, insert_rows, journal_rows, move_into, target_of};
use crate::Store;
use crate::error::{Result, SqlContext, StoreError};
use crate::index;
use crate::journal::Ticket;
use crate::mailbox::begin_write;
use crate::sync::own::OwnChange;
use crate::{maildir, names};

/// The batches waiting for the next commit.
#[derive(Default)]
pub(crate) struct CommitQueue {
    waiting: Mutex<Vec<Arc<Job>>>,
}

/// A batch committed, and the commit's number if it must still be made
/// durable (see `crate::journal::Durability`).
type Committed = (AppendedBatch, Option<Ticket>);

/// One batch in the queue, and its answer once committed.
struct Job {
    staged: Mutex<Option<Vec<StagedMessage>>>,
    answer: Mutex<Option<Result<Committed>>>,
}

/// The answer of a batch that got none (a defect, never expected).
fn lost_batch() -> StoreError {
    StoreError::InvalidArgument("group commit lost a batch".into())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Commits `staged` together with whatever else waits (see the module
    /// documentation).
    pub(super) fn commit_grouped(&self, staged: Vec<StagedMessage>) -> Result<AppendedBatch> {
        self.commit_appends_together(vec![staged])
            .pop()
            .unwrap_or_else(|| Err(lost_batch()))
    }

    /// Commits several batches (each as [`Store::commit_appends`] without
    /// a REPLACE would: its own UIDs and MODSEQ, its own success or
    /// failure) in one transaction, with whatever else waits, and makes
    /// them durable with one sync: for a caller that gathered appends
    /// itself (a store's committer thread) rather than one thread per
    /// append. One answer per batch, in order.
    pub fn commit_appends_together(
        &self,
        batches: Vec<Vec<StagedMessage>>,
    ) -> Vec<Result<AppendedBatch>> {
        if batches.is_empty() {
            return Vec::new();
        }
        let jobs: Vec<Arc<Job>> = batches
            .into_iter()
            .map(|staged| {
                Arc::new(Job {
                    staged: Mutex::new(Some(staged)),
                    answer: Mutex::new(None),
                })
            })
            .collect();
        lock(&self.inner.commits.waiting).extend(jobs.iter().cloned());
        // Blocks while another thread commits (maybe these batches too:
        // it takes every waiting one, so all of them or none).
        let conn = self.conn();
        let answered = jobs.iter().all(|j| lock(&j.answer).is_some());
        match conn {
            Ok(_) if answered => {}
            Err(e) if answered => drop(e),
            Ok(mut conn) => {
                let taken = std::mem::take(&mut *lock(&self.inner.commits.waiting));
                let batches: Vec<Vec<StagedMessage>> = taken
                    .iter()
                    .map(|j| lock(&j.staged).take().unwrap_or_default())
                    .collect();
                let answers = commit_together(self, &mut conn, batches);
                // Every batch taken from the queue is answered before the
                // lock goes: a waiter that gets it next must find its
                // answer.
                for (j, answer) in taken.iter().zip(answers) {
                    *lock(&j.answer) = Some(answer);
                }
            }
            Err(e) => {
                // The lock is free again once the reopening failed: another
                // thread may have taken these batches since (it takes every
                // waiting one, so all of them or none) and be committing
                // them. Still queued, they are withdrawn and fail here.
                let mut waiting = lock(&self.inner.commits.waiting);
                let queued = jobs
                    .iter()
                    .all(|mine| waiting.iter().any(|j| Arc::ptr_eq(j, mine)));
                if queued {
                    waiting.retain(|j| !jobs.iter().any(|mine| Arc::ptr_eq(j, mine)));
                    drop(waiting);
                    let copies: Vec<StoreError> = jobs.iter().skip(1).map(|_| each(&e)).collect();
                    for (j, e) in jobs.iter().zip(std::iter::once(e).chain(copies)) {
                        *lock(&j.answer) = Some(Err(e));
                    }
                } else {
                    drop(waiting);
                    // Taken: their committer answers them before it lets
                    // the lock go, so waiting for the lock waits for that.
                    drop(self.conn());
                }
            }
        }
        // One sync makes them all durable: the first wait runs it, the
        // others find their commit covered.
        jobs.iter()
            .map(|j| {
                let answer = lock(&j.answer).take().unwrap_or_else(|| Err(lost_batch()));
                self.made_durable(answer)
            })
            .collect()
    }

    /// `answer` once its commit is durable: the write lock is not held
    /// meanwhile, so the next appends commit while the disk flushes, and
    /// share the next sync.
    fn made_durable(&self, answer: Result<Committed>) -> Result<AppendedBatch> {
        let (batch, ticket) = answer?;
        if let Some(ticket) = ticket {
            self.inner.durable.wait(self, ticket)?;
        }
        Ok(batch)
    }
}

/// A batch applied inside the transaction, waiting for its commit.
struct Applied {
    uidvalidity: u32,
    uids: Vec<u32>,
    flags: Vec<Vec<String>>,
    modseq: u64,
    /// The first UID its claim of recent messages took, if it asked.
    first_recent: Option<u32>,
    moved: Vec<PathBuf>,
    /// Messages and bytes it journaled.
    journaled: (u64, u64),
}

/// A folder the transaction appends to: its directory, the stamp change
/// to record, and whether a file was renamed into it (an unjournaled
/// message's, so `cur/` needs an fsync).
struct Folder {
    dir: PathBuf,
    own: Option<OwnChange>,
    fsync: bool,
}

/// Commits `batches` in one transaction; one answer per batch, in order,
/// with the commit's number for the sync that must make it durable
/// before any is acknowledged.
fn commit_together(
    store: &Store,
    conn: &mut rusqlite::Connection,
    batches: Vec<Vec<StagedMessage>>,
) -> Vec<Result<Committed>> {
    let count = batches.len();
    let mut tx = match begin_write(conn) {
        Ok(tx) => tx,
        Err(e) => return vec_of(&e, count),
    };
    let mut applied: Vec<Result<Applied>> = Vec::with_capacity(count);
    let mut folders: HashMap<i64, Folder> = HashMap::new();
    for staged in batches {
        if count == 1 {
            // Alone, a batch needs no savepoint (whose statement journal
            // copies every page it touches): if it fails, the whole
            // transaction is rolled back as it is dropped.
            let mut moved = Vec::new();
            match apply(store, &tx, staged, &mut folders, &mut moved) {
                Ok(a) => applied.push(Ok(a)),
                Err(e) => {
                    drop(tx);
                    remove(&moved);
                    return vec![Err(e)];
                }
            }
            continue;
        }
        let result = match tx.savepoint().ctx("starting an append's savepoint") {
            Ok(sp) => {
                let mut moved = Vec::new();
                match apply(store, &sp, staged, &mut folders, &mut moved) {
                    Ok(a) => match sp.commit().ctx("ending an append's savepoint") {
                        Ok(()) => Ok(a),
                        Err(e) => {
                            remove(&a.moved);
                            Err(e)
                        }
                    },
                    Err(e) => {
                        // Rolled back as it is dropped; its files go too.
                        drop(sp);
                        remove(&moved);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        };
        applied.push(result);
    }
    let journaled = applied
        .iter()
        .flatten()
        .fold((0, 0), |(c, b), a| (c + a.journaled.0, b + a.journaled.1));
    // Durable: the renames of unjournaled messages, then the index with
    // the journaled bytes.
    let shared = (|| {
        for f in folders.values().filter(|f| f.fsync) {
            maildir::fsync_dir(&f.dir.join("cur"))?;
        }
        for f in folders.values_mut() {
            if let Some(own) = f.own.take() {
                own.record(&tx)?;
            }
        }
        tx.commit().ctx("committing appends")
    })();
    match shared {
        Ok(()) => {
            // Numbered while the write lock is held: the sync that makes
            // the journaled bytes durable runs after it is released
            // (committed already: a failed sync leaves rows and files,
            // and answers an error).
            let ticket = (journaled.0 > 0).then(|| store.inner.durable.committed());
            store.inner.journal.noted(store, journaled.0, journaled.1);
            applied
                .into_iter()
                .map(|a| {
                    a.map(|a| {
                        let batch = AppendedBatch {
                            uidvalidity: a.uidvalidity,
                            uids: a.uids,
                            flags: a.flags,
                            modseq: a.modseq,
                            replaced: None,
                            first_recent: a.first_recent,
                        };
                        (batch, ticket)
                    })
                })
                .collect()
        }
        Err(e) => {
            for a in applied.iter().flatten() {
                remove(&a.moved);
            }
            vec_of(&e, count)
        }
    }
}

/// One batch's renames and rows, inside its savepoint.
fn apply(
    store: &Store,
    conn: &rusqlite::Connection,
    mut staged: Vec<StagedMessage>,
    folders: &mut HashMap<i64, Folder>,
    moved: &mut Vec<PathBuf>,
) -> Result<Applied> {
    let target = target_of(&staged)?;
    let mut dst = index::mailbox_row(conn, &target)?;
    let count = u32::try_from(staged.len()).unwrap_or(u32::MAX);
    if dst.uidnext.checked_add(count).is_none_or(|n| n == u32::MAX) {
        return Err(StoreError::out_of_uids(&dst.name));
    }
    let dir = names::mailbox_dir(store.root(), &dst.name);
    let folder = folders.entry(dst.id).or_insert_with(|| Folder {
        dir: dir.clone(),
        own: None,
        fsync: false,
    });
    // Only a message too big for the journal has a file to rename now;
    // the stamp is read before the first rename into this folder in the
    // transaction.
    if staged.iter().any(|m| m.body.is_none()) && !folder.fsync {
        folder.own = Some(OwnChange::begin(conn, dst.id, &dir)?);
        folder.fsync = true;
    }
    move_into(&mut staged, &dir.join("cur"), moved)?;
    let (uids, flags) = insert_rows(conn, &mut dst, &staged)?;
    let first_recent = crate::recent::claim_for_append(conn, &dst, &staged, &uids)?;
    check_cap(store, conn, &staged)?;
    let journaled = journal_rows(conn, dst.id, &staged, &uids)?;
    Ok(Applied {
        uidvalidity: dst.uidvalidity,
        uids,
        flags,
        modseq: dst.highestmodseq,
        first_recent,
        moved: std::mem::take(moved),
        journaled,
    })
}

/// Removes message files of batches that were not committed: not
/// acknowledged, so not kept.
fn remove(paths: &[PathBuf]) {
    for path in paths {
        if let Err(e) = fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e,
                "unindexed message file of a failed append could not be removed");
        }
    }
}

/// `e` as the answer of each of `count` batches.
fn vec_of(e: &StoreError, count: usize) -> Vec<Result<Committed>> {
    (0..count).map(|_| Err(each(e))).collect()
}

/// A copy of a failure shared by every batch of a commit, keeping the
/// kinds callers tell apart (no space, over quota, a busy index).
fn each(e: &StoreError) -> StoreError {
    match e {
        StoreError::NoSpace { context } => StoreError::NoSpace {
            context: context.clone(),
        },
        StoreError::OverQuota { context } => StoreError::OverQuota {
            context: context.clone(),
        },
        StoreError::TooBig { context } => StoreError::TooBig {
            context: context.clone(),
        },
        StoreError::Sqlite {
            context,
            source: rusqlite::Error::SqliteFailure(code, message),
        } => StoreError::Sqlite {
            context: context.clone(),
            source: rusqlite::Error::SqliteFailure(*code, message.clone()),
        },
        StoreError::Io { context, source } => StoreError::Io {
            context: context.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => StoreError::Io {
            context: "committing appends".into(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

//! Shared mode (DESIGN §1): one storage process, running as an
//! unprivileged uid of its own with CAP_SETUID and CAP_SETGID kept on one
//! thread, serves owners of many uids. Every piece of store work of an owner runs on an OS
//! thread dedicated to that owner's uid, whose file-system credentials
//! (fsuid, fsgid) were set for that thread alone with the thread-level
//! calls when it started, and never change. So files are
//! created and checked as the owner, and no tokio worker or blocking-pool
//! thread ever changes credentials; nothing process-wide changes either.
//!
//! The worker threads are started by the spawner thread (`spawner.rs`),
//! the only one that keeps CAP_SETUID and CAP_SETGID; each worker inherits
//! the two, takes its owner's credentials, and then drops every
//! capability and puts itself under a seccomp filter that refuses any
//! further credential change before it runs any work.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use nix::unistd::{Gid, Uid, setfsgid, setfsuid};
use tokio::sync::oneshot;

use crate::spawner::CredentialSpawner;
use crate::thread_caps::drop_thread_capabilities;

/// Threads per uid: how many calls of one uid's owners run at once.
const THREADS_PER_UID: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

/// Why work could not run as an owner.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CredsError {
    /// Root's mail is never served, not even in shared mode.
    #[error("refusing to serve uid 0")]
    Root,
    /// The process's own uid or gid: its request-decoding threads have
    /// it, so an owner with it would have no thread boundary.
    #[error("refusing to serve {uid}:{gid}, the storage process's own uid or gid")]
    OwnIds {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
    /// The worker thread could not be started or could not take the
    /// owner's credentials.
    #[error("worker thread for uid {uid}: {reason}")]
    Worker {
        /// The uid.
        uid: u32,
        /// Why.
        reason: String,
    },
    /// The work panicked.
    #[error("store work panicked")]
    Panicked,
}

/// A pool of threads that run as one uid/gid.
struct UidPool {
    jobs: Mutex<Sender<Job>>,
}

/// The pools of every uid this process serves, made on first use.
pub(crate) struct CredentialPools {
    pools: Mutex<HashMap<(u32, u32), Arc<UidPool>>>,
    spawner: CredentialSpawner,
}

impl CredentialPools {
    /// No pool yet; workers will be started by `spawner`.
    pub(crate) fn new(spawner: CredentialSpawner) -> CredentialPools {
        CredentialPools {
            pools: Mutex::default(),
            spawner,
        }
    }

    /// Runs `work` on a thread whose file-system credentials are `uid`/`gid`
    /// and returns its result.
    pub(crate) async fn run<T, F>(&self, uid: u32, gid: u32, work: F) -> Result<T, CredsError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.spawn(uid, gid, move || {
            let outcome = catch_unwind(AssertUnwindSafe(work));
            let _ = tx.send(outcome);
        })?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(CredsError::Panicked),
            Err(_) => Err(CredsError::Worker {
                uid,
                reason: "the worker thread went away".into(),
            }),
        }
    }

    /// Starts `work` on a thread of `uid`/`gid` without waiting for it
    /// (for streaming work that feeds a channel).
    pub(crate) fn spawn<F>(&self, uid: u32, gid: u32, work: F) -> Result<(), CredsError>
    where
        F: FnOnce() + Send + 'static,
    {
        let pool = self.pool(uid, gid)?;
        // A panic ends the work, not the worker: the pool keeps its threads
        // (the work's own guards answer whoever waited for it).
        let work = move || {
            if catch_unwind(AssertUnwindSafe(work)).is_err() {
                tracing::error!(uid, "store work panicked");
            }
        };
        let sent = match pool.jobs.lock() {
            Ok(jobs) => jobs.send(Box::new(work)),
            Err(poisoned) => poisoned.into_inner().send(Box::new(work)),
        };
        sent.map_err(|_| CredsError::Worker {
            uid,
            reason: "no worker thread could take the owner's credentials".into(),
        })
    }

    fn pool(&self, uid: u32, gid: u32) -> Result<Arc<UidPool>, CredsError> {
        if uid == 0 || gid == 0 {
            return Err(CredsError::Root);
        }
        if uid == nix::unistd::getuid().as_raw() || gid == nix::unistd::getgid().as_raw() {
            return Err(CredsError::OwnIds { uid, gid });
        }
        let mut pools = match self.pools.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(pool) = pools.get(&(uid, gid)) {
            return Ok(Arc::clone(pool));
        }
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..THREADS_PER_UID {
            let rx = Arc::clone(&rx);
            self.spawner
                .spawn(
                    format!("uid-{uid}-{i}"),
                    Box::new(move || worker(uid, gid, &rx)),
                )
                .map_err(|reason| CredsError::Worker { uid, reason })?;
        }
        let pool = Arc::new(UidPool {
            jobs: Mutex::new(tx),
        });
        pools.insert((uid, gid), Arc::clone(&pool));
        Ok(pool)
    }
}

/// A worker: takes the owner's credentials for this thread, drops every
/// capability, then runs jobs until the pool is dropped. A thread that
/// cannot do both runs nothing.
fn worker(uid: u32, gid: u32, jobs: &Mutex<Receiver<Job>>) {
    if let Err(reason) = take_credentials(uid, gid) {
        tracing::error!(uid, gid, %reason, "worker thread cannot take the owner's credentials");
        return;
    }
    if let Err(e) = drop_thread_capabilities() {
        tracing::error!(uid, gid, error = %e, "worker thread cannot drop its capabilities");
        return;
    }
    // It still could set its fsuid back to its real uid (the process's,
    // whose threads decode requests), or its groups: no longer.
    if let Err(e) = mailkeep_sandbox::lock_thread_credentials() {
        tracing::error!(uid, gid, error = %e, "worker thread cannot lock its credentials");
        return;
    }
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Sets this thread's fsgid and fsuid, and checks that they took. Its
/// supplementary groups stay the process's (its own gid alone, which no
/// owner has: `pool` refuses it), so no thread ever calls `setgroups`
/// and the process's filter forbids it.
fn take_credentials(uid: u32, gid: u32) -> Result<(), String> {
    setfsgid(Gid::from_raw(gid));
    setfsuid(Uid::from_raw(uid));
    // Both calls return the previous value: calling again reads it back.
    let (fsgid, fsuid) = (setfsgid(Gid::from_raw(gid)), setfsuid(Uid::from_raw(uid)));
    if fsuid.as_raw() != uid || fsgid.as_raw() != gid {
        return Err(format!(
            "file-system credentials are {}:{} instead of {uid}:{gid}",
            fsuid.as_raw(),
            fsgid.as_raw()
        ));
    }
    Ok(())
}

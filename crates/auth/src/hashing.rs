//! The gate every password hash goes through. Deliberately slow hashes
//! (argon2 takes ~19 MiB and tens of milliseconds each) must not let a
//! burst of logins take every core and all memory: at most `workers`
//! hashes run at once (about one per core), at most `queue` more wait, and
//! a login beyond that is shed at once with a temporary failure, which the
//! client sees as "try again" (IMAP `NO [UNAVAILABLE]`) rather than as
//! wrong credentials. The hashes run on `workers` threads of their own,
//! not on tokio's blocking pool: glibc gives each thread its own heap
//! arena and keeps a freed argon2 block there for that thread's next use,
//! so hashes spread over dozens of pool threads held 19 MiB each (a burst
//! of 45 logins grew auth to nearly 1 GiB, for good). On a few fixed
//! threads the blocks are reused, and when the last hash of a burst ends
//! the heap's free pages go back to the system. Each hashing thread also
//! keeps its argon2 block from one hash to the next while jobs are queued
//! and frees it when the queue is empty (see `argon2_memory`): allocated
//! per hash, the blocks of a burst did not fit each other's holes, and the
//! peak grew by a block per admitted login instead of per worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

/// Why a job did not run to its end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GateError {
    /// Every worker is busy and the queue is full: the caller answers
    /// with a temporary failure.
    #[error("password hashing is saturated ({0} running or waiting)")]
    Busy(usize),
    /// The job panicked, or no hashing thread could be started.
    #[error("password hashing failed: {0}")]
    Task(&'static str),
}

/// How many hashes run at once and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes running at once; 0: one per core.
    pub workers: usize,
    /// Hashes waiting for a worker; more are shed.
    pub queue: usize,
}

impl Default for HashLimits {
    /// One worker per core, 16 waiting.
    fn default() -> Self {
        HashLimits {
            workers: 0,
            queue: 16,
        }
    }
}

impl HashLimits {
    /// The number of workers, with 0 resolved to the number of cores.
    pub fn resolved_workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism()
            .map(std::num::NonZeroUsize::get)
            .unwrap_or(1)
    }
}

/// Counters of the gate, for tests and logs.
#[derive(Debug, Default)]
pub(crate) struct GateCounters {
    /// Jobs running now.
    pub(crate) running: AtomicUsize,
    /// The most jobs that ever ran at once.
    pub(crate) peak: AtomicUsize,
    /// Jobs started since the gate was made.
    pub(crate) started: AtomicUsize,
    /// Jobs shed because the queue was full.
    pub(crate) shed: AtomicUsize,
    /// Times the heap was trimmed after a burst.
    pub(crate) trims: AtomicUsize,
    /// Times a hashing thread allocated argon2 memory (or grew it).
    pub(crate) memory_allocations: AtomicUsize,
    /// Hashing threads that keep argon2 memory now.
    pub(crate) memory_holders: AtomicUsize,
    /// The most hashing threads that ever kept argon2 memory at once.
    pub(crate) memory_holders_peak: AtomicUsize,
}

impl GateCounters {
    /// Notes that a job on this hashing thread went from `before` to
    /// `after` kept argon2 blocks.
    fn note_memory(&self, before: usize, after: usize) {
        if after > before {
            self.memory_allocations.fetch_add(1, Ordering::Relaxed);
            if before == 0 {
                let holders = self.memory_holders.fetch_add(1, Ordering::AcqRel) + 1;
                self.memory_holders_peak
                    .fetch_max(holders, Ordering::AcqRel);
            }
        }
    }

    /// Frees this idle hashing thread's argon2 memory and hands the freed
    /// pages back to the system.
    fn release_memory(&self) {
        if crate::argon2_memory::release() {
            mailkeep_storage_rpc::fd::return_free_memory();
            self.trims.fetch_add(1, Ordering::AcqRel);
            self.memory_holders.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A job for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// The bounded pool that runs password hashes.
#[derive(Debug)]
pub(crate) struct HashGate {
    /// Jobs for the hashing threads; `None` when none could be started.
    jobs: Option<Mutex<mpsc::Sender<Job>>>,
    /// Jobs admitted (running or waiting).
    admitted: Arc<AtomicUsize>,
    /// Jobs sent to the hashing threads and not yet taken by one.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    counters: Arc<GateCounters>,
}

impl HashGate {
    /// A gate with `limits`.
    pub(crate) fn new(limits: HashLimits) -> HashGate {
        let workers = limits.resolved_workers().max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicUsize::new(0));
        let counters = Arc::new(GateCounters::default());
        let mut started = 0;
        for n in 0..workers {
            let receiver = Arc::clone(&receiver);
            let queued = Arc::clone(&queued);
            let counters = Arc::clone(&counters);
            let spawned = std::thread::Builder::new()
                .name(format!("auth-hash-{n}"))
                .spawn(move || {
                    crate::argon2_memory::keep_on_this_thread();
                    loop {
                        // Nothing waits: the kept block is not needed now.
                        if queued.load(Ordering::Acquire) == 0 {
                            counters.release_memory();
                        }
                        // Only the receiving end lives here; a panic in a job
                        // is caught below, so the lock is never poisoned in use.
                        let job = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => {
                                queued.fetch_sub(1, Ordering::AcqRel);
                                job();
                            }
                            Err(_) => return, // the gate is gone
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "cannot start a password hashing thread"),
            }
        }
        HashGate {
            jobs: (started > 0).then(|| Mutex::new(sender)),
            admitted: Arc::new(AtomicUsize::new(0)),
            queued,
            capacity: workers + limits.queue,
            counters,
        }
    }

    /// The counters.
    #[cfg(test)]
    pub(crate) fn counters(&self) -> &GateCounters {
        &self.counters
    }

    /// Runs `job` on a blocking thread once a worker is free, or refuses
    /// at once when the queue is full.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            admitted: Arc::clone(&self.admitted),
            counters: Arc::clone(&self.counters),
        };
        if before >= self.capacity {
            self.counters.shed.fetch_add(1, Ordering::Relaxed);
            drop(admission);
            return Err(GateError::Busy(before));
        }
        let Some(jobs) = &self.jobs else {
            return Err(GateError::Task("no password hashing thread is running"));
        };
        let counters = Arc::clone(&self.counters);
        let (reply, result) = tokio::sync::oneshot::channel();
        let wrapped: Job = Box::new(move || {
            let running = counters.running.fetch_add(1, Ordering::AcqRel) + 1;
            counters.peak.fetch_max(running, Ordering::AcqRel);
            counters.started.fetch_add(1, Ordering::Relaxed);
            let kept = crate::argon2_memory::kept_blocks();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            counters.note_memory(kept, crate::argon2_memory::kept_blocks());
            counters.running.fetch_sub(1, Ordering::AcqRel);
            // The caller may have given up; the result is then dropped.
            let _ = reply.send(out);
        });
        self.queued.fetch_add(1, Ordering::AcqRel);
        let sent = jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(wrapped);
        if sent.is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(GateError::Task("the password hashing threads are gone"));
        }
        // Waited for on a blocking thread, not as a future: tokio then knows
        // work is in flight, so a paused clock (session tests) does not
        // jump ahead while a hash runs on a thread it does not see. The
        // waiting thread holds no hash memory.
        let result = tokio::task::spawn_blocking(move || result.blocking_recv()).await;
        drop(admission);
        let Ok(result) = result else {
            return Err(GateError::Task("waiting for a password hash failed"));
        };
        match result {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(_)) => Err(GateError::Task("a password check panicked")),
            Err(_) => Err(GateError::Task("a password hashing thread stopped")),
        }
    }
}

/// One admitted job; when the last of a burst leaves (also when its caller
/// gave up while it waited), the heap is trimmed.
struct Admission {
    admitted: Arc<AtomicUsize>,
    counters: Arc<GateCounters>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.admitted.fetch_sub(1, Ordering::AcqRel) == 1 {
            let counters = Arc::clone(&self.counters);
            // Trimming walks the heap; off the async threads. Outside a
            // runtime (never in the auth process) memory is just kept.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(move || {
                    mailkeep_storage_rpc::fd::return_free_memory();
                    counters.trims.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_workers_at_once_and_sheds_beyond_the_queue() {
        let gate = Arc::new(HashGate::new(HashLimits {
            workers: 2,
            queue: 3,
        }));
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let (entered_tx, entered) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut jobs = Vec::new();
        for _ in 0..5 {
            let gate = Arc::clone(&gate);
            let held = Arc::clone(&held);
            let entered_tx = entered_tx.clone();
            jobs.push(tokio::spawn(async move {
                gate.run(move || {
                    let _ = entered_tx.send(());
                    // Wait until the test lets one job go.
                    let _ = held.lock().unwrap().recv();
                })
                .await
            }));
        }
        let mut entered = entered;
        entered.recv().await.unwrap();
        entered.recv().await.unwrap();
        // Two run, three wait: the queue is full and the next is shed.
        while gate.admitted.load(Ordering::Acquire) < 5 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.run(|| ()).await, Err(GateError::Busy(5))));
        assert_eq!(gate.counters().running.load(Ordering::Acquire), 2);
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let counters = gate.counters();
        assert_eq!(counters.peak.load(Ordering::Acquire), 2);
        assert_eq!(counters.started.load(Ordering::Acquire), 5);
        assert_eq!(counters.shed.load(Ordering::Acquire), 1);
        // The burst is over: the gate takes work again.
        gate.run(|| ()).await.unwrap();
    }

    /// An argon2id record (m=256 KiB) of the password "password".
    const ARGON: &str = "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$\
        nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";

    /// `workers` jobs hold every hashing thread while `checks` wrong-password
    /// argon2 checks queue behind them; then all run. Returns the gate.
    async fn burst_of_argon2_checks(workers: usize, checks: usize) -> Arc<HashGate> {
        let gate = Arc::new(HashGate::new(HashLimits {
            workers,
            queue: checks,
        }));
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (gate, held) = (Arc::clone(&gate), Arc::clone(&held));
            jobs.spawn(async move {
                gate.run(move || held.lock().unwrap().recv().map(|()| false).unwrap())
                    .await
            });
        }
        while gate.counters().running.load(Ordering::Acquire) < workers {
            tokio::task::yield_now().await;
        }
        for _ in 0..checks {
            let gate = Arc::clone(&gate);
            jobs.spawn(async move {
                gate.run(|| crate::scheme::verify_password(ARGON, b"wrong").unwrap())
                    .await
            });
        }
        // Every check is admitted and waits before any runs.
        while gate.admitted.load(Ordering::Acquire) < workers + checks {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            gate.counters().memory_allocations.load(Ordering::Acquire),
            0
        );
        for _ in 0..workers {
            release.send(()).unwrap();
        }
        while let Some(job) = jobs.join_next().await {
            assert!(!job.unwrap().unwrap(), "a wrong password matched");
        }
        gate
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_argon2_checks_share_one_block_per_hashing_thread() {
        // One worker, four waiting (the bench's hash_workers = 1,
        // hash_queue = 4): the block is allocated once, not per login.
        let gate = burst_of_argon2_checks(1, 4).await;
        let counters = gate.counters();
        assert_eq!(counters.started.load(Ordering::Acquire), 5);
        assert_eq!(counters.memory_allocations.load(Ordering::Acquire), 1);
        assert_eq!(counters.memory_holders_peak.load(Ordering::Acquire), 1);
        // The queue is empty: the block is freed (waited for, not timed).
        while counters.memory_holders.load(Ordering::Acquire) > 0 {
            tokio::task::yield_now().await;
        }
        assert!(counters.trims.load(Ordering::Acquire) >= 1);

        // Two workers, twelve waiting: at most one block per worker.
        let gate = burst_of_argon2_checks(2, 12).await;
        let counters = gate.counters();
        assert_eq!(counters.started.load(Ordering::Acquire), 14);
        assert!(counters.memory_allocations.load(Ordering::Acquire) <= 2);
        assert!(counters.memory_holders_peak.load(Ordering::Acquire) <= 2);
    }
}

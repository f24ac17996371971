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
//! the heap's free pages go back to the system.

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
    capacity: usize,
    counters: Arc<GateCounters>,
}

impl HashGate {
    /// A gate with `limits`.
    pub(crate) fn new(limits: HashLimits) -> HashGate {
        let workers = limits.resolved_workers().max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = 0;
        for n in 0..workers {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("auth-hash-{n}"))
                .spawn(move || {
                    loop {
                        // Only the receiving end lives here; a panic in a job
                        // is caught below, so the lock is never poisoned in use.
                        let job = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
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
            capacity: workers + limits.queue,
            counters: Arc::new(GateCounters::default()),
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
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            counters.running.fetch_sub(1, Ordering::AcqRel);
            // The caller may have given up; the result is then dropped.
            let _ = reply.send(out);
        });
        let sent = jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(wrapped);
        if sent.is_err() {
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
}

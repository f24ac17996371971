//! Waiting on child processes by their events rather than by polling:
//! their output as it arrives (pipes copied into log files by threads that
//! signal each write and the pipe's end), and their exit (a thread blocked
//! in `wait`).

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the copying threads have done: how many writes so far, and how
/// many pipes are still open.
#[derive(Debug, Default)]
struct Copied {
    writes: u64,
    open: usize,
}

/// Signals from the threads that copy a process's pipes into files.
#[derive(Debug, Default)]
pub struct OutputWatch {
    copied: Mutex<Copied>,
    changed: Condvar,
}

impl OutputWatch {
    /// Copies everything from `pipe` into a new file at `path`, on a
    /// thread, until every writer has closed the pipe; each write and the
    /// end are signalled.
    pub fn copy_to_file(self: &Arc<Self>, pipe: Option<impl Read + Send + 'static>, path: &Path) {
        let mut file = fs::File::create(path).expect("creating a log file");
        let Some(mut pipe) = pipe else { return };
        self.update(|c| c.open += 1);
        let watch = Arc::clone(self);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if file.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        watch.update(|c| c.writes += 1);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            watch.update(|c| c.open -= 1);
        });
    }

    fn update(&self, f: impl FnOnce(&mut Copied)) {
        f(&mut self.copied.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_all();
    }

    /// Calls `check` now and after every write until it returns `Some`;
    /// `None` once `timeout` passes or every pipe has closed without it.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut copied = self.copied.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let seen = copied.writes;
            let open = copied.open;
            // Checked without the lock, so the copiers are not held up.
            drop(copied);
            if let Some(v) = check() {
                return Some(v);
            }
            if open == 0 {
                return None;
            }
            copied = self.copied.lock().unwrap_or_else(PoisonError::into_inner);
            while copied.writes == seen && copied.open > 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                copied = self
                    .changed
                    .wait_timeout(copied, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
    }

    /// Waits until every pipe has closed (every process holding one has
    /// exited), so the log files are complete. False after `timeout`.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let copied = self.copied.lock().unwrap_or_else(PoisonError::into_inner);
        let (_copied, result) = self
            .changed
            .wait_timeout_while(copied, timeout, |c| c.open > 0)
            .unwrap_or_else(PoisonError::into_inner);
        !result.timed_out()
    }
}

/// A child process reaped by a thread blocked in `wait`, so that its exit
/// is an event to wait on.
pub struct Exit {
    pid: i32,
    reaped: Receiver<io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
}

impl Exit {
    /// Hands `child` to a thread that waits for it.
    pub fn watch(mut child: Child) -> Exit {
        let pid = child.id() as i32;
        let (tx, reaped) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        Exit {
            pid,
            reaped,
            status: None,
        }
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its exit status if it has exited (without waiting).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(r) = self.reaped.try_recv()
        {
            self.status = Some(r.expect("waiting for a child"));
        }
        self.status
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.reaped.recv_timeout(timeout) {
                Ok(r) => self.status = Some(r.expect("waiting for a child")),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => panic!("the waiting thread is gone"),
            }
        }
        self.status
    }

    /// Sends `sig` unless it has been reaped already (its pid may then
    /// belong to another process).
    pub fn signal(&mut self, sig: nix::sys::signal::Signal) {
        if self.try_status().is_none() {
            super::signal(self.pid, sig);
        }
    }
}

/// Waits for `child` (with piped stdout/stderr) to finish within `timeout`;
/// kills it and panics otherwise.
pub fn wait_output(mut child: Child, timeout: Duration) -> std::process::Output {
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut s) = pipe {
                let _ = s.read_to_end(&mut v);
            }
            v
        })
    };
    let out = read_all(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read_all(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let mut exit = Exit::watch(child);
    let Some(status) = exit.wait_timeout(timeout) else {
        exit.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = exit.wait_timeout(timeout);
        panic!(
            "child process did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.join().unwrap_or_default()),
            String::from_utf8_lossy(&err.join().unwrap_or_default())
        );
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

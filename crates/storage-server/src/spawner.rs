//! The one thread of a shared-mode storage process that keeps CAP_SETUID
//! and CAP_SETGID: it starts the per-uid worker threads (which inherit the
//! two from it, take their owner's file-system credentials, and then drop
//! every capability), and does nothing else. It reads no request and
//! touches no file, so a bug in request decoding, which runs on threads
//! without capabilities, cannot reach it except through the one message it
//! takes: "start workers for this uid/gid" (and uid 0 is refused before
//! that).

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use crate::thread_caps::{CapsError, SWITCH_CAPS, drop_thread_capabilities, shrink_to};

/// Starts worker threads for the credential pools (see `creds.rs`).
#[derive(Clone)]
pub struct CredentialSpawner {
    requests: Sender<SpawnRequest>,
}

impl std::fmt::Debug for CredentialSpawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSpawner")
    }
}

/// A thread body the spawner starts, with its name.
pub(crate) struct SpawnRequest {
    /// The thread's name (`uid-5000-3`).
    pub(crate) name: String,
    /// What it runs.
    pub(crate) body: Box<dyn FnOnce() + Send>,
    /// Whether it started.
    pub(crate) started: SyncSender<Result<(), String>>,
}

/// The spawner thread's name, as `/proc/PID/task/TID/comm` shows it.
pub const SPAWNER_THREAD: &str = "cred-spawner";

/// Shrinks the calling process to what shared mode needs and starts the
/// spawner: the bounding set keeps only CAP_SETUID and CAP_SETGID, the
/// spawner thread holds those two, and the calling thread (and so every
/// thread it starts later, the runtime's included) holds none. Call it as
/// root, after privileges were dropped and before any other thread exists.
pub fn prepare_shared_mode() -> Result<CredentialSpawner, CapsError> {
    shrink_to(SWITCH_CAPS)?;
    let (tx, rx) = channel::<SpawnRequest>();
    let started = std::thread::Builder::new()
        .name(SPAWNER_THREAD.into())
        .spawn(move || serve(&rx));
    if let Err(e) = started {
        return Err(CapsError::thread("starting the spawner thread", e));
    }
    drop_thread_capabilities()?;
    Ok(CredentialSpawner { requests: tx })
}

impl CredentialSpawner {
    /// Starts `body` on a new thread named `name` that holds CAP_SETUID and
    /// CAP_SETGID (and must drop them once it took its credentials), and
    /// waits until it started.
    pub(crate) fn spawn(&self, name: String, body: Box<dyn FnOnce() + Send>) -> Result<(), String> {
        let (started, reply) = sync_channel(1);
        self.requests
            .send(SpawnRequest {
                name,
                body,
                started,
            })
            .map_err(|_| "the spawner thread is gone".to_owned())?;
        reply
            .recv()
            .map_err(|_| "the spawner thread is gone".to_owned())?
    }
}

/// The spawner's loop: starts each requested thread until every
/// [`CredentialSpawner`] is dropped.
fn serve(requests: &Receiver<SpawnRequest>) {
    while let Ok(request) = requests.recv() {
        let outcome = std::thread::Builder::new()
            .name(request.name)
            .spawn(request.body)
            .map(drop)
            .map_err(|e| e.to_string());
        let _ = request.started.send(outcome);
    }
}

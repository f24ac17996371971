//! How a shared-mode storage process starts: as root, it becomes its own
//! unprivileged uid and gid (real, effective and saved) keeping only
//! CAP_SETUID and CAP_SETGID ([`become_shared_user`]); then one thread,
//! the spawner, keeps those two and every other thread drops them
//! ([`prepare_shared_mode`]).
//!
//! The spawner starts the per-uid worker threads (which inherit the two
//! from it, take their owner's file-system credentials, and then drop
//! every capability), and does nothing else. It reads no request and
//! touches no file, so a bug in request decoding, which runs on threads
//! without capabilities, cannot reach it except through the one message it
//! takes: "start workers for this uid/gid" (and uid 0 is refused before
//! that). No thread is root: the decoding threads have the process's own
//! uid, which owns no file, and no capability.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use nix::unistd::{Gid, Uid, getresgid, getresuid, setgroups, setresgid, setresuid};

use crate::thread_caps::{
    CapsError, SWITCH_CAPS, drop_thread_capabilities, set_thread_caps, shrink_to,
};

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

/// Makes the calling process, started as root, run as `uid`/`gid` (real,
/// effective and saved; `gid` its only group) with CAP_SETUID and
/// CAP_SETGID alone left in its bounding, permitted and effective sets:
/// the bounding set is shrunk while it is still root, and
/// `PR_SET_KEEPCAPS` keeps the two permitted across the uid change (which
/// empties the effective set; it is raised back from the permitted one).
/// Call it before any other thread exists, and before the process's
/// seccomp filter (which forbids changing uids) is in place.
pub fn become_shared_user(uid: u32, gid: u32) -> Result<(), CapsError> {
    if uid == 0 || gid == 0 {
        return Err(CapsError::other(
            "becoming the shared-mode user",
            format!("{uid}:{gid} is root's"),
        ));
    }
    shrink_to(SWITCH_CAPS)?;
    let kernel = |step| move |e: nix::Error| CapsError::thread(step, e.into());
    rustix::thread::set_keep_capabilities(true)
        .map_err(|e| CapsError::thread("PR_SET_KEEPCAPS", e.into()))?;
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
    setgroups(&[g]).map_err(kernel("setgroups"))?;
    setresgid(g, g, g).map_err(kernel("setresgid"))?;
    setresuid(u, u, u).map_err(kernel("setresuid"))?;
    // Later uid changes are forbidden anyway (seccomp); none keeps more.
    rustix::thread::set_keep_capabilities(false)
        .map_err(|e| CapsError::thread("PR_SET_KEEPCAPS off", e.into()))?;
    let uids = getresuid().map_err(kernel("getresuid"))?;
    let gids = getresgid().map_err(kernel("getresgid"))?;
    if [uids.real, uids.effective, uids.saved] != [u; 3]
        || [gids.real, gids.effective, gids.saved] != [g; 3]
    {
        return Err(CapsError::other(
            "checking the shared-mode user",
            format!("uids {uids:?}, gids {gids:?} instead of {uid}:{gid}"),
        ));
    }
    set_thread_caps(SWITCH_CAPS)
}

/// Starts the spawner, the one thread that keeps CAP_SETUID and
/// CAP_SETGID, and drops every capability of the calling thread (and so
/// of every thread it starts later, the runtime's included). Call it after
/// [`become_shared_user`] and before any other thread exists.
pub fn prepare_shared_mode() -> Result<CredentialSpawner, CapsError> {
    // Also checks that the two are still permitted.
    set_thread_caps(SWITCH_CAPS)?;
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

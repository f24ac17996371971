//! Starting and keeping the two roles of the cluster's TCP+TLS links, the
//! storage gateway and the relay (DESIGN §1, §3): each runs as the
//! `[gateway]` uid (started as root), chrooted into the empty directory,
//! and gets the cluster TLS material from the master on a pipe, since it
//! cannot read the files itself. No other process gets that material.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::MasterError;
use crate::children::{ChildSpec, spawn};
use crate::gateway::LinkEnd;
use crate::serve::{Backoff, Shared};

/// The relay role's name (the other is `gateway`).
pub(crate) const RELAY: &str = "relay";

/// Starts `role` with `fds` (at their numbers) and `args`, adding the
/// configuration, the role's own TLS material (at `tls_fd`), whom to
/// become and the chroot. The child is registered for `admin ps` and shutdown.
pub(crate) fn start(
    shared: &Shared,
    role: &'static str,
    mut fds: Vec<(OwnedFd, RawFd)>,
    args: Vec<String>,
    tls_fd: RawFd,
) -> Result<tokio::process::Child, MasterError> {
    let end = if role == RELAY {
        LinkEnd::Relay
    } else {
        LinkEnd::Gateway
    };
    let material = crate::gateway::load_material(&shared.config, end)
        .map_err(|e| MasterError::Setup(e.to_string()))?;
    fds.push((crate::gateway::material_pipe(&material)?, tls_fd));
    let (uid, gid) = identity(shared);
    let mut all = shared.config_args();
    all.extend(args);
    all.extend([
        "--fd-tls".into(),
        tls_fd.to_string(),
        "--uid".into(),
        uid.to_string(),
        "--gid".into(),
        gid.to_string(),
    ]);
    if shared.prepared.privileged {
        all.extend([
            "--chroot".into(),
            shared.prepared.chroot.display().to_string(),
        ]);
    }
    let child = spawn(
        &shared.exe,
        ChildSpec {
            role,
            args: all,
            fds,
        },
    )?;
    let pid = child.id().unwrap_or(0);
    shared.live_add(pid, role, uid);
    tracing::info!(pid, role, uid, "started");
    Ok(child)
}

/// Whom the gateway and the relay run as: `[gateway] uid/gid` when the
/// master is root, else the master's own user (no separation then).
fn identity(shared: &Shared) -> (u32, u32) {
    if shared.prepared.privileged {
        (shared.config.gateway.uid, shared.config.gateway.gid)
    } else {
        (shared.prepared.protocol_uid, shared.prepared.protocol_gid)
    }
}

/// Runs `run_once` (start the role's process, serve it until it exits)
/// again and again with growing delays until the master stops.
pub(crate) async fn keep_running<F, Fut>(shared: Arc<Shared>, role: &'static str, mut run_once: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<std::process::ExitStatus, MasterError>>,
{
    let mut backoff = Backoff::new(&shared.config);
    while !shared.stopping.load(Ordering::SeqCst) {
        let started = Instant::now();
        match run_once().await {
            Ok(status) if !shared.stopping.load(Ordering::SeqCst) => {
                tracing::error!(role, "process exited: {status:?}; restarting");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(role, "starting: {e}"),
        }
        tokio::time::sleep(backoff.next(started.elapsed())).await;
    }
}

//! The protocol services (imap, pop3; lmtp next): each is a role
//! name, its listeners and a process count. The master starts and restarts
//! every process of every service, passes it the service's listening
//! sockets, its broker channel and its control channel, and over the
//! control channel hands it the TLS certificates at start and again
//! whenever the certificate files change.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mailkeep_frontend::ListenerSpec;
use mailkeep_frontend::control::write_message;
use mailkeep_storage_rpc::broker::{ProtocolControl, ServerCertificates, protocol_control};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::net::UnixStream;
use tokio::sync::Mutex as AsyncMutex;

use crate::MasterError;
use crate::certificates::CertificateWatch;
use crate::children::{ChildSpec, passed_pair, socket_pair, spawn};
use crate::listeners::BoundListener;
use crate::serve::{Backoff, Shared, fds};

/// How long the master waits for a protocol process to take a control
/// message before giving up on it (it is stuck; its supervisor will see).
const CONTROL_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// One protocol service.
#[derive(Debug)]
pub struct ProtocolService {
    /// The role its processes run (`mailkeep role <role>`).
    pub role: &'static str,
    /// Its listening sockets, shared by all its processes.
    pub listeners: Vec<BoundListener>,
    /// How many processes serve it.
    pub processes: u32,
}

/// Every protocol service, and what their running processes must get.
pub struct Protocols {
    services: Vec<Arc<ProtocolService>>,
    /// The certificates, and the control channels of the running protocol
    /// processes by pid. One lock, so that a process that starts while new
    /// certificates go out gets either them or the old ones and then them.
    state: AsyncMutex<ControlState>,
}

struct ControlState {
    certificates: ServerCertificates,
    channels: HashMap<u32, UnixStream>,
}

impl Protocols {
    /// The services, with the certificates they start with.
    pub fn new(services: Vec<ProtocolService>, certificates: ServerCertificates) -> Protocols {
        Protocols {
            services: services.into_iter().map(Arc::new).collect(),
            state: AsyncMutex::new(ControlState {
                certificates,
                channels: HashMap::new(),
            }),
        }
    }

    /// Hands `certificates` to every running protocol process, and to
    /// every one started from now on.
    pub async fn push_certificates(&self, certificates: ServerCertificates) {
        let mut state = self.state.lock().await;
        state.certificates = certificates;
        let message = certificates_message(&state.certificates);
        let generation = state.certificates.generation;
        let mut failed = Vec::new();
        for (pid, channel) in state.channels.iter_mut() {
            match send(channel, &message).await {
                Ok(()) => tracing::info!(pid, generation, "sent new TLS certificates"),
                Err(e) => {
                    tracing::warn!(pid, "could not send TLS certificates: {e}");
                    failed.push(*pid);
                }
            }
        }
        for pid in failed {
            state.channels.remove(&pid);
        }
    }
}

fn certificates_message(certificates: &ServerCertificates) -> ProtocolControl {
    ProtocolControl {
        kind: Some(protocol_control::Kind::Certificates(certificates.clone())),
    }
}

async fn send(channel: &mut UnixStream, message: &ProtocolControl) -> Result<(), String> {
    match tokio::time::timeout(CONTROL_SEND_TIMEOUT, write_message(channel, message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("not taken within {CONTROL_SEND_TIMEOUT:?}")),
    }
}

/// Starts every process of every service, each under its own supervisor.
pub fn start_all(shared: &Arc<Shared>, protocols: &Arc<Protocols>) {
    for service in &protocols.services {
        for index in 0..service.processes {
            tokio::spawn(supervise(
                Arc::clone(shared),
                Arc::clone(protocols),
                Arc::clone(service),
                index,
            ));
        }
    }
}

async fn supervise(
    shared: Arc<Shared>,
    protocols: Arc<Protocols>,
    service: Arc<ProtocolService>,
    index: u32,
) {
    let role = service.role;
    let mut backoff = Backoff::new(&shared.config);
    while !shared.stopping.load(Ordering::SeqCst) {
        let started = Instant::now();
        match start(&shared, &protocols, &service).await {
            Ok((mut child, client_id, broker)) => {
                let pid = child.id().unwrap_or(0);
                tracing::info!(pid, index, role, "started protocol process");
                let broker_task = tokio::spawn(crate::broker::serve_client(
                    Arc::clone(&shared),
                    client_id,
                    role,
                    broker,
                ));
                let status = child.wait().await;
                shared.live_remove(pid);
                protocols.state.lock().await.channels.remove(&pid);
                broker_task.abort();
                shared.storage.lock().await.forget_client(client_id);
                if !shared.stopping.load(Ordering::SeqCst) {
                    tracing::error!(
                        pid,
                        index,
                        role,
                        "protocol process exited: {status:?}; restarting"
                    );
                }
            }
            Err(e) => tracing::error!(role, "starting a protocol process: {e}"),
        }
        tokio::time::sleep(backoff.next(started.elapsed())).await;
    }
}

/// Starts one process of `service` and sends it the certificates.
async fn start(
    shared: &Arc<Shared>,
    protocols: &Protocols,
    service: &ProtocolService,
) -> Result<(tokio::process::Child, u64, QuietStream), MasterError> {
    let (broker, broker_theirs) = socket_pair()?;
    let (control, control_theirs) = passed_pair()?;
    // Its messages are written as a stream (certificates), not framed.
    let mut control = UnixStream::from_std(std::os::unix::net::UnixStream::from(control))
        .map_err(|e| MasterError::io("protocol control socket", e))?;
    let mut fds: Vec<(OwnedFd, i32)> = vec![
        (broker_theirs, fds::CHANNEL),
        (control_theirs, fds::PROTOCOL_CONTROL),
    ];
    let mut args = shared.config_args();
    args.extend([
        "--fd-broker".into(),
        fds::CHANNEL.to_string(),
        "--fd-control".into(),
        fds::PROTOCOL_CONTROL.to_string(),
    ]);
    for (number, l) in (fds::FIRST_LISTENER..).zip(&service.listeners) {
        let fd = l
            .socket
            .try_clone()
            .map_err(|e| MasterError::io("duplicating a listener", e))?;
        fds.push((fd, number));
        let spec = ListenerSpec {
            fd: number,
            kind: l.kind,
            name: l.name.clone(),
        };
        args.extend(["--listener".into(), spec.to_string()]);
    }
    args.extend([
        "--uid".into(),
        shared.prepared.protocol_uid.to_string(),
        "--gid".into(),
        shared.prepared.protocol_gid.to_string(),
    ]);
    if shared.prepared.privileged {
        args.extend([
            "--chroot".into(),
            shared.prepared.chroot.display().to_string(),
        ]);
    }
    let mut state = protocols.state.lock().await;
    let child = spawn(
        &shared.exe,
        ChildSpec {
            role: service.role,
            args,
            fds,
        },
    )?;
    let pid = child.id().unwrap_or(0);
    shared.live_add(pid, service.role, shared.prepared.protocol_uid);
    let client_id = shared.next_connection_id();
    shared.live_set_client(pid, client_id);
    // The first message: the process accepts no client before it has it.
    let message = certificates_message(&state.certificates);
    match send(&mut control, &message).await {
        Ok(()) => {
            state.channels.insert(pid, control);
        }
        Err(e) => tracing::warn!(pid, "could not send TLS certificates: {e}"),
    }
    Ok((child, client_id, broker))
}

/// Checks the certificate files every `tls.reload_check_secs` seconds (if
/// not 0) and at every SIGHUP, and pushes changed certificates to every
/// protocol process. `hangup` is the SIGHUP stream, made by the caller before
/// the protocol processes start, so that from then on a SIGHUP never
/// meets the default action (exit).
pub async fn watch_certificates(
    interval_secs: u64,
    mut watch: CertificateWatch,
    protocols: Arc<Protocols>,
    mut hangup: tokio::signal::unix::Signal,
) {
    let period = Duration::from_secs(interval_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let forced = tokio::select! {
            _ = tick.tick(), if interval_secs > 0 => false,
            got = hangup.recv() => {
                if got.is_none() {
                    return;
                }
                tracing::info!("SIGHUP: checking the TLS certificate files");
                true
            }
        };
        match watch.check(forced) {
            Ok(Some(certificates)) => {
                tracing::info!(
                    generation = certificates.generation,
                    "TLS certificate files changed; handing them to the protocol processes"
                );
                let certificates = certificates.clone();
                protocols.push_certificates(certificates).await;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(
                "TLS certificate files changed but are not usable; keeping the old ones: {e}"
            ),
        }
    }
}

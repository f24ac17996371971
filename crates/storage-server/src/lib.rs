//! The storage process (DESIGN §1, §4): serves the mail of its owners over
//! the storage RPC, on connections the master's broker hands over through
//! the control socket.
//!
//! Every call is checked before the store is touched: the ticket in the
//! call's metadata must verify with the public key of the host that issued
//! it (the trusted-host list; this process holds no signing key), belong to
//! a session not revoked, allow the call's scope, and be for an owner this
//! process serves. Store work runs on blocking
//! threads.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acl;
mod append;
mod batch;
mod body;
mod committer;
mod content;
mod convert;
mod creds;
mod expire;
mod fetch;
mod fetch_producer;
mod gate;
mod guest;
mod inflight;
mod maildrop;
mod metadata;
mod organize;
mod owned;
pub mod plugin;
pub use expire::AutoExpunge;
mod search;
mod search_program;
mod service;
mod spawner;
mod structure;
mod thread_caps;
mod tracked;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;

use mailkeep_storage_rpc::MAX_GRPC_MESSAGE;
use mailkeep_storage_rpc::broker::ControlMessage;
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{AddOwner, ControlReply, Load, StorageEvent, storage_event};
use mailkeep_storage_rpc::framing::{FrameError, recv_frame, send_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_storage_rpc::storage::storage_server::StorageServer;
use mailkeep_store::{AutoMailbox, Store, StoreError, Unopened};
use mailkeep_ticket::{SessionId, TrustedHosts};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

pub use spawner::{CredentialSpawner, SPAWNER_THREAD, become_shared_user, prepare_shared_mode};
pub use thread_caps::{CapsError, drop_thread_capabilities};

/// The directory under an owner's home that holds the Maildir++ root.
pub const MAILDIR: &str = "Maildir";

/// The first owner a storage process serves (`per-uid` and `shared` modes
/// add more as they attach).
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// The owner (user name) whose mail this process serves.
    pub owner: String,
    /// The owner's home; mail lives in `<home>/Maildir` unless `maildir`
    /// says otherwise.
    pub home: PathBuf,
    /// The Maildir++ root, when the users file names one (Dovecot's
    /// `userdb_mail=maildir:PATH`); the store's index lives in it, as
    /// Dovecot keeps its index files in the Maildir.
    pub maildir: Option<PathBuf>,
}

impl StorageSettings {
    /// The Maildir++ root of the owner's mail.
    pub fn maildir(&self) -> PathBuf {
        self.maildir
            .clone()
            .unwrap_or_else(|| self.home.join(MAILDIR))
    }
}

/// Why the storage process stopped.
#[derive(Debug, thiserror::Error)]
pub enum StorageServerError {
    /// An owner's store could not be opened.
    #[error("opening the store of {owner:?}: {source}")]
    Store {
        /// The owner.
        owner: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The control socket from the master failed (not a clean EOF).
    #[error("control socket: {0}")]
    Control(#[from] FrameError),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Shared mode: an owner's store could not be opened as the owner.
    #[error("opening the store of {owner:?} as its owner: {reason}")]
    Shared {
        /// The owner.
        owner: String,
        /// Why.
        reason: String,
    },
    /// A blocking task could not be run.
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The handler of SIGTERM could not be installed.
    #[error("SIGTERM handler: {0}")]
    Signal(#[source] std::io::Error),
}

/// The HTTP/2 window of each call this process receives (an Append's
/// message bytes): what a call whose writer waits for the disk may leave
/// buffered here, so a burst of appends over one connection stays bounded
/// per call while the connection's window is unbounded.
const RECEIVE_STREAM_WINDOW: u32 = 512 * 1024;

/// How many passed connections may wait for the gRPC server to take them.
const PENDING_CONNECTIONS: usize = 64;

/// Serves the Storage RPC for `settings.owner` until the control socket
/// closes (the master is gone), then returns `Ok`. Each `NewConnection`
/// frame on `control` carries a connected socket that is served at once;
/// the `trusted` hosts' keys verify the tickets of every call.
pub async fn serve(
    settings: StorageSettings,
    trusted: TrustedHosts,
    control: QuietStream,
) -> Result<(), StorageServerError> {
    serve_tuned(settings, Tuning::default(), trusted, control).await
}

/// Knobs of a storage process that the master sets from its configuration.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// A process whose oldest running call is older than this, while no
    /// call has finished for as long, reports itself busy, so that the
    /// broker sends new sessions elsewhere.
    pub busy_after: std::time::Duration,
    /// How often the index connections of owners that had no call since
    /// the last time are closed (see `Store::release_idle`).
    pub release_idle_every: std::time::Duration,
    /// Shared mode: the process runs as its own unprivileged uid and serves
    /// owners of many uids, each owner's store work on threads with the
    /// owner's file-system credentials.
    pub shared: Option<SharedMode>,
    /// Limits on each owner's METADATA entries.
    pub metadata: mailkeep_store::MetadataLimits,
    /// The mailboxes every owner gets (Drafts, Sent, ...), made when the
    /// owner's store is opened.
    pub auto_mailboxes: Vec<AutoMailbox>,
    /// Most mailboxes one owner may have, INBOX included (CREATE beyond
    /// it: `ErrorReason::Limit`).
    pub max_mailboxes: u64,
    /// The storage plugins the configuration enables.
    pub plugins: plugin::Plugins,
    /// The first owner's users-file extra fields, for the plugins.
    pub userdb: Vec<(String, String)>,
    /// Per-folder autoexpunge rules, applied to every owner served.
    pub autoexpunge: Vec<AutoExpunge>,
    /// How often the autoexpunge rules run (the first time at start).
    pub autoexpunge_every: std::time::Duration,
}

/// What a shared-mode storage process needs: the first owner's ids and
/// the thread that starts credential threads ([`prepare_shared_mode`]).
#[derive(Debug, Clone)]
pub struct SharedMode {
    /// The first owner's uid.
    pub uid: u32,
    /// The first owner's gid.
    pub gid: u32,
    /// Starts the per-uid worker threads.
    pub spawner: CredentialSpawner,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            busy_after: std::time::Duration::from_millis(500),
            release_idle_every: std::time::Duration::from_secs(30),
            shared: None,
            metadata: mailkeep_store::MetadataLimits::default(),
            auto_mailboxes: Vec::new(),
            max_mailboxes: 10_000,
            plugins: plugin::Plugins::default(),
            userdb: Vec::new(),
            autoexpunge: Vec::new(),
            autoexpunge_every: std::time::Duration::from_secs(3600),
        }
    }
}

/// How often the storage process looks for idle owners to release and
/// at its count of open files.
const RELEASE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// How often, and after how long without a call, owners are released
/// while more than [`OPEN_OWNERS`] are open. A login runs its calls
/// within milliseconds of each other; once it idles, what its owner holds
/// open is only cost. A storm of logins (a thousand within seconds, as
/// after a restart) kept hundreds of owners open at the one-second pace
/// (SQLite at 244 MB for 1,000 owners in IDLE), and the heap that peak
/// left behind stayed (see [`OPEN_OWNERS`]).
const CROWDED_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// Above this share of the open-file limit, owners idle for one check
/// are released at once (each open index takes two to seven descriptors;
/// a process serving thousands of owners would otherwise run out while
/// they log in).
const FILE_PRESSURE_PERCENT: u64 = 50;

/// Owners with open index connections above which those idle for
/// [`CROWDED_CHECK`] are released at once. An open index holds its SQLite
/// caches, schema and statements (about 250 KB with a writer and a
/// reader); when a thousand owners log in within the idle time, they
/// would all be open together, and the heap that peak leaves behind
/// stays: glibc cannot give back pages on which a few long-lived objects
/// (watchers, sessions) were placed among the freed caches. Measured with
/// 1,000 owners in IDLE: about 50 KB per owner kept that way. Busy owners
/// (a call in the last [`CROWDED_CHECK`]) stay open.
const OPEN_OWNERS: usize = 64;

/// How long owners must have been idle to be released at a tick, if any
/// are: while `crowded`, those idle for [`CROWDED_CHECK`], at every tick;
/// otherwise only at a full check (open files read, once per
/// [`RELEASE_CHECK`]): those idle for one check under file pressure, else
/// for `idle_for`.
fn sweep(
    full_check: bool,
    pressed: bool,
    crowded: bool,
    idle_for: std::time::Duration,
) -> Option<std::time::Duration> {
    if crowded {
        Some(CROWDED_CHECK)
    } else if !full_check {
        None
    } else if pressed {
        Some(RELEASE_CHECK)
    } else {
        Some(idle_for)
    }
}

/// Closes the index connections of owners idle for `idle_for` (see
/// [`gate::Gate::release_idle`]), or idle for one check when the process
/// holds more than [`FILE_PRESSURE_PERCENT`] of its open-file limit, or
/// for [`CROWDED_CHECK`] when more than [`OPEN_OWNERS`] owners are open.
/// An owner released costs a reopen (well under a millisecond) at its
/// next call.
async fn release_idle_stores(
    gate: std::sync::Arc<gate::Gate>,
    idle_for: std::time::Duration,
    file_pressure: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let mut tick = tokio::time::interval(CROWDED_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_full = tokio::time::Instant::now();
    let mut pressed = false;
    loop {
        tick.tick().await;
        let full_check = last_full.elapsed() >= RELEASE_CHECK;
        if full_check {
            last_full = tokio::time::Instant::now();
            // Reading /proc/self/fd takes milliseconds with thousands
            // open: not on the one async thread.
            pressed = tokio::task::spawn_blocking(under_file_pressure)
                .await
                .unwrap_or(false);
            // While it holds much of its open-file limit the process says
            // so, and the broker sends owners new to it to another process
            // of its key instead of letting it run out of files.
            if file_pressure.swap(pressed, std::sync::atomic::Ordering::Relaxed) != pressed {
                tracing::info!(pressed, "open-file pressure changed");
            }
        }
        let crowded = gate.open_owners() > OPEN_OWNERS;
        let Some(idle) = sweep(full_check, pressed, crowded, idle_for) else {
            continue;
        };
        let released = gate.release_idle(idle).await;
        if released > 0 {
            let trimmed = tokio::task::spawn_blocking(mailkeep_storage_rpc::fd::return_free_memory)
                .await
                .unwrap_or(false);
            tracing::info!(
                released,
                trimmed,
                pressed,
                crowded,
                "closed the index connections of idle owners"
            );
        }
    }
}

/// Whether this process holds more than [`FILE_PRESSURE_PERCENT`] of its
/// open-file limit.
fn under_file_pressure() -> bool {
    let Ok((soft, _)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    else {
        return false;
    };
    let open = match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries.count() as u64,
        Err(_) => return false,
    };
    open.saturating_mul(100) > soft.saturating_mul(FILE_PRESSURE_PERCENT)
}

/// How often a storage process re-checks whether it is busy.
const BUSY_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// [`serve`] with explicit [`Tuning`].
pub async fn serve_tuned(
    settings: StorageSettings,
    mut tuning: Tuning,
    trusted: TrustedHosts,
    control: QuietStream,
) -> Result<(), StorageServerError> {
    let maildir = settings.maildir();
    let gate = match tuning.shared.take() {
        None => {
            let auto = tuning.auto_mailboxes.clone();
            let unopened = Store::unopened(&maildir);
            let store = tokio::task::spawn_blocking(move || open_store(unopened, &auto))
                .await?
                .map_err(|source| StorageServerError::Store {
                    owner: settings.owner.clone(),
                    source,
                })?;
            let mut stores = HashMap::new();
            stores.insert(settings.owner.clone(), store);
            gate::Gate::new(trusted, stores)
        }
        Some(SharedMode { uid, gid, spawner }) => {
            let gate = gate::Gate::new_shared(trusted, spawner);
            gate.set_ids(&settings.owner, uid, gid);
            let store = gate
                .run(&settings.owner, {
                    let auto = tuning.auto_mailboxes.clone();
                    let unopened = Store::unopened(&maildir);
                    move || open_store(unopened, &auto)
                })
                .await
                .map_err(|status| StorageServerError::Shared {
                    owner: settings.owner.clone(),
                    reason: status.message().to_owned(),
                })?;
            gate.add_owner(settings.owner.clone(), store);
            gate
        }
    };
    let gate = std::sync::Arc::new(gate);
    let (reports_tx, mut reports) = tokio::sync::mpsc::unbounded_channel::<StorageEvent>();
    gate.set_reports(reports_tx);
    let service = service::StorageService {
        gate: std::sync::Arc::clone(&gate),
        max_mailboxes: tuning.max_mailboxes,
    };
    gate.set_plugins(tuning.plugins.clone());
    tuning.plugins.owner_added(&plugin::OwnerInfo {
        owner: settings.owner.clone(),
        userdb: tuning.userdb.clone(),
    });
    let (tx, rx) =
        mpsc::channel::<Result<tracked::TrackedConn, std::io::Error>>(PENDING_CONNECTIONS);
    let count = std::sync::Arc::new(tracked::ConnectionCount::default());
    // Every gRPC service of the storage process, all behind the same gate:
    // the base services, then each plugin's.
    let calls = std::sync::Arc::new(inflight::InFlight::default());
    let mut routes = plugin::RoutesBuilder::default();
    routes
        .add_service(
            StorageServer::new(service)
                .max_decoding_message_size(MAX_GRPC_MESSAGE)
                .max_encoding_message_size(MAX_GRPC_MESSAGE),
        )
        .add_service(watch::server(std::sync::Arc::clone(&gate)))
        .add_service(acl::server(std::sync::Arc::clone(&gate)))
        .add_service(search::server(std::sync::Arc::clone(&gate)))
        .add_service(organize::server(std::sync::Arc::clone(&gate)))
        .add_service(content::server(std::sync::Arc::clone(&gate)))
        .add_service(maildrop::server(std::sync::Arc::clone(&gate)))
        .add_service(metadata::server(
            std::sync::Arc::clone(&gate),
            tuning.metadata,
        ));
    plugin::add_services(&gate, &tuning.plugins, &mut routes);
    // One connection carries every owner's calls from a protocol process:
    // its window is as large as HTTP/2 allows, so appends waiting for the
    // disk do not stall the others; each call's is small.
    let server = tonic::transport::Server::builder()
        // h2 counts frames that come for streams it reset and no longer
        // remembers (an append refused while its chunks were on their
        // way) as the peer's errors, and closes the connection at the
        // 1,024th over its whole life: a guard against internet clients,
        // while this peer is one protocol process of the installation,
        // whose every session would lose its calls.
        .http2_max_local_error_reset_streams(None)
        .initial_stream_window_size(RECEIVE_STREAM_WINDOW)
        .initial_connection_window_size(mailkeep_storage_rpc::socket_channel::CONNECTION_WINDOW)
        .layer(inflight::InFlightLayer {
            calls: std::sync::Arc::clone(&calls),
        })
        .add_routes(routes.routes())
        .serve_with_incoming(ReceiverStream::new(rx));
    let _autoexpunge = AbortOnDrop(tokio::spawn(expire::autoexpunge_loop(
        std::sync::Arc::clone(&gate),
        tuning.autoexpunge.clone(),
        tuning.autoexpunge_every,
    )));
    let file_pressure = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _release_idle = AbortOnDrop(tokio::spawn(release_idle_stores(
        std::sync::Arc::clone(&gate),
        tuning.release_idle_every,
        std::sync::Arc::clone(&file_pressure),
    )));
    // The server runs as its own task so that it keeps accepting while this
    // loop waits on the control socket or on the channel.
    let mut server = AbortOnDrop(tokio::spawn(server));
    tracing::info!(owner = %settings.owner, home = %settings.home.display(),
        maildir = %settings.maildir().display(), "storage process serving");
    let control = std::sync::Arc::new(control);
    let mut frames = read_frames(std::sync::Arc::clone(&control));
    let mut reported = None;
    let mut busy_check = tokio::time::interval(BUSY_CHECK);
    // The master stops its children with SIGTERM (and when it dies).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(StorageServerError::Signal)?;
    loop {
        let open = count.open();
        let (in_flight, busy) = calls.state(tuning.busy_after);
        let pressed = file_pressure.load(std::sync::atomic::Ordering::Relaxed);
        let watchers = gate.changes().watchers();
        if reported != Some((open, busy, pressed, watchers)) {
            let event = StorageEvent {
                kind: Some(storage_event::Kind::Load(Load {
                    connections: open,
                    in_flight,
                    busy,
                    pressed,
                    watchers,
                })),
            };
            if let Err(e) = send_frame(&*control, &event, None).await {
                tracing::info!("control socket unwritable ({e}); storage process exits");
                return Ok(());
            }
            reported = Some((open, busy, pressed, watchers));
        }
        tokio::select! {
            _ = busy_check.tick() => {}
            _ = terminate.recv() => {
                // Acknowledged messages still only in the append journal
                // get their files before the process goes.
                gate.flush_journals().await;
                tracing::info!(owner = %settings.owner, "storage process stops (SIGTERM)");
                return Ok(());
            }
            result = &mut server.0 => {
                // Only ends on its own if it failed: the incoming channel
                // stays open while we hold `tx`.
                result??;
                return Ok(());
            }
            () = count.changed() => {}
            Some(report) = reports.recv() => {
                if let Err(e) = send_frame(&*control, &report, None).await {
                    tracing::info!("control socket unwritable ({e}); storage process exits");
                    return Ok(());
                }
            }
            frame = frames.recv() => match frame {
                Some(Ok((ControlMessage { kind: Some(Kind::NewConnection(c)) }, Some(fd)))) => {
                    match QuietStream::new(fd) {
                        Ok(stream) => {
                            tracing::debug!(connection = c.connection_id, "new connection");
                            let conn = tracked::TrackedConn::new(stream, std::sync::Arc::clone(&count));
                            if tx.send(Ok(conn)).await.is_err() {
                                tracing::error!("gRPC server no longer takes connections");
                            }
                        }
                        Err(e) => tracing::warn!(connection = c.connection_id, error = %e,
                            "passed socket unusable"),
                    }
                }
                Some(Ok((ControlMessage { kind: Some(Kind::AddOwner(add)) }, None))) => {
                    let reply = add_owner(&gate, add, &tuning).await;
                    let event = StorageEvent { kind: Some(storage_event::Kind::Reply(reply)) };
                    if let Err(e) = send_frame(&*control, &event, None).await {
                tracing::info!("control socket unwritable ({e}); storage process exits");
                return Ok(());
            }
                }
                Some(Ok((ControlMessage { kind: Some(Kind::Expire(asked)) }, None))) => {
                    // Runs beside the loop; the reply goes out as a report.
                    let gate = std::sync::Arc::clone(&gate);
                    tokio::spawn(async move {
                        let reply = expire::serve_request(&gate, asked).await;
                        gate.report(StorageEvent { kind: Some(storage_event::Kind::Reply(reply)) });
                    });
                }
                Some(Ok((ControlMessage { kind: Some(Kind::TicketIssued(issued)) }, None))) => {
                    gate.vouched(&zeroize::Zeroizing::new(issued.ticket));
                }
                Some(Ok((ControlMessage { kind: Some(Kind::Revoke(revoke)) }, None))) => {
                    gate.revoke(revoke.sessions.iter().filter_map(|r| {
                        Some((SessionId::from_slice(&r.session)?, r.until_unix))
                    }));
                    if revoke.request_id != 0 {
                        let reply = ControlReply {
                            request_id: revoke.request_id,
                            ..ControlReply::default()
                        };
                        gate.report(StorageEvent { kind: Some(storage_event::Kind::Reply(reply)) });
                    }
                }
                Some(Ok((message, fd))) => {
                    tracing::warn!(?message, has_fd = fd.is_some(),
                        "control message ignored: not a NewConnection with a socket");
                }
                None | Some(Err(FrameError::Closed)) => {
                    tracing::info!("control socket closed; storage process exits");
                    return Ok(());
                }
                // The master closed its end with our reports unread.
                Some(Err(FrameError::Io(e)))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    tracing::info!("control socket closed; storage process exits");
                    return Ok(());
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }
}

/// Frames from the master, read by a task of their own so that waiting for
/// them can be abandoned (in `select!`) without losing half a frame.
fn read_frames(
    control: std::sync::Arc<QuietStream>,
) -> mpsc::Receiver<Result<(ControlMessage, Option<std::os::fd::OwnedFd>), FrameError>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let frame = recv_frame::<ControlMessage>(&*control).await;
            let last = frame.is_err();
            if tx.send(frame).await.is_err() || last {
                return;
            }
        }
    });
    rx
}

/// Opens the store of one more owner and starts serving it; the reply
/// tells the broker when calls for that owner may come.
async fn add_owner(gate: &gate::Gate, add: AddOwner, tuning: &Tuning) -> ControlReply {
    let request_id = add.request_id;
    if gate.serves(&add.owner) {
        return ControlReply {
            request_id,
            ..ControlReply::default()
        };
    }
    let maildir = if add.maildir.is_empty() {
        PathBuf::from(&add.home).join(MAILDIR)
    } else {
        PathBuf::from(&add.maildir)
    };
    let shown = maildir.display().to_string();
    gate.set_ids(&add.owner, add.uid, add.gid);
    let auto = tuning.auto_mailboxes.clone();
    // The handle is made here, on the async thread (see Store::unopened).
    let unopened = Store::unopened(&maildir);
    let opened = gate
        .run(&add.owner, move || open_store(unopened, &auto))
        .await;
    let error = match opened {
        Ok(store) => {
            tracing::info!(owner = %add.owner, home = %add.home, maildir = %shown,
                "now serving one more owner");
            tuning.plugins.owner_added(&plugin::OwnerInfo {
                owner: add.owner.clone(),
                userdb: add
                    .userdb_fields
                    .iter()
                    .map(|f| match f.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (f.clone(), String::new()),
                    })
                    .collect(),
            });
            gate.add_owner(add.owner, store);
            String::new()
        }
        Err(e) => format!("opening the store of {:?}: {}", add.owner, e.message()),
    };
    if !error.is_empty() {
        tracing::error!("{error}");
    }
    ControlReply {
        request_id,
        error,
        ..ControlReply::default()
    }
}

/// Opens an owner's store and gives it the mailboxes every owner gets. A
/// failure to make those is logged, not fatal: the owner's mail is served
/// all the same.
fn open_store(unopened: Unopened, auto: &[AutoMailbox]) -> Result<Store, StoreError> {
    let store = unopened.open()?;
    if !auto.is_empty()
        && let Err(e) = store.ensure_auto_mailboxes(auto)
    {
        tracing::warn!(maildir = %store.root().display(), error = %e,
            "the mailboxes every owner gets could not all be made");
    }
    Ok(store)
}

/// Stops a task of the process (the gRPC server, the idle sweep) when
/// [`serve`] returns, however it returns.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{CROWDED_CHECK, RELEASE_CHECK, sweep};

    #[test]
    fn a_crowded_process_releases_at_every_tick_and_others_at_full_checks() {
        let idle_for = Duration::from_secs(30);
        // Crowded: owners idle for the short check, full check or not.
        for (full, pressed) in [(true, false), (false, false), (true, true), (false, true)] {
            assert_eq!(sweep(full, pressed, true, idle_for), Some(CROWDED_CHECK));
        }
        // Under file pressure only: idle for one full check, at full checks.
        assert_eq!(sweep(true, true, false, idle_for), Some(RELEASE_CHECK));
        assert_eq!(sweep(false, true, false, idle_for), None);
        // Neither: the configured idle time, at full checks.
        assert_eq!(sweep(true, false, false, idle_for), Some(idle_for));
        assert_eq!(sweep(false, false, false, idle_for), None);
    }
}

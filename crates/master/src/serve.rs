//! `mailkeep serve`: prepare, bind, start and supervise every process, and
//! stop them all on SIGTERM or SIGINT.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use mailkeep_auth::WatchedPasswdFile;
use mailkeep_auth::userdb::UserEntry;
use mailkeep_config::Config;
use mailkeep_storage_rpc::broker::RefusalCode;
use mailkeep_storage_rpc::framing::FrameError;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::Verifier;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::Mutex as AsyncMutex;

use crate::MasterError;
use crate::children::{ChildSpec, own_executable, socket_pair, spawn};
use crate::home::ensure_home;
use crate::layout::{Prepared, prepare};
use crate::linger::LingerPolicy;
use crate::protocols::{ProtocolService, Protocols};
use crate::storage_procs::{ControlChannel, StorageProc, StorageTable};

/// Descriptor numbers children find their channels at.
pub mod fds {
    /// Broker channel of a protocol process; control channel of auth and storage.
    pub const CHANNEL: i32 = 3;
    /// Auth: this host's signing key file. Storage: the trusted-host list.
    pub const KEY: i32 = 4;
    /// The control channel of a protocol process (certificates).
    pub const PROTOCOL_CONTROL: i32 = 4;
    /// First listening socket of a protocol process; more follow.
    pub const FIRST_LISTENER: i32 = 5;
}

/// Why the broker or a gateway will not serve a request: the code the
/// caller gets, and a message for its log.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What the caller maps to its own response.
    pub code: RefusalCode,
    /// Why, in words.
    pub message: String,
}

/// A child the master started, as `admin ps` shows it.
#[derive(Debug, Clone)]
pub struct LiveChild {
    /// Its pid.
    pub pid: u32,
    /// "auth", "imap" or "storage".
    pub role: &'static str,
    /// The uid it runs as.
    pub uid: u32,
    /// When it started.
    pub started: Instant,
    /// For protocol processes: the broker's id of it.
    pub client_id: Option<u64>,
    /// For protocol processes: client sessions, as last reported.
    pub sessions: u32,
}

/// What the broker and the supervisors share.
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// Where the configuration came from, passed on to children.
    pub config_path: Option<PathBuf>,
    /// What preparation found.
    pub prepared: Prepared,
    /// Verifies tickets with the trusted hosts' public keys (the master
    /// holds no signing key).
    pub verifier: Verifier,
    /// Live sessions by protocol process, and the ended ones (revoked).
    pub sessions: crate::sessions::Sessions,
    /// Whom each owner's ACLs grant something (the shared namespace's
    /// hint, reported by storage processes).
    pub shares: crate::shares::Shares,
    /// What other hosts said of who shares with each user, for a short
    /// while (dropped when this host learns of an ACL change).
    pub shares_elsewhere: crate::shares_elsewhere::SharesElsewhere,
    /// Our executable.
    pub exe: PathBuf,
    /// The current auth process's control channel, while one runs.
    pub auth_control: AsyncMutex<Option<Arc<AsyncMutex<QuietStream>>>>,
    /// Running storage processes.
    pub storage: AsyncMutex<StorageTable>,
    /// How long idle storage processes stay.
    pub linger: StdMutex<LingerPolicy>,
    /// Every live child, for shutdown and `admin ps`.
    pub live: StdMutex<HashMap<u32, LiveChild>>,
    /// When the master started.
    pub started: Instant,
    /// Set once shutdown began: no restarts.
    pub stopping: AtomicBool,
    /// The relay to other hosts' gateways, while one runs.
    pub relay: StdMutex<Option<Arc<crate::relay::RelayLink>>>,
    /// The users file, read again only when it changed: every login
    /// looks its owner up here.
    users: WatchedPasswdFile,
    next_id: AtomicU64,
}

impl Shared {
    /// `owner`'s ACLs now grant something to exactly `grantees` (a
    /// storage process or `mailkeep admin acl` said so): the shared
    /// namespace's hint changes, and what other hosts said is asked
    /// again.
    pub fn shares_changed(&self, owner: &str, grantees: Vec<String>) {
        self.shares.set(owner, grantees);
        self.shares_elsewhere.invalidate();
    }

    /// What the broker and supervisors of a master with `config` share,
    /// before any child runs. `exe` is the binary children are started
    /// from.
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        prepared: Prepared,
        exe: PathBuf,
    ) -> Shared {
        let linger = LingerPolicy::new(
            Duration::from_secs(config.storage.linger_min_secs),
            Duration::from_secs(config.storage.linger_max_secs),
        )
        .kept_warm(config.storage.keep_warm());
        Shared {
            users: WatchedPasswdFile::new(config.users_file()),
            verifier: Verifier::new(prepared.keys.trusted.clone()),
            sessions: Default::default(),
            shares: crate::shares::Shares::load(&config.data_dir().join("shares")),
            shares_elsewhere: crate::shares_elsewhere::SharesElsewhere::new(
                mailkeep_frontend::Clock::system(),
            ),
            prepared,
            config,
            config_path,
            exe,
            auth_control: AsyncMutex::new(None),
            storage: AsyncMutex::new(StorageTable::default()),
            linger: StdMutex::new(linger),
            live: StdMutex::new(HashMap::new()),
            started: Instant::now(),
            stopping: AtomicBool::new(false),
            relay: StdMutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh id for a connection or a protocol process.
    pub fn next_connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn config_args(&self) -> Vec<String> {
        match &self.config_path {
            Some(p) => vec!["--config".into(), p.display().to_string()],
            None => vec![
                "--data-dir".into(),
                self.config.data_dir().display().to_string(),
            ],
        }
    }

    /// Looks an owner up in the users file and checks they may be served.
    pub fn lookup_owner(&self, owner: &str) -> Result<UserEntry, Refusal> {
        let refused = |message: String| Refusal {
            code: RefusalCode::Refused,
            message,
        };
        let users = self.users.current().map_err(|e| Refusal {
            code: RefusalCode::Unavailable,
            message: e.to_string(),
        })?;
        let entry = users
            .lookup(owner)
            .cloned()
            .ok_or_else(|| refused(format!("no such user {owner:?}")))?;
        let (uid, _gid, _home) = owner_ids(&entry).map_err(refused)?;
        // A mail location mailkeep cannot serve (mbox, dbox, another
        // layout) is the administrator's to fix.
        entry.maildir().map_err(|e| Refusal {
            code: RefusalCode::ContactAdmin,
            message: e.to_string(),
        })?;
        if self.prepared.privileged && (uid == 0 || uid < self.config.privileges.first_valid_uid) {
            return Err(Refusal {
                code: RefusalCode::ContactAdmin,
                message: format!(
                    "user {owner:?} has uid {uid}, below first_valid_uid {} (or root): never served",
                    self.config.privileges.first_valid_uid
                ),
            });
        }
        Ok(entry)
    }

    /// Which storage process serves `entry`'s owner: the key of the
    /// storage table, by the configured mode.
    pub fn storage_key(&self, owner: &str, entry: &UserEntry) -> String {
        match self.config.storage.mode {
            mailkeep_config::StorageMode::Shared if self.prepared.privileged => "shared".to_owned(),
            // Without root there is one uid: shared is per-uid.
            mailkeep_config::StorageMode::PerUid | mailkeep_config::StorageMode::Shared => {
                format!("uid:{}", entry.uid.unwrap_or(u32::MAX))
            }
            mailkeep_config::StorageMode::PerUser => format!("user:{owner}"),
        }
    }

    /// Whether one storage process, running as `storage.shared_uid`, works
    /// as each owner on dedicated threads (shared mode, started as root).
    pub fn shared_mode(&self) -> bool {
        self.prepared.privileged && self.config.storage.mode == mailkeep_config::StorageMode::Shared
    }

    /// The home of `entry`, made if missing.
    pub fn prepare_home(&self, entry: &UserEntry) -> Result<PathBuf, MasterError> {
        let (uid, gid, home) = owner_ids(entry).map_err(MasterError::Setup)?;
        ensure_home(&home, uid, gid, self.prepared.privileged)?;
        Ok(home)
    }

    /// Starts the storage process for `owner` and watches it.
    pub fn start_storage(
        self: &Arc<Self>,
        owner: &str,
        entry: &UserEntry,
    ) -> Result<StorageProc, MasterError> {
        let (uid, gid, home) = owner_ids(entry).map_err(MasterError::Setup)?;
        ensure_home(&home, uid, gid, self.prepared.privileged)?;
        let (control, theirs) = socket_pair()?;
        let trusted_fd = crate::host_keys::trusted_for_child(&self.prepared.keys.trusted)?;
        let mut args = vec![
            "--owner".into(),
            owner.to_owned(),
            "--home".into(),
            home.display().to_string(),
            "--uid".into(),
            uid.to_string(),
            "--gid".into(),
            gid.to_string(),
            "--busy-after-ms".into(),
            self.config.storage.busy_after_ms.to_string(),
            "--release-idle-secs".into(),
            self.config.storage.release_idle_secs.to_string(),
            "--metadata-max-value-size".into(),
            self.config.storage.metadata_max_value_size.to_string(),
            "--metadata-max-entries".into(),
            self.config.storage.metadata_max_entries.to_string(),
            "--max-mailboxes".into(),
            self.config.storage.max_mailboxes.to_string(),
        ];
        let maildir = entry
            .maildir()
            .map_err(|e| MasterError::Setup(e.to_string()))?;
        if let Some(maildir) = &maildir {
            args.push("--maildir".into());
            args.push(maildir.display().to_string());
        }
        for (attribute, name) in self.config.storage.special_use.enabled() {
            args.push(format!("--special-use={attribute}={name}"));
        }
        if self.shared_mode() {
            args.push("--shared".into());
            args.push(format!("--shared-uid={}", self.config.storage.shared_uid));
            args.push(format!("--shared-gid={}", self.config.storage.shared_gid));
        }
        // Checked when the configuration was loaded.
        for (mailbox, age) in self.config.storage.autoexpunge_rules().unwrap_or_default() {
            args.push(format!("--autoexpunge={mailbox}={}", age.as_secs()));
        }
        args.push(format!(
            "--autoexpunge-every-secs={}",
            self.config.storage.autoexpunge_every_secs
        ));
        // Where it can touch files (the role drops what is no directory).
        let mut reach: Vec<PathBuf> = vec![home.clone()];
        reach.extend(maildir.as_deref().and_then(|m| m.parent()).map(Into::into));
        for root in crate::storage_roots::storage_roots(&self.config) {
            args.push("--confine-to".into());
            args.push(root.display().to_string());
            reach.push(root);
        }
        reach.retain(|dir| dir.is_dir());
        if !self.config.plugins.enabled.is_empty() {
            args.push(format!("--plugins={}", self.config.plugins.to_toml()));
        }
        for (key, value) in &entry.extra {
            args.push(format!("--userdb-field={key}={value}"));
        }
        args.extend(fd_args("--fd-trusted"));
        let mut child = spawn(
            &self.exe,
            ChildSpec {
                role: "storage",
                args,
                fds: vec![(theirs, fds::CHANNEL), (trusted_fd, fds::KEY)],
            },
        )?;
        let pid = child.id().unwrap_or(0);
        let runs_as = if self.shared_mode() {
            self.config.storage.shared_uid
        } else {
            uid
        };
        tracing::info!(owner, pid, uid = runs_as, "started storage process");
        self.live_add(pid, "storage", runs_as);
        let shared = Arc::clone(self);
        let owner_name = owner.to_owned();
        tokio::spawn(async move {
            let status = child.wait().await;
            tracing::info!(
                owner = owner_name,
                pid,
                "storage process exited: {status:?}"
            );
            shared.storage.lock().await.remove_pid(pid);
            shared.live_remove(pid);
        });
        let control = Arc::new(ControlChannel::new(control));
        tokio::spawn(read_storage_events(
            Arc::clone(self),
            pid,
            Arc::clone(&control),
        ));
        Ok(StorageProc {
            pid,
            control,
            connections: Default::default(),
            owners: [owner.to_owned()].into_iter().collect(),
            open_connections: 0,
            idle_since: Some(Instant::now()),
            in_flight: 0,
            busy: false,
            pressed: false,
            adding: Default::default(),
            reach,
        })
    }

    pub(crate) fn live_add(&self, pid: u32, role: &'static str, uid: u32) {
        if let Ok(mut l) = self.live.lock() {
            l.insert(
                pid,
                LiveChild {
                    pid,
                    role,
                    uid,
                    started: Instant::now(),
                    client_id: None,
                    sessions: 0,
                },
            );
        }
    }

    /// Sends `signal` to child `pid` if its exit has not been reaped yet
    /// (a reaped pid may already name another process).
    pub(crate) fn signal_live(&self, pid: u32, signal: Signal) {
        let live = self.live.lock().is_ok_and(|l| l.contains_key(&pid));
        if live {
            signal_pid(pid, signal);
        }
    }

    /// Takes storage process `pid` out of the table (no new session goes
    /// to it) and sends it `signal`: out of the table it would never be
    /// stopped as idle nor told of ended sessions (one exiting already
    /// is not hurt).
    pub(crate) async fn retire_storage(&self, pid: u32, signal: Signal) {
        self.storage.lock().await.remove_pid(pid);
        self.signal_live(pid, signal);
    }

    pub(crate) fn live_remove(&self, pid: u32) {
        if let Ok(mut l) = self.live.lock() {
            l.remove(&pid);
        }
    }

    fn live_pids(&self) -> Vec<u32> {
        self.live
            .lock()
            .map(|l| l.keys().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn live_set_client(&self, pid: u32, client_id: u64) {
        if let Ok(mut l) = self.live.lock()
            && let Some(child) = l.get_mut(&pid)
        {
            child.client_id = Some(client_id);
        }
    }

    /// Records the session count protocol process `client_id` reported.
    pub fn record_sessions(&self, client_id: u64, sessions: u32) {
        if let Ok(mut l) = self.live.lock()
            && let Some(child) = l.values_mut().find(|c| c.client_id == Some(client_id))
        {
            child.sessions = sessions;
        }
    }

    /// Every live child, for `mailkeep admin ps`.
    pub fn live_children(&self) -> Vec<LiveChild> {
        self.live
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The host's name for the self-signed certificate: the configured one,
/// else the system's.
fn host_name(config: &Config) -> String {
    if !config.server.hostname.is_empty() {
        return config.server.hostname.clone();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The descriptor arguments of auth (`--fd-key`: its signing key) and
/// storage (`--fd-trusted`: the trusted-host list).
fn fd_args(key_flag: &str) -> Vec<String> {
    vec![
        "--fd-control".into(),
        fds::CHANNEL.to_string(),
        key_flag.into(),
        fds::KEY.to_string(),
    ]
}

/// Where `entry`'s mail lives: its home and, when the users file names
/// one elsewhere, its Maildir. A storage process serves the owner only if
/// it can reach both.
pub(crate) fn owner_places(entry: &UserEntry) -> Vec<PathBuf> {
    let mut places: Vec<PathBuf> = entry.home.iter().cloned().collect();
    places.extend(entry.maildir().ok().flatten());
    places
}

fn owner_ids(entry: &UserEntry) -> Result<(u32, u32, PathBuf), String> {
    match (entry.uid, entry.gid, &entry.home) {
        (Some(uid), Some(gid), Some(home)) if home.is_absolute() => Ok((uid, gid, home.clone())),
        _ => Err(format!(
            "user {:?} needs a uid, a gid and an absolute home in the users file",
            entry.name
        )),
    }
}

/// Runs the server until SIGTERM or SIGINT. `config_path` is passed on to
/// the children so they read the same file.
pub async fn serve(config: Config, config_path: Option<PathBuf>) -> Result<(), MasterError> {
    crate::privileges::raise_open_file_limit();
    let prepared = prepare(&config)?;
    if !prepared.privileged {
        tracing::warn!(
            "*** mailkeep is not running as root: PRIVILEGE SEPARATION IS OFF. Every process runs \
             as uid {}; protocol processes are not chrooted. Start as root for production. ***",
            prepared.protocol_uid
        );
        eprintln!(
            "WARNING: not running as root: privilege separation is OFF (all processes run as uid {})",
            prepared.protocol_uid
        );
    }
    if let Some(pw) = &prepared.demo_password {
        println!(
            "Demo account: user={} password={pw}",
            crate::layout::DEMO_USER
        );
    }
    let hostname = host_name(&config);
    if let Some((path, fingerprint)) = crate::certificates::ensure_self_signed(&config, &hostname)?
    {
        println!(
            "TLS certificate: self-signed, SHA-256 fingerprint {fingerprint} ({})",
            path.display()
        );
    }
    let certificates = crate::certificates::CertificateWatch::load(&config)
        .map_err(|e| MasterError::Setup(e.to_string()))?;
    // Before any child starts: passed sockets must not leak into children.
    let mut inherited = crate::listeners::inherited_sockets()?;
    let services = vec![
        ProtocolService {
            role: "imap",
            listeners: crate::listeners::bind_service(&config, "imap", &mut inherited)?,
            processes: config.imap.processes,
        },
        ProtocolService {
            role: "lmtp",
            listeners: crate::listeners::bind_service(&config, "lmtp", &mut inherited)?,
            processes: config.lmtp.processes,
        },
        ProtocolService {
            role: "pop3",
            listeners: crate::listeners::bind_service(&config, "pop3", &mut inherited)?,
            processes: config.pop3.processes,
        },
        ProtocolService {
            role: "auth-socket",
            listeners: crate::listeners::bind_service(&config, "auth-socket", &mut inherited)?,
            processes: config.auth_socket.processes,
        },
    ];
    // A service configured with no listener runs no process.
    let services: Vec<ProtocolService> = services
        .into_iter()
        .filter(|s| !s.listeners.is_empty())
        .collect();
    for name in inherited.keys() {
        tracing::warn!("a passed socket named {name:?} matches no listener; closed");
    }
    drop(inherited);
    let protocols = Arc::new(Protocols::new(services, certificates.current().clone()));
    let shared = Arc::new(Shared::new(
        config,
        config_path,
        prepared,
        own_executable()?,
    ));

    if let Some(listener) =
        crate::gateway::bind(&shared.config).map_err(|e| MasterError::Setup(e.to_string()))?
    {
        tokio::spawn(crate::gateway::supervise(Arc::clone(&shared), listener));
    }
    if crate::relay::wanted(&shared.config) {
        tokio::spawn(crate::relay::supervise(Arc::clone(&shared)));
    }
    tokio::spawn(supervise_auth(Arc::clone(&shared)));
    tokio::spawn(reap_idle_storage(Arc::clone(&shared)));
    let admin_socket =
        crate::admin::bind(&shared.config.run_dir().join(crate::admin::ADMIN_SOCKET))?;
    tokio::spawn(crate::admin::serve(Arc::clone(&shared), admin_socket));
    let client_socket = crate::client_socket::bind(
        &shared
            .config
            .run_dir()
            .join(crate::client_socket::CLIENT_SOCKET),
        shared.config.master.client_socket_mode,
    )?;
    tokio::spawn(crate::client_socket::serve(
        Arc::clone(&shared),
        client_socket,
    ));
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| MasterError::io("SIGHUP handler", e))?;
    tokio::spawn(crate::protocols::watch_certificates(
        shared.config.tls.reload_check_secs,
        certificates,
        Arc::clone(&protocols),
        hangup,
    ));
    crate::protocols::start_all(&shared, &protocols);

    wait_for_stop_signal().await?;
    tracing::info!("stopping");
    shared.stopping.store(true, Ordering::SeqCst);
    stop_children(&shared).await;
    Ok(())
}

async fn wait_for_stop_signal() -> Result<(), MasterError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| MasterError::io("SIGTERM handler", e))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| MasterError::io("SIGINT handler", e))?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}

async fn stop_children(shared: &Shared) {
    for pid in shared.live_pids() {
        signal_pid(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !shared.live_pids().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in shared.live_pids() {
        tracing::warn!(pid, "child did not stop in time; killing it");
        signal_pid(pid, Signal::SIGKILL);
    }
    // The children's last lines, copied by their relays (each at most a
    // look's wait behind).
    crate::child_output::relays_done(Duration::from_secs(1)).await;
}

fn signal_pid(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

/// Restart delays: doubled for each death soon after a start, reset after
/// a long run.
pub(crate) struct Backoff {
    current: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &Config) -> Backoff {
        let initial = Duration::from_millis(config.master.restart_backoff_ms);
        Backoff {
            current: initial,
            initial,
            max: Duration::from_millis(config.master.max_restart_backoff_ms),
        }
    }

    pub(crate) fn next(&mut self, ran_for: Duration) -> Duration {
        if ran_for > Duration::from_secs(30) {
            self.current = self.initial;
        }
        let wait = self.current;
        self.current = (self.current * 2).min(self.max);
        wait
    }
}

async fn supervise_auth(shared: Arc<Shared>) {
    let mut backoff = Backoff::new(&shared.config);
    while !shared.stopping.load(Ordering::SeqCst) {
        let started = Instant::now();
        match start_auth(&shared).await {
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                let status = child.wait().await;
                shared.live_remove(pid);
                *shared.auth_control.lock().await = None;
                if !shared.stopping.load(Ordering::SeqCst) {
                    tracing::error!(pid, "auth process exited: {status:?}; restarting");
                }
            }
            Err(e) => tracing::error!("starting auth: {e}"),
        }
        tokio::time::sleep(backoff.next(started.elapsed())).await;
    }
}

async fn start_auth(shared: &Arc<Shared>) -> Result<tokio::process::Child, MasterError> {
    let (control, theirs) = socket_pair()?;
    let key_fd = crate::host_keys::open_signing_key(&shared.config)?;
    let mut args = shared.config_args();
    args.extend(fd_args("--fd-key"));
    // One argument: base64url may start with '-'.
    args.push(format!("--public-key={}", shared.prepared.keys.public));
    args.extend([
        "--uid".into(),
        shared.prepared.auth_uid.to_string(),
        "--gid".into(),
        shared.prepared.auth_gid.to_string(),
    ]);
    let child = spawn(
        &shared.exe,
        ChildSpec {
            role: "auth",
            args,
            fds: vec![(theirs, fds::CHANNEL), (key_fd, fds::KEY)],
        },
    )?;
    let pid = child.id().unwrap_or(0);
    shared.live_add(pid, "auth", shared.prepared.auth_uid);
    tracing::info!(pid, "started auth process");
    // Before any connection reaches it: the sessions ended so far.
    for message in crate::revoke::revoked_for_auth(shared) {
        if let Err(e) = mailkeep_storage_rpc::framing::send_frame(&control, &message, None).await {
            tracing::warn!("telling auth of ended sessions: {e}");
        }
    }
    // Auth's events come on the same socket, read through a descriptor of
    // its own (the one above is locked while a message is sent).
    match std::os::fd::AsFd::as_fd(&control)
        .try_clone_to_owned()
        .map(QuietStream::new)
    {
        Ok(Ok(events)) => {
            tokio::spawn(crate::vouched::read_auth_events(Arc::clone(shared), events));
        }
        Ok(Err(error)) | Err(error) => {
            tracing::warn!(%error, "auth's events will not be read (tickets are verified in full)");
        }
    }
    *shared.auth_control.lock().await = Some(Arc::new(AsyncMutex::new(control)));
    Ok(child)
}

/// Reads what a storage process reports on its control socket: replies to
/// requests, and its connection count (for lingering).
async fn read_storage_events(shared: Arc<Shared>, pid: u32, control: Arc<ControlChannel>) {
    use mailkeep_storage_rpc::broker::{StorageEvent, storage_event};
    loop {
        let event = match mailkeep_storage_rpc::framing::recv_frame::<StorageEvent>(&control.stream)
            .await
        {
            Ok((event, None)) => event,
            Ok((_, Some(_))) => {
                tracing::warn!(pid, "storage process sent a descriptor; ignoring it");
                continue;
            }
            Err(e) => {
                // Gone, or going: no new session is sent to it from now
                // on, and what waits for its answers is told at once,
                // before its exit is reaped.
                control.close();
                // Killed if it said something no storage process says.
                if matches!(e, FrameError::Closed | FrameError::Io(_)) {
                    tracing::info!(pid, "storage process's control channel ended: {e}");
                    shared.retire_storage(pid, Signal::SIGTERM).await;
                } else {
                    tracing::warn!(
                        pid,
                        "storage process broke its control channel, killing it: {e}"
                    );
                    shared.retire_storage(pid, Signal::SIGKILL).await;
                }
                return;
            }
        };
        match event.kind {
            Some(storage_event::Kind::Reply(reply)) => control.deliver(reply),
            Some(storage_event::Kind::Load(load)) => {
                let mut table = shared.storage.lock().await;
                if let Some(p) = table.by_pid_mut(pid) {
                    p.in_flight = load.in_flight;
                    if (p.busy, p.pressed) != (load.busy, load.pressed) {
                        tracing::info!(
                            pid,
                            busy = load.busy,
                            pressed = load.pressed,
                            in_flight = load.in_flight,
                            "storage process load changed"
                        );
                    }
                    p.busy = load.busy;
                    p.pressed = load.pressed;
                    p.open_connections = load.connections;
                    p.idle_since = match (load.connections, p.idle_since) {
                        (0, Some(since)) => Some(since),
                        (0, None) => Some(Instant::now()),
                        _ => None,
                    };
                }
            }
            Some(storage_event::Kind::Shares(reported)) => {
                // Only for an owner the process serves: a process speaks
                // for its own owners' ACLs.
                let serves = shared
                    .storage
                    .lock()
                    .await
                    .by_pid_mut(pid)
                    .is_some_and(|p| p.owners.contains(&reported.owner));
                if serves {
                    shared.shares_changed(&reported.owner, reported.grantees);
                } else {
                    tracing::warn!(pid, owner = %reported.owner,
                        "ACL grantees reported for an owner the process does not serve; ignored");
                }
            }
            None => {}
        }
    }
}

/// Stops storage processes that have been idle longer than their linger
/// time, and the least recently used idle ones beyond the global cap.
async fn reap_idle_storage(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        let mut table = shared.storage.lock().await;
        let mut idle: Vec<(Instant, u32, Duration)> = {
            let policy = match shared.linger.lock() {
                Ok(p) => p,
                Err(poisoned) => poisoned.into_inner(),
            };
            table
                .iter()
                .filter_map(|p| {
                    p.idle_since
                        .map(|since| (since, p.pid, policy.after_close_for_all(p.owners.iter())))
                })
                .collect()
        };
        idle.sort();
        let cap = shared.config.storage.max_lingering;
        let over_cap = idle.len().saturating_sub(cap);
        for (i, (since, pid, linger)) in idle.into_iter().enumerate() {
            let expired = now.saturating_duration_since(since) >= linger;
            if expired || i < over_cap {
                tracing::info!(
                    pid,
                    lingered = ?now.saturating_duration_since(since),
                    ?linger,
                    over_cap = i < over_cap,
                    "stopping idle storage process"
                );
                table.remove_pid(pid);
                signal_pid(pid, Signal::SIGTERM);
            }
        }
    }
}

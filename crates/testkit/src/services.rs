//! The real auth service and real storage processes, run in process and
//! reached over socket pairs exactly as the master's broker hands them
//! out: a protocol crate's session tests run against real storage through
//! [`mailkeep_frontend::Connector`], with no fake in between.
//!
//! Auth serves a passwd-file in a temporary directory; each owner gets a
//! storage process (`mailkeep_storage_server::serve`, per-user mode) on a
//! home under that directory when first attached; tickets are signed by
//! auth with a key made here and checked with its public half; a session
//! ended through the connector is revoked in every storage process. Every connection is a new socket pair
//! whose far end is passed over the service's control socket with
//! `NewConnection`, as the broker does.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailkeep_auth::{AuthError, AuthSettings, PasswdFile};
use mailkeep_frontend::auth_link::{Purpose, ReplyKey};
use mailkeep_frontend::{ConnectError, Connector};
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::{StepRequest, step_response};
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{
    ControlMessage, Load, NewConnection, RefusalCode, Revoke, RevokedSession, StorageEvent,
    storage_event,
};
use mailkeep_storage_rpc::channel::ChannelError;
use mailkeep_storage_rpc::framing::{FrameError, recv_frame, send_frame};
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_storage_rpc::socket_channel::{SocketChannel, socket_channel};
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::{AppendHeader, AppendRequest, append_request};
use mailkeep_storage_server::{StorageServerError, StorageSettings};
use mailkeep_ticket::{
    Claims, HostKey, Revocations, Scope, TrustedHosts, Verifier, now_unix, sign,
};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the services could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The passwd-file could not be edited or read.
    #[error("passwd-file: {0}")]
    Auth(#[from] AuthError),
    /// A connection could not be handed over.
    #[error("control socket: {0}")]
    Control(#[from] FrameError),
    /// A gRPC channel could not be made over a passed socket.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A connection was refused, as the broker would refuse it.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// An RPC failed.
    #[error("RPC: {0}")]
    Rpc(#[from] tonic::Status),
    /// Auth did not accept the credentials.
    #[error("login of {user:?} failed: {reason}")]
    LoginFailed {
        /// Who.
        user: String,
        /// What auth said.
        reason: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServicesError {
    let what = what.into();
    move |source| ServicesError::Io { what, source }
}

/// A task that is aborted when its handle is dropped, so that the services
/// stop with the test.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One running storage process and its control socket.
struct StorageProcess {
    control: Arc<UnixStream>,
    server: AbortOnDrop<Result<(), StorageServerError>>,
    _events: AbortOnDrop<()>,
    load: watch::Receiver<Load>,
    /// A duplicate of the process's end of every connection passed to it,
    /// to break them when it stops: in process, its connection tasks
    /// would outlive the aborted server (a real process takes them along
    /// when it dies).
    passed: Vec<std::os::unix::net::UnixStream>,
}

impl Drop for StorageProcess {
    fn drop(&mut self) {
        for end in &self.passed {
            let _ = end.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// How to start the services.
#[derive(Debug, Clone)]
pub struct ServicesBuilder {
    failure_delay: Duration,
    ticket_lifetime_secs: i64,
    storage_plugins: mailkeep_storage_server::plugin::Plugins,
}

impl Default for ServicesBuilder {
    fn default() -> Self {
        ServicesBuilder {
            failure_delay: Duration::ZERO,
            ticket_lifetime_secs: 3600,
            storage_plugins: mailkeep_storage_server::plugin::Plugins::default(),
        }
    }
}

impl ServicesBuilder {
    /// The delay auth puts before a failed login's answer (default none;
    /// it doubles per further failure from one address).
    pub fn failure_delay(mut self, delay: Duration) -> ServicesBuilder {
        self.failure_delay = delay;
        self
    }

    /// How long issued session tickets are valid (default an hour).
    pub fn ticket_lifetime_secs(mut self, secs: i64) -> ServicesBuilder {
        self.ticket_lifetime_secs = secs;
        self
    }

    /// Storage plugins every storage process runs (default none), for
    /// tests of plugins.
    pub fn storage_plugins(
        mut self,
        plugins: mailkeep_storage_server::plugin::Plugins,
    ) -> ServicesBuilder {
        self.storage_plugins = plugins;
        self
    }

    /// Starts auth on an empty passwd-file in a new temporary directory.
    /// Must run inside a tokio runtime; the services stop when the last
    /// clone of the returned handle is dropped.
    pub async fn start(self) -> Result<Services, ServicesError> {
        let dir = tempfile::Builder::new()
            .prefix("mailkeep-testkit-")
            .tempdir()
            .map_err(io("making the services' directory"))?;
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "").map_err(io("creating the passwd-file"))?;
        let key = HostKey::generate();
        // Auth gets its own copy of the key; the storage processes and the
        // connector get only the public half.
        let auth_key = HostKey::parse(&key.to_file_contents())
            .map_err(|e| io("copying the key")(std::io::Error::other(e)))?;
        let mut trusted = TrustedHosts::new();
        trusted
            .insert(ISSUER, key.public())
            .map_err(|e| io("trusting the key")(std::io::Error::other(e)))?;
        let (auth_end, auth_control) =
            control_pair().map_err(io("making auth's control socket"))?;
        let settings = AuthSettings {
            passwd_file: passwd.clone(),
            ticket_lifetime_secs: self.ticket_lifetime_secs,
            issuer: ISSUER.to_owned(),
            failure_delay: self.failure_delay,
            max_failure_delay: self.failure_delay * 4,
            first_valid_uid: 0,
            ..AuthSettings::default()
        };
        let auth = tokio::spawn(mailkeep_auth::serve(settings, auth_key, auth_end));
        Ok(Services {
            inner: Arc::new(Inner {
                passwd,
                key,
                verifier: Verifier::new(trusted),
                revoked: Mutex::new(Revocations::new()),
                auth_control,
                _auth: AbortOnDrop(auth),
                storage: tokio::sync::Mutex::new(HashMap::new()),
                attaches: Mutex::new(HashMap::new()),
                sharing: Mutex::new(Sharing::default()),
                next_connection: AtomicU64::new(1),
                storage_plugins: self.storage_plugins,
                dir,
            }),
        })
    }
}

/// The auth service and storage processes of one test, in process. Clone
/// it freely (clones share everything); it is a [`Connector`], so it goes
/// wherever a protocol process takes one.
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

/// The name the services' auth issues tickets under.
const ISSUER: &str = "testkit";

struct Inner {
    passwd: PathBuf,
    key: HostKey,
    verifier: Verifier,
    revoked: Mutex<Revocations>,
    auth_control: UnixStream,
    _auth: AbortOnDrop<Result<(), AuthError>>,
    storage: tokio::sync::Mutex<HashMap<String, StorageProcess>>,
    attaches: Mutex<HashMap<String, usize>>,
    /// The sharing-owners hint per user (what the broker keeps from ACL
    /// changes), as a test set it, and how often each user asked.
    sharing: Mutex<Sharing>,
    next_connection: AtomicU64,
    /// What every storage process runs besides the base services.
    storage_plugins: mailkeep_storage_server::plugin::Plugins,
    /// Dropped last: the processes above may still use it.
    dir: tempfile::TempDir,
}

/// The sharing-owners hint of every user, and the questions asked.
#[derive(Default)]
struct Sharing {
    owners: HashMap<String, Vec<String>>,
    asked: HashMap<String, usize>,
}

/// A successful login through auth.
#[derive(Debug, Clone)]
pub struct Login {
    /// The canonical user name.
    pub user: String,
    /// The signed session ticket.
    pub ticket: String,
}

impl Services {
    /// Starts with the default settings; see [`ServicesBuilder::start`].
    pub async fn start() -> Result<Services, ServicesError> {
        ServicesBuilder::default().start().await
    }

    /// Settings other than the defaults.
    pub fn builder() -> ServicesBuilder {
        ServicesBuilder::default()
    }

    /// The services' temporary directory.
    pub fn dir(&self) -> &Path {
        self.inner.dir.path()
    }

    /// The passwd-file auth serves (Dovecot's format).
    pub fn passwd_file(&self) -> &Path {
        &self.inner.passwd
    }

    /// The key auth signs tickets with.
    pub fn key(&self) -> &HostKey {
        &self.inner.key
    }

    /// Where `user add` puts `user`'s home.
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir().join("home").join(user)
    }

    /// `user`'s Maildir.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join(mailkeep_storage_server::MAILDIR)
    }

    /// Adds `user` with `password` (stored as `{ARGON2ID}`, as `mailkeep
    /// user add` does), the test's own uid and gid, and a home under the
    /// services' directory.
    pub async fn add_user(&self, user: &str, password: &str) -> Result<(), ServicesError> {
        self.add_user_with_scheme(user, password, mailkeep_auth::PasswordScheme::default())
            .await
    }

    /// Like [`Services::add_user`], storing the password in `scheme`
    /// (`{SCRAM-SHA-256}` for a SCRAM login, say).
    pub async fn add_user_with_scheme(
        &self,
        user: &str,
        password: &str,
        scheme: mailkeep_auth::PasswordScheme,
    ) -> Result<(), ServicesError> {
        let meta = std::fs::metadata(self.dir()).map_err(io("inspecting the directory"))?;
        let (passwd, home) = (self.inner.passwd.clone(), self.home(user));
        let (user, password) = (user.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            mailkeep_auth::add_user_with_scheme(
                &passwd,
                &user,
                &password,
                scheme,
                meta.uid(),
                meta.gid(),
                &home,
            )
        })
        .await
        .map_err(|e| ServicesError::Io {
            what: "hashing the password".into(),
            source: std::io::Error::other(e),
        })??;
        Ok(())
    }

    /// A session ticket for `user`, signed with the services' key, as
    /// auth issues after a login (for storage calls a test makes itself).
    pub fn ticket(&self, user: &str) -> String {
        self.ticket_of(user, Scope::Session)
    }

    /// A deliver ticket for `user`, as auth issues to the lmtp process for
    /// one recipient (and a compromised lmtp process holds).
    pub fn deliver_ticket(&self, user: &str) -> String {
        self.ticket_of(user, Scope::Deliver)
    }

    fn ticket_of(&self, user: &str, scope: Scope) -> String {
        sign(
            &self.inner.key,
            &Claims::new(user, scope, now_unix(), 3600, ISSUER),
        )
        .to_string()
    }

    /// Logs `user` in through auth with SASL PLAIN.
    pub async fn login(&self, user: &str, password: &str) -> Result<Login, ServicesError> {
        let mut auth = Connector::auth(self).await?;
        let reply_key = ReplyKey::generate();
        let request = StepRequest {
            exchange_id: 1,
            mechanism: "PLAIN".into(),
            data: format!("\0{user}\0{password}").into_bytes(),
            has_data: true,
            remote_ip: "127.0.0.1".into(),
            protocol: "imap".into(),
            reply_key: reply_key.public_bytes(),
            ..StepRequest::default()
        };
        let outcome = auth.step(request).await?.into_inner().outcome;
        match outcome {
            Some(step_response::Outcome::Success(s)) => {
                match reply_key.open(&s.sealed_ticket, Purpose::Login, &s.user) {
                    Ok(ticket) => Ok(Login {
                        user: s.user,
                        ticket: ticket.to_string(),
                    }),
                    Err(error) => Err(ServicesError::LoginFailed {
                        user: user.to_owned(),
                        reason: format!("the sealed ticket does not open: {error}"),
                    }),
                }
            }
            other => Err(ServicesError::LoginFailed {
                user: user.to_owned(),
                reason: format!("{other:?}"),
            }),
        }
    }

    /// A storage client for `owner`, authorised by `ticket`, over a new
    /// connection (see [`Connector::storage`]).
    pub async fn storage_client(
        &self,
        ticket: &str,
        owner: &str,
    ) -> Result<StorageClient<LeasedChannel>, ServicesError> {
        let channel = Connector::storage(self, ticket, owner).await?;
        Ok(StorageClient::new(channel)
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
            .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE))
    }

    /// Appends `message` with `flags` to `owner`'s `mailbox` through the
    /// storage RPC (to fill a mailbox before a session starts); its UID.
    pub async fn append(
        &self,
        owner: &str,
        mailbox: &str,
        flags: &[&str],
        message: &[u8],
    ) -> Result<u32, ServicesError> {
        let ticket = self.ticket(owner);
        let mut client = self.storage_client(&ticket, owner).await?;
        let mut parts = vec![AppendRequest {
            part: Some(append_request::Part::Header(AppendHeader {
                owner: owner.into(),
                mailbox: mailbox.into(),
                flags: flags.iter().map(|f| f.to_string()).collect(),
                internal_date: 0,
                internal_date_offset_minutes: 0,
                size: message.len() as u64,
                replace: None,
                size_unknown: false,
                ..AppendHeader::default()
            })),
        }];
        for chunk in message.chunks(mailkeep_storage_rpc::CHUNK_SIZE) {
            parts.push(AppendRequest {
                part: Some(append_request::Part::Chunk(chunk.to_vec())),
            });
        }
        parts.push(AppendRequest::commit());
        let request = with_ticket(tokio_stream::iter(parts), &ticket);
        Ok(client.append(request).await?.into_inner().uid)
    }

    /// Sets the owners the connector names as sharing with `user` (see
    /// [`Connector::sharing_owners`]; the broker keeps this list from ACL
    /// changes, the services only as a test sets it). A hint only: each
    /// owner's storage process decides what `user` sees.
    pub fn set_sharing_owners(&self, user: &str, owners: &[&str]) {
        let mut sharing = self
            .inner
            .sharing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sharing.owners.insert(
            user.to_owned(),
            owners.iter().map(|o| (*o).to_owned()).collect(),
        );
    }

    /// How many times a session of `user` asked for its sharing owners.
    pub fn sharing_asks(&self, user: &str) -> usize {
        let sharing = self
            .inner
            .sharing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sharing.asked.get(user).copied().unwrap_or(0)
    }

    /// How many storage connections were handed out for `owner`.
    pub fn attaches(&self, owner: &str) -> usize {
        let attaches = self
            .inner
            .attaches
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        attaches.get(owner).copied().unwrap_or(0)
    }

    /// Stops `owner`'s storage process, as a crash would: its connections
    /// break and the next attach starts a new one. Whether one ran.
    pub async fn stop_storage(&self, owner: &str) -> bool {
        self.inner.storage.lock().await.remove(owner).is_some()
    }

    /// What `owner`'s storage process last reported of its load (open
    /// connections, calls in flight), if it runs.
    pub async fn storage_load(&self, owner: &str) -> Option<Load> {
        let table = self.inner.storage.lock().await;
        table.get(owner).map(|p| *p.load.borrow())
    }

    /// Waits until `owner`'s storage process reports a load that
    /// satisfies `want` (say, no connections left once a session ended).
    /// Err if it does not run or stops first.
    pub async fn wait_storage_load(
        &self,
        owner: &str,
        want: impl FnMut(&Load) -> bool,
    ) -> Result<Load, ServicesError> {
        let mut load = {
            let table = self.inner.storage.lock().await;
            table.get(owner).map(|p| p.load.clone()).ok_or_else(|| {
                ConnectError::unavailable(format!("no storage process for {owner:?}"))
            })?
        };
        let seen = load
            .wait_for(want)
            .await
            .map_err(|_| ConnectError::unavailable("the storage process stopped"))?;
        Ok(*seen)
    }

    /// Makes a socket pair and hands one end to the service behind
    /// `control` as the broker does; our end, and a duplicate of theirs.
    async fn pass(
        &self,
        control: &UnixStream,
    ) -> Result<(QuietStream, std::os::unix::net::UnixStream), ServicesError> {
        let (ours, theirs) =
            std::os::unix::net::UnixStream::pair().map_err(io("making a socket pair"))?;
        // As the protocol processes take theirs from the broker.
        let ours = QuietStream::new(OwnedFd::from(ours)).map_err(io("registering our end"))?;
        let kept = theirs
            .try_clone()
            .map_err(io("duplicating the passed socket"))?;
        let theirs = OwnedFd::from(theirs);
        let connection_id = self.inner.next_connection.fetch_add(1, Ordering::Relaxed);
        let message = ControlMessage {
            kind: Some(Kind::NewConnection(NewConnection {
                connection_id,
                ..Default::default()
            })),
        };
        send_frame(control, &message, Some(&theirs)).await?;
        Ok((ours, kept))
    }

    /// A new connection to `owner`'s storage process, started if none runs
    /// (or the last one stopped).
    async fn attach(&self, owner: &str, home: &Path) -> Result<SocketChannel, ServicesError> {
        let mut table = self.inner.storage.lock().await;
        if table.get(owner).is_some_and(|p| p.server.0.is_finished()) {
            table.remove(owner);
        }
        let process = match table.entry(owner.to_owned()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(start_storage(
                owner,
                home,
                self.inner.verifier.trusted(),
                &self.inner.storage_plugins,
            )?),
        };
        let (stream, kept) = self.pass(&process.control).await?;
        process.passed.push(kept);
        drop(table);
        let channel = socket_channel(stream).await?;
        let mut attaches = self
            .inner
            .attaches
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *attaches.entry(owner.to_owned()).or_default() += 1;
        Ok(channel)
    }
}

/// Starts a storage process for `owner` on `home`, and a task that keeps
/// its load reports (which it sends on the control socket, as to the
/// master).
fn start_storage(
    owner: &str,
    home: &Path,
    trusted: &TrustedHosts,
    plugins: &mailkeep_storage_server::plugin::Plugins,
) -> Result<StorageProcess, ServicesError> {
    std::fs::create_dir_all(home).map_err(io(format!("making {}", home.display())))?;
    let (process_end, control) = control_pair().map_err(io("making a storage control socket"))?;
    let settings = StorageSettings {
        owner: owner.to_owned(),
        home: home.to_owned(),
        maildir: None,
    };
    let tuning = mailkeep_storage_server::Tuning {
        plugins: plugins.clone(),
        ..mailkeep_storage_server::Tuning::default()
    };
    let server = tokio::spawn(mailkeep_storage_server::serve_tuned(
        settings,
        tuning,
        trusted.clone(),
        process_end,
    ));
    let control = Arc::new(control);
    let (report, load) = watch::channel(Load::default());
    let events = {
        let control = Arc::clone(&control);
        tokio::spawn(async move {
            while let Ok((event, _)) = recv_frame::<StorageEvent>(&control).await {
                if let Some(storage_event::Kind::Load(l)) = event.kind {
                    report.send_replace(l);
                }
            }
        })
    };
    Ok(StorageProcess {
        control,
        server: AbortOnDrop(server),
        _events: AbortOnDrop(events),
        load,
        passed: Vec::new(),
    })
}

/// Refuses as the broker does: a ticket that does not verify is
/// `Unauthenticated`, one for someone else `Refused` (but a session
/// ticket, which reaches another owner as a guest), an unknown owner
/// `Refused`, anything that breaks `Unavailable`.
impl Connector for Services {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        let (stream, _) = self
            .pass(&self.inner.auth_control)
            .await
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        let channel = socket_channel(stream)
            .await
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        Ok(AuthClient::new(channel))
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        let refused = |code: RefusalCode, message: String| ConnectError { code, message };
        let claims = self
            .inner
            .verifier
            .verify(ticket, now_unix())
            .map_err(|e| refused(RefusalCode::Unauthenticated, e.to_string()))?;
        let revoked = self
            .inner
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_revoked(&claims.session);
        if revoked {
            return Err(refused(
                RefusalCode::Unauthenticated,
                mailkeep_ticket::TicketError::Revoked.to_string(),
            ));
        }
        // As the broker: a session or deliver ticket may reach another
        // owner's storage process as a guest (checked there against the
        // owner's ACLs; a delivery only posts where granted 'p'); an admin
        // ticket only its own user's.
        let guest = matches!(claims.scope, Scope::Session | Scope::Deliver) && claims.user != owner;
        if !guest {
            claims
                .authorize(owner, Scope::Deliver)
                .map_err(|e| refused(RefusalCode::Refused, e.to_string()))?;
        }
        let users = PasswdFile::load(&self.inner.passwd)
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        let entry = users
            .lookup(owner)
            .ok_or_else(|| refused(RefusalCode::Refused, format!("no such user {owner:?}")))?;
        let home = entry.home.clone().unwrap_or_else(|| self.home(owner));
        let channel = self
            .attach(owner, &home)
            .await
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        Ok(LeasedChannel::new(channel))
    }

    /// The owners a test named with [`Services::set_sharing_owners`] for
    /// the ticket's user (none by default); a ticket that does not verify
    /// is refused as by the broker.
    async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, ConnectError> {
        let claims = self
            .inner
            .verifier
            .verify(ticket, now_unix())
            .map_err(|e| ConnectError {
                code: RefusalCode::Unauthenticated,
                message: e.to_string(),
            })?;
        let mut sharing = self
            .inner
            .sharing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *sharing.asked.entry(claims.user.clone()).or_default() += 1;
        Ok(sharing
            .owners
            .get(&claims.user)
            .cloned()
            .unwrap_or_default())
    }

    /// Revokes the session as the broker does: refused here from now on,
    /// and in every storage process.
    async fn end_session(&self, ticket: &str) {
        let Ok(claims) = self.inner.verifier.verify(ticket, now_unix()) else {
            return;
        };
        self.inner
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .revoke(claims.session, claims.revocation_horizon());
        let message = ControlMessage {
            kind: Some(Kind::Revoke(Revoke {
                sessions: vec![RevokedSession {
                    session: claims.session.0.to_vec(),
                    until_unix: claims.revocation_horizon(),
                    user: claims.user.clone(),
                }],
                request_id: 0,
            })),
        };
        // Under the table's lock, as connections are passed: one writer
        // per control socket at a time.
        let table = self.inner.storage.lock().await;
        for process in table.values() {
            let _ = send_frame(&process.control, &message, None).await;
        }
    }
}

/// A control channel as the master makes one: the process's end (a
/// [`QuietStream`], as the real processes get) and the test's end.
fn control_pair() -> std::io::Result<(QuietStream, UnixStream)> {
    let (process_end, ours) = QuietStream::with_peer()?;
    ours.set_nonblocking(true)?;
    Ok((process_end, UnixStream::from_std(ours)?))
}

//! The storage path: the one way a logged-in session reaches mail, and the
//! project's async client API for the storage RPC.
//!
//! A [`Storage`] holds a session's login (user and ticket), renews the
//! ticket through auth before it runs out, keeps one channel per owner
//! (shared with every other session of this process that reaches the same
//! storage process), and on a lost storage process gets a new channel from
//! the broker and retries a call that is safe to repeat. Every storage call
//! of imap (and of pop3, lmtp and plugins) goes through [`Storage::call`].
//!
//! ```no_run
//! # async fn example(storage: mailkeep_frontend::Storage) -> Result<(), mailkeep_frontend::StorageError> {
//! use mailkeep_frontend::Retry;
//! use mailkeep_storage_rpc::storage::ListMailboxesRequest;
//!
//! let owner = storage.user().to_owned();
//! let listing = storage
//!     .call(&owner, Retry::Idempotent, |rpc| {
//!         let request = rpc.request(ListMailboxesRequest { owner: owner.clone() });
//!         async move { rpc.storage().list_mailboxes(request).await }
//!     })
//!     .await?;
//! for mailbox in listing.mailboxes {
//!     println!("{}", mailbox.name);
//! }
//! # Ok(()) }
//! ```
//!
//! See `examples/list_mailboxes.rs` for a whole program that logs in
//! through auth and lists a user's mailboxes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailkeep_storage_rpc::broker::RefusalCode;
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::maildrop_client::MaildropClient;
use mailkeep_storage_rpc::storage::metadata_client::MetadataClient;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::watch_client::WatchClient;
use tokio::sync::OnceCell;
use tonic::Status;
use zeroize::Zeroizing;

use crate::auth_link::AuthLink;
use crate::clock::Clock;
use crate::connector::{ConnectError, Connector};
use crate::sasl::LoggedIn;

/// Whether a call may be sent again after its storage process was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating it changes nothing (reads, setting flags to a value,
    /// creating a mailbox that then exists): retried once on a new channel.
    Idempotent,
    /// It may have taken effect (an append): not repeated; the caller
    /// tells its client to try again.
    Once,
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage process answered with an error.
    #[error("storage: {}", .0.message())]
    Status(Status),
    /// No channel to the storage process could be had.
    #[error("no storage connection: {0}")]
    Connect(#[from] ConnectError),
}

impl StorageError {
    /// The failure as a typed reason, which protocols map to their codes.
    pub fn reason(&self) -> ErrorReason {
        match self {
            StorageError::Status(status) => reason_of(status),
            StorageError::Connect(e) => match e.code {
                RefusalCode::Unavailable => ErrorReason::Unavailable,
                RefusalCode::Unauthenticated | RefusalCode::Refused => ErrorReason::NoPermission,
                RefusalCode::ContactAdmin => ErrorReason::NoPermission,
                RefusalCode::Invalid | RefusalCode::Unspecified => ErrorReason::ServerBug,
            },
        }
    }
}

impl From<Status> for StorageError {
    fn from(status: Status) -> Self {
        StorageError::Status(status)
    }
}

/// A ticket as the storage path holds it: shared by the calls that use
/// it, wiped from memory when the last of them drops it.
pub type HeldTicket = Arc<Zeroizing<String>>;

/// What a call is made with: a channel to the owner's storage process and
/// the session's current ticket.
#[derive(Clone)]
pub struct Rpc {
    channel: LeasedChannel,
    ticket: HeldTicket,
}

impl Rpc {
    /// `message` as a request that carries the ticket.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_ticket(message, &self.ticket)
    }

    /// The channel, for a client of any service on it (plugins).
    pub fn channel(&self) -> LeasedChannel {
        self.channel.clone()
    }

    /// A client of the core Storage service.
    pub fn storage(&self) -> StorageClient<LeasedChannel> {
        StorageClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
            .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Content service (structure, sections).
    pub fn content(&self) -> ContentClient<LeasedChannel> {
        ContentClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Search service (SEARCH, SORT, THREAD).
    pub fn search(&self) -> SearchClient<LeasedChannel> {
        SearchClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Organize service (COPY, MOVE, subscriptions, ...).
    pub fn organize(&self) -> OrganizeClient<LeasedChannel> {
        OrganizeClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Metadata service (RFC 5464 annotations).
    pub fn metadata(&self) -> MetadataClient<LeasedChannel> {
        MetadataClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Maildrop service (POP3: the maildrop, its session
    /// lock, QUIT's removals).
    pub fn maildrop(&self) -> MaildropClient<LeasedChannel> {
        MaildropClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Acl service (RFC 4314 access control lists).
    pub fn acl(&self) -> AclClient<LeasedChannel> {
        AclClient::new(self.channel())
            .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
    }

    /// A client of the Watch service (change notifications).
    pub fn watch(&self) -> WatchClient<LeasedChannel> {
        WatchClient::new(self.channel())
    }
}

/// The session's login as the storage path keeps it.
struct Credentials {
    ticket: HeldTicket,
    obtained_unix: i64,
    expires_unix: i64,
    /// No renewal attempt before this time (after a failed one).
    retry_renew_unix: i64,
}

struct Inner {
    user: String,
    auth: Arc<AuthLink>,
    /// Auth's request key, which a renewal seals the old ticket to (empty
    /// for a delivery, never renewed).
    request_key: Vec<u8>,
    clock: Clock,
    credentials: Mutex<Credentials>,
    /// One channel per owner reached, each got from the broker once:
    /// calls that need it while the broker is asked wait for that answer
    /// instead of asking again (an empty cell is asked again).
    channels: Mutex<HashMap<String, Arc<OnceCell<LeasedChannel>>>>,
    /// A warm channel a call went out on before the broker answered, kept
    /// for the session's life as the broker's channels are: a stream the
    /// call opened (POP3's session lock) lives as long as its connection.
    warm_used: Mutex<Option<LeasedChannel>>,
    /// The session ended and was reported so: nothing more to revoke.
    ended: AtomicBool,
}

impl Drop for Inner {
    /// A session dropped without [`Storage::end`] (its connection closed,
    /// its task failed) is ended now, in the background: its ticket must
    /// not outlive it.
    fn drop(&mut self) {
        if self.ended.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (the process is exiting): the broker ends the
            // sessions of a process whose channel closes.
            return;
        };
        let ticket = Arc::clone(&lock(&self.credentials).ticket);
        let auth = Arc::clone(&self.auth);
        runtime.spawn(async move {
            auth.connector().end_session(&ticket).await;
        });
    }
}

/// A logged-in session's way to storage; cheap to clone, shared by the
/// session's commands running side by side.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Storage {
    /// Names the user; never shows the ticket.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("user", &self.inner.user)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// The storage path of a session that just logged in; connections come
    /// from `auth`'s connector.
    pub fn new(auth: Arc<AuthLink>, login: &LoggedIn, clock: Clock) -> Storage {
        let now = clock.now_unix();
        Storage {
            inner: Arc::new(Inner {
                user: login.user.clone(),
                auth,
                request_key: login.request_key.clone(),
                clock,
                credentials: Mutex::new(Credentials {
                    ticket: Arc::new(login.ticket.clone()),
                    obtained_unix: now,
                    expires_unix: login.expires_unix,
                    retry_renew_unix: 0,
                }),
                channels: Mutex::new(HashMap::new()),
                warm_used: Mutex::new(None),
                ended: AtomicBool::new(false),
            }),
        }
    }

    /// The storage path of one delivery (LMTP): `ticket` is a deliver
    /// ticket for `user`. It has no session to end (it dies at its expiry,
    /// so nothing is revoked when this is dropped) and is never renewed.
    pub fn for_delivery(
        auth: Arc<AuthLink>,
        user: &str,
        ticket: Zeroizing<String>,
        expires_unix: i64,
        clock: Clock,
    ) -> Storage {
        let now = clock.now_unix();
        Storage {
            inner: Arc::new(Inner {
                user: user.to_owned(),
                auth,
                request_key: Vec::new(),
                clock,
                credentials: Mutex::new(Credentials {
                    ticket: Arc::new(ticket),
                    obtained_unix: now,
                    expires_unix,
                    retry_renew_unix: i64::MAX,
                }),
                channels: Mutex::new(HashMap::new()),
                warm_used: Mutex::new(None),
                ended: AtomicBool::new(true),
            }),
        }
    }

    /// Ends the session (IMAP LOGOUT, UNAUTHENTICATE): tells the broker,
    /// which revokes every ticket of it, and waits for that, so that a
    /// ticket captured from this process reads no mail once the client is
    /// told it logged out. Later calls fail; a second end does nothing.
    pub async fn end(&self) {
        if self.inner.ended.swap(true, Ordering::SeqCst) {
            return;
        }
        let ticket = Arc::clone(&lock(&self.inner.credentials).ticket);
        self.inner.auth.connector().end_session(&ticket).await;
        lock(&self.inner.channels).clear();
        lock(&self.inner.warm_used).take();
    }

    /// The owners who may share a mailbox with this session's user, for
    /// the shared namespace (see [`Connector::sharing_owners`]): each
    /// owner's storage process lists what the user may really see.
    pub async fn sharing_owners(&self) -> Result<Vec<String>, StorageError> {
        let ticket = self.ticket().await;
        Ok(self.inner.auth.connector().sharing_owners(&ticket).await?)
    }

    /// The logged-in user (the owner of their own mail).
    pub fn user(&self) -> &str {
        &self.inner.user
    }

    /// Makes a call to the storage process of `owner`: `f` builds and sends
    /// the request with the given [`Rpc`]. A lost storage process (reason
    /// [`ErrorReason::Unavailable`]) drops the channel; with
    /// [`Retry::Idempotent`] the call is then made once more on a new one.
    /// An idempotent call made while the broker is still being asked for
    /// the owner's channel goes out on a warm one if this process keeps
    /// one (see [`Connector::warm_storage`]), and to the broker's answer
    /// only if that process no longer serves the owner.
    pub async fn call<T, F, Fut>(&self, owner: &str, retry: Retry, f: F) -> Result<T, StorageError>
    where
        F: Fn(Rpc) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let ticket = self.ticket().await;
        if retry == Retry::Idempotent
            && let Some(warm) = self.warm_while_asking(owner)
        {
            let rpc = Rpc {
                channel: warm,
                ticket: ticket.clone(),
            };
            match f(rpc).await {
                Ok(response) => return Ok(response.into_inner()),
                // The process no longer serves the owner, or is gone: the
                // broker's answer is waited for below.
                Err(status) if reason_of(&status) == ErrorReason::Unavailable => {}
                Err(status) => return Err(status.into()),
            }
        }
        let rpc = Rpc {
            channel: self.channel(owner, &ticket, false).await?,
            ticket: ticket.clone(),
        };
        let status = match f(rpc).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) => status,
        };
        if reason_of(&status) != ErrorReason::Unavailable {
            return Err(status.into());
        }
        tracing::info!(
            owner,
            message = status.message(),
            "storage unavailable, reconnecting"
        );
        self.forget_channel(owner);
        if retry == Retry::Once {
            return Err(status.into());
        }
        let rpc = Rpc {
            channel: self.channel(owner, &ticket, true).await?,
            ticket,
        };
        match f(rpc).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                if reason_of(&status) == ErrorReason::Unavailable {
                    self.forget_channel(owner);
                }
                Err(status.into())
            }
        }
    }

    /// An [`Rpc`] for one call made by hand (a client-streaming call such as
    /// Append, which cannot be repeated): the caller reports a lost storage
    /// process with [`Storage::forget_channel`].
    pub async fn rpc(&self, owner: &str) -> Result<Rpc, StorageError> {
        let ticket = self.ticket().await;
        Ok(Rpc {
            channel: self.channel(owner, &ticket, false).await?,
            ticket,
        })
    }

    /// Drops the channel to `owner`'s storage (its stream broke outside a
    /// [`Storage::call`], e.g. mid-way through a streamed answer), so the
    /// next call gets a new one.
    pub fn forget_channel(&self, owner: &str) {
        lock(&self.inner.channels).remove(owner);
    }

    /// The channel to `owner`'s storage, from the broker when there is none
    /// (or, with `fresh`, always).
    async fn channel(
        &self,
        owner: &str,
        ticket: &str,
        fresh: bool,
    ) -> Result<LeasedChannel, ConnectError> {
        let cell = {
            let mut channels = lock(&self.inner.channels);
            if fresh {
                channels.remove(owner);
            }
            Arc::clone(channels.entry(owner.to_owned()).or_default())
        };
        let connector = self.inner.auth.connector();
        let channel = cell
            .get_or_try_init(|| connector.storage(ticket, owner))
            .await?;
        Ok(channel.clone())
    }

    /// A warm channel to `owner`'s storage while the broker is being asked
    /// for the session's own (a session's first call, which would
    /// otherwise wait for the rest of [`Storage::attach_ahead`]'s round
    /// trip): the storage process checks the ticket on every call as it
    /// does on any channel, and one that no longer serves the owner
    /// refuses the call as unavailable. `None` once the broker answered,
    /// or when no channel is warm.
    fn warm_while_asking(&self, owner: &str) -> Option<LeasedChannel> {
        let asking = lock(&self.inner.channels)
            .get(owner)
            .is_some_and(|cell| !cell.initialized());
        if !asking {
            return None;
        }
        let warm = self.inner.auth.connector().warm_storage(owner)?;
        *lock(&self.inner.warm_used) = Some(warm.clone());
        Some(warm)
    }

    /// Asks the broker for the channel to the user's own storage now, in
    /// the background, so that the session's first call (nearly always
    /// one to the user's own mail, right after the login's OK) finds it
    /// on its way or ready instead of asking only then. A failure is not
    /// reported here: the first call asks again and reports it. Until the
    /// broker answers, that call may go out on a warm channel instead
    /// (see [`Storage::call`]).
    pub fn attach_ahead(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Marked as being asked now: a call made before the task below runs
        // (POP3 opens the maildrop at once) does not wait for it either.
        lock(&self.inner.channels)
            .entry(self.inner.user.clone())
            .or_default();
        let storage = self.clone();
        runtime.spawn(async move {
            // After the task that spawned this one has run on: the login's
            // OK goes out first.
            tokio::task::yield_now().await;
            let owner = storage.user().to_owned();
            let ticket = storage.ticket().await;
            if let Err(e) = storage.channel(&owner, &ticket, false).await {
                tracing::debug!(owner, error = %e, "attaching ahead of the first call");
            }
        });
    }

    /// The current ticket, renewed through auth first when more than half
    /// its life has gone (and no renewal failed in the last minute).
    pub async fn ticket(&self) -> HeldTicket {
        let now = self.inner.clock.now_unix();
        let old = {
            let credentials = lock(&self.inner.credentials);
            let life = credentials.expires_unix - credentials.obtained_unix;
            if now < credentials.obtained_unix + life / 2 || now < credentials.retry_renew_unix {
                return credentials.ticket.clone();
            }
            credentials.ticket.clone()
        };
        let renewed = self
            .inner
            .auth
            .renew(&self.inner.user, &old, &self.inner.request_key)
            .await;
        let mut credentials = lock(&self.inner.credentials);
        match renewed {
            Ok(renewed) => {
                credentials.ticket = Arc::new(renewed.ticket);
                credentials.obtained_unix = now;
                credentials.expires_unix = renewed.expires_unix;
            }
            Err(e) => {
                tracing::warn!(error = %e, "ticket renewal failed");
                credentials.retry_renew_unix = now + 60;
            }
        }
        credentials.ticket.clone()
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

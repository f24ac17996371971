//! The check every call passes before the store is touched: a valid
//! ticket, of a scope that allows the call, for an owner this process
//! serves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mailkeep_store::{Store, StoreError};

use mailkeep_storage_rpc::broker::{Shares, StorageEvent, storage_event};
use mailkeep_storage_rpc::errors::{ErrorDetail, ErrorReason};
use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_ticket::{
    Revocations, Scope, SessionId, TicketError, TrustedHosts, Verifier, now_unix,
};
use prost::Message;
use tonic::{Code, Request, Status};

use crate::creds::CredentialPools;
use crate::guest::{Actor, GuestNeed, GuestRefusal};
use crate::owned::OwnedRequest;
use crate::spawner::CredentialSpawner;

/// Idle owners whose connections a release closes at once (see
/// [`Gate::release_idle`]). Closing is CPU work that competes with the
/// calls of a storm of logins for the cores, in proportion to the threads
/// doing each. With 4, 5,000 owners logging in again at about 350 a
/// second (`idle_connections`' second round) outran the releases, and
/// owners stayed open until the storm ended: the storage process peaked
/// at 6,600 open files and 520 MB (15,000 and 1.1 GB while SQLite kept
/// memory statistics), and the heap that peak left behind stayed. With
/// 16: 1,250-1,850 files and 175-195 MB, leaving 48 of the 64 store
/// threads to calls.
const RELEASES_AT_ONCE: usize = 16;

/// The trusted hosts' public keys, the revoked sessions, and the stores
/// of the owners this process serves, and where their store work runs.
pub(crate) struct Gate {
    verifier: Verifier,
    /// Sessions that ended, pushed by the master: their tickets are
    /// refused on every call (one hash lookup).
    revoked: RwLock<Revocations>,
    stores: RwLock<HashMap<String, Store>>,
    /// Shared mode: the owners' uid/gid, and the threads that run as them.
    shared: Option<Shared>,
    /// Change notifications of the owners served here (Watch).
    changes: crate::watch::ChangeBus,
    /// When each owner was last admitted a call, and whether its index
    /// connections were released since (see [`Gate::release_idle`]).
    activity: Mutex<HashMap<String, Activity>>,
    /// Store work running on worker threads now: while it keeps every
    /// core busy, settled reads go to a worker too, so that under load
    /// reads use every core instead of queueing on the one thread that
    /// decodes calls.
    working: Arc<AtomicUsize>,
    /// The cores this process may run on (see [`Gate::run_settled`]).
    cores: usize,
    /// The storage plugins, whose hooks the base services call.
    plugins: std::sync::OnceLock<crate::plugin::Plugins>,
    /// Reports to the master (whom ACLs grant what), sent on the control
    /// socket by the process's main loop.
    reports: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<StorageEvent>>,
}

/// The cores this process may run on (1 if that cannot be told).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// One piece of store work counted in [`Gate`]'s `working` from when it
/// is handed to a thread until it ends (or is dropped unrun).
struct Working(Arc<AtomicUsize>);

impl Working {
    fn start(count: &Arc<AtomicUsize>) -> Working {
        count.fetch_add(1, Ordering::Relaxed);
        Working(Arc::clone(count))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An owner's last call, for releasing what idle owners hold.
#[derive(Clone, Copy)]
struct Activity {
    last_call: Instant,
    released: bool,
}

/// A session call that passed the gate: who it is for, that owner's
/// store, and the request message.
pub(crate) struct Admitted<R> {
    /// The owner named in the request (and allowed by its ticket).
    pub(crate) owner: String,
    /// The owner's store.
    pub(crate) store: Store,
    /// Who acts: the owner, or a guest whose rights were checked for
    /// what the request needs.
    pub(crate) actor: Actor,
    /// The request message, taken out of its envelope.
    pub(crate) req: R,
}

/// What shared mode adds to the gate.
struct Shared {
    ids: RwLock<HashMap<String, (u32, u32)>>,
    pools: CredentialPools,
}

impl Gate {
    /// A gate for `stores` (owner → store), checking tickets with the
    /// `trusted` hosts' keys. Store work runs on the blocking pool: the
    /// process itself runs as the owners' uid.
    pub(crate) fn new(trusted: TrustedHosts, stores: HashMap<String, Store>) -> Gate {
        Gate {
            verifier: Verifier::new(trusted),
            revoked: RwLock::default(),
            stores: RwLock::new(stores),
            shared: None,
            changes: crate::watch::ChangeBus::default(),
            activity: Mutex::default(),
            working: Arc::default(),
            cores: cores(),
            plugins: std::sync::OnceLock::new(),
            reports: std::sync::OnceLock::new(),
        }
    }

    /// A gate for shared mode: the process runs as its own unprivileged
    /// uid, and each owner's store work runs on threads with that owner's
    /// file-system credentials, started by `spawner` (the only thread
    /// allowed to switch them). Owners are added with [`Gate::add_owner`] and
    /// [`Gate::set_ids`].
    pub(crate) fn new_shared(trusted: TrustedHosts, spawner: CredentialSpawner) -> Gate {
        Gate {
            verifier: Verifier::new(trusted),
            revoked: RwLock::default(),
            stores: RwLock::new(HashMap::new()),
            shared: Some(Shared {
                ids: RwLock::new(HashMap::new()),
                pools: CredentialPools::new(spawner),
            }),
            changes: crate::watch::ChangeBus::default(),
            activity: Mutex::default(),
            working: Arc::default(),
            cores: cores(),
            plugins: std::sync::OnceLock::new(),
            reports: std::sync::OnceLock::new(),
        }
    }

    /// Installs the plugins (once, before serving).
    pub(crate) fn set_plugins(&self, plugins: crate::plugin::Plugins) {
        if self.plugins.set(plugins).is_err() {
            tracing::error!("storage plugins installed twice; the first set stays");
        }
    }

    /// Where reports to the master go (once, before serving).
    pub(crate) fn set_reports(&self, reports: tokio::sync::mpsc::UnboundedSender<StorageEvent>) {
        if self.reports.set(reports).is_err() {
            tracing::error!("storage reports channel set twice; the first stays");
        }
    }

    /// Tells the master whom `owner`'s ACLs grant something now.
    pub(crate) fn report_shares(&self, owner: &str, grantees: Vec<String>) {
        self.report(StorageEvent {
            kind: Some(storage_event::Kind::Shares(Shares {
                owner: owner.to_owned(),
                grantees,
            })),
        });
    }

    /// The plugins, for their hooks.
    pub(crate) fn plugins(&self) -> crate::plugin::Plugins {
        self.plugins.get().cloned().unwrap_or_default()
    }

    /// Where mutations announce their changes to watchers (Watch).
    pub(crate) fn changes(&self) -> &crate::watch::ChangeBus {
        &self.changes
    }

    /// Records `owner`'s uid/gid (shared mode; ignored otherwise).
    pub(crate) fn set_ids(&self, owner: &str, uid: u32, gid: u32) {
        if let Some(shared) = &self.shared {
            match shared.ids.write() {
                Ok(mut ids) => ids.insert(owner.to_owned(), (uid, gid)),
                Err(poisoned) => poisoned.into_inner().insert(owner.to_owned(), (uid, gid)),
            };
        }
    }

    fn ids_of(shared: &Shared, owner: &str) -> Result<(u32, u32), Status> {
        let ids = match shared.ids.read() {
            Ok(ids) => ids.get(owner).copied(),
            Err(poisoned) => poisoned.into_inner().get(owner).copied(),
        };
        ids.ok_or_else(|| not_served(owner))
    }

    /// Runs `owner`'s store work off the async threads: on the blocking
    /// pool, or in shared mode on a thread with the owner's credentials.
    pub(crate) async fn run<T, F>(&self, owner: &str, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        self.run_store(owner, work)
            .await?
            .map_err(crate::convert::status_of)
    }

    /// Like [`Gate::run`], but hands the store's own error back for the
    /// caller to answer (the outer error: the work could not run).
    pub(crate) async fn run_store<T, F>(
        &self,
        owner: &str,
        work: F,
    ) -> Result<Result<T, StoreError>, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        let result = self.run_quietly(owner, work).await;
        // Idle counts from the end of the owner's last store work, not
        // from its call's admission: a release between the two would
        // find nothing to close, and what the work opened would stay.
        self.touch(owner);
        result
    }

    /// [`Gate::run_store`] without counting as activity of the owner (for
    /// the release of idle owners itself).
    async fn run_quietly<T, F>(&self, owner: &str, work: F) -> Result<Result<T, StoreError>, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        let working = Working::start(&self.working);
        let work = move || {
            let _working = working;
            work()
        };
        Ok(match &self.shared {
            None => tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| crate::convert::server_bug(format!("store task failed: {e}")))?,
            Some(shared) => {
                let (uid, gid) = Self::ids_of(shared, owner)?;
                shared.pools.run(uid, gid, work).await.map_err(|e| {
                    crate::convert::server_bug(format!("store task of {owner:?} failed: {e}"))
                })?
            }
        })
    }

    /// Runs a settled read (see `mailkeep_store`'s `*_if_settled`) on the
    /// calling thread, saving the hop to a store thread and back; `None`
    /// when it could not answer (the caller then runs the ordinary read
    /// with [`Gate::run`]), while other store work keeps every core busy
    /// (so that under load reads spread over the cores; work waiting for
    /// the disk does not count), and always in shared mode, where store
    /// work must run on a thread that carries the owner's credentials.
    pub(crate) fn run_settled<T>(
        &self,
        read: impl FnOnce() -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, Status> {
        // Store threads that wait for an append's commit to reach the
        // disk use no core: they do not count (none waits for a client:
        // streamed answers are made a piece at a time, see `batch`).
        // While a core is left for this thread, the read is made here:
        // handing it to a store thread and back costs more than the read
        // itself.
        let busy = self
            .working
            .load(Ordering::Relaxed)
            .saturating_sub(mailkeep_store::threads_waiting_for_disk());
        if self.shared.is_some() || busy >= self.cores {
            return Ok(None);
        }
        read().map_err(crate::convert::status_of)
    }

    /// Starts `owner`'s long-running store work (a streamed fetch or
    /// append) without waiting for it, on the same kind of thread as
    /// [`Gate::run`].
    pub(crate) fn spawn<F>(&self, owner: &str, work: F) -> Result<(), Status>
    where
        F: FnOnce() + Send + 'static,
    {
        let working = Working::start(&self.working);
        let work = move || {
            let _working = working;
            work()
        };
        match &self.shared {
            None => {
                drop(tokio::task::spawn_blocking(work));
                Ok(())
            }
            Some(shared) => {
                let (uid, gid) = Self::ids_of(shared, owner)?;
                shared.pools.spawn(uid, gid, work).map_err(|e| {
                    crate::convert::server_bug(format!("store task of {owner:?} failed: {e}"))
                })
            }
        }
    }

    /// Serves one more owner (per-uid mode: the broker sends owners of this
    /// process's uid as they attach).
    pub(crate) fn add_owner(&self, owner: String, store: Store) {
        match self.stores.write() {
            Ok(mut stores) => {
                stores.insert(owner, store);
            }
            Err(poisoned) => {
                poisoned.into_inner().insert(owner, store);
            }
        }
    }

    /// Records a call (or store work done for the owner without one) now:
    /// the owner's index connections are released again once it is idle.
    pub(crate) fn touch(&self, owner: &str) {
        let now = Instant::now();
        let mut activity = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        let entry = Activity {
            last_call: now,
            released: false,
        };
        match activity.get_mut(owner) {
            Some(a) => *a = entry,
            None => {
                activity.insert(owner.to_owned(), entry);
            }
        }
    }

    /// How many owners may hold open index connections now: those called
    /// (or opened) and not released since.
    pub(crate) fn open_owners(&self) -> usize {
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        let activity = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        stores
            .keys()
            .filter(|owner| activity.get(*owner).is_none_or(|a| !a.released))
            .count()
    }

    /// Writes and flushes the append journal of every owner's store (see
    /// `mailkeep_store`'s journal): before the process stops, so that the
    /// Maildirs hold every acknowledged message as a file for whoever
    /// reads them next (another program, or a server started on them).
    /// Failures are logged: the journal keeps the bytes, and the next
    /// opening of the store writes the files.
    pub(crate) async fn flush_journals(&self) {
        let all: Vec<(String, Store)> = {
            let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
            stores
                .iter()
                .map(|(owner, store)| (owner.clone(), store.clone()))
                .collect()
        };
        for (owner, store) in all {
            let flushed = self
                .run_quietly(&owner, move || store.flush_journal())
                .await;
            match flushed {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(%owner, error = %e,
                    "append journal not flushed before stopping; the next opening writes its files"),
                Err(status) => tracing::warn!(%owner, reason = %status.message(),
                    "append journal not flushed before stopping; the next opening writes its files"),
            }
        }
    }

    /// Closes the index connections of every owner that was admitted no
    /// call for `idle_for` (see [`Store::release_idle`]): an owner whose
    /// sessions only watch, or that lingers after its last session, then
    /// costs its watchers' state and little else. Owners released before
    /// and not called since are skipped. Returns how many owners' stores
    /// closed something. Owners nobody has watched for `idle_for` stop
    /// being followed (see [`crate::watch::ChangeBus::forget_lingering`]).
    pub(crate) async fn release_idle(&self, idle_for: Duration) -> usize {
        self.changes().forget_lingering(idle_for);
        let now = Instant::now();
        let idle: Vec<(String, Store)> = {
            let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
            let mut activity = self.activity.lock().unwrap_or_else(|p| p.into_inner());
            stores
                .iter()
                .filter_map(|(owner, store)| {
                    // An owner opened but never called yet counts from now.
                    let a = activity.entry(owner.clone()).or_insert(Activity {
                        last_call: now,
                        released: false,
                    });
                    if a.released || now.duration_since(a.last_call) < idle_for {
                        return None;
                    }
                    a.released = true;
                    Some((owner.clone(), store.clone()))
                })
                .collect()
        };
        // Several side by side (on the blocking pool): closing the last
        // connection of an index checkpoints it, a write and a sync each,
        // and a storm of logins leaves hundreds to close at once; a bounded
        // number at a time (see RELEASES_AT_ONCE), so that calls queued for
        // the pool meanwhile wait for no more than those.
        let closes = idle.into_iter().map(|(owner, store)| async move {
            // On the owner's kind of thread: closing the last connection
            // of an index checkpoints it, as the owner.
            let done = self
                .run_quietly(&owner, move || Ok((store.release_idle(), store.in_use())))
                .await;
            (owner, done)
        });
        let mut released = 0;
        let done: Vec<_> = futures::stream::iter(closes)
            .buffer_unordered(RELEASES_AT_ONCE)
            .collect()
            .await;
        for (owner, done) in done {
            let Ok(Ok((closed, in_use))) = done else {
                continue;
            };
            if closed {
                released += 1;
            }
            if in_use {
                // A call (or a watcher's read) still runs: what it holds
                // goes back to the pool after, so look again next time.
                let mut activity = self.activity.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(a) = activity.get_mut(&owner) {
                    a.released = false;
                }
            }
        }
        released
    }

    /// Keeps a ticket its issuer vouched for (passed on by the master, see
    /// `TicketIssued` in broker.proto) as verified, so its first call waits
    /// for no signature check; revocation and every other check still
    /// apply to its calls.
    pub(crate) fn vouched(&self, ticket: &str) {
        if let Err(error) = self.verifier.vouched(ticket, now_unix()) {
            tracing::warn!(%error, "a ticket the master passed on is not usable");
        }
    }

    /// Refuses from now on every ticket of `sessions` (each until its
    /// horizon), and forgets entries whose horizon passed.
    pub(crate) fn revoke(&self, sessions: impl IntoIterator<Item = (SessionId, i64)>) {
        let mut revoked = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        for (session, until) in sessions {
            revoked.revoke(session, until);
        }
        revoked.prune(now_unix());
    }

    /// Whether this is a shared-mode process (store work runs with each
    /// owner's credentials, never with the process's own).
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The owners this process serves.
    pub(crate) fn owners(&self) -> Vec<String> {
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores.keys().cloned().collect()
    }

    /// `owner`'s store, for work the process does on its own (expiry),
    /// not for a call.
    pub(crate) fn store_of(&self, owner: &str) -> Result<Store, Status> {
        let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
        stores.get(owner).cloned().ok_or_else(|| {
            refusal(
                Code::PermissionDenied,
                format!("this storage process does not serve owner {owner:?}"),
            )
        })
    }

    /// Sends `event` to the master on the control socket.
    pub(crate) fn report(&self, event: StorageEvent) {
        match self.reports.get() {
            Some(reports) if reports.send(event).is_ok() => {}
            _ => tracing::warn!("report to the master lost: no control channel"),
        }
    }

    /// Whether this process already serves `owner`.
    pub(crate) fn serves(&self, owner: &str) -> bool {
        match self.stores.read() {
            Ok(stores) => stores.contains_key(owner),
            Err(poisoned) => poisoned.into_inner().contains_key(owner),
        }
    }

    /// The store of `owner` if `ticket` allows `need` access to it, with
    /// who acts: the owner, a guest (a session ticket of another user, for
    /// a call that is no admin's), or a deliverer (a deliver ticket of
    /// another user, for a call a deliver ticket may make), whose calls the
    /// caller must then check against the owner's ACLs (see
    /// [`Gate::admit_scoped`]). Every
    /// refusal carries [`ErrorReason::NoPermission`]; its gRPC code says
    /// which kind: a missing, bad, expired or forged ticket is
    /// UNAUTHENTICATED (the caller may renew it); a wrong scope, another
    /// user's delivery ticket or an owner not served here is
    /// PERMISSION_DENIED. Every refusal is logged.
    pub(crate) fn admit_actor(
        &self,
        ticket: Option<&str>,
        owner: &str,
        need: Scope,
        method: &'static str,
    ) -> Result<(Store, Actor), Status> {
        let refuse = |status: Status| {
            tracing::warn!(method, owner, code = ?status.code(), reason = status.message(),
                "storage call refused");
            Err(status)
        };
        let Some(ticket) = ticket else {
            return refuse(refusal(
                Code::Unauthenticated,
                "no ticket in the call's metadata",
            ));
        };
        let claims = match self.verifier.verify(ticket, now_unix()) {
            Ok(claims) => claims,
            Err(e) => {
                return refuse(refusal(
                    Code::Unauthenticated,
                    format!("ticket refused: {e}"),
                ));
            }
        };
        let revoked = self
            .revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_revoked(&claims.session);
        if revoked {
            return refuse(refusal(
                Code::Unauthenticated,
                format!("ticket refused: {}", TicketError::Revoked),
            ));
        }
        let actor = match guest_of(&claims, owner, need, method) {
            Some(guest) => guest,
            None => {
                if let Err(e) = claims.authorize(owner, need) {
                    let code = match e {
                        TicketError::WrongScope { .. } | TicketError::WrongOwner { .. } => {
                            Code::PermissionDenied
                        }
                        _ => Code::Unauthenticated,
                    };
                    return refuse(refusal(code, format!("ticket refused: {e}")));
                }
                Actor::Owner
            }
        };
        let found = match self.stores.read() {
            Ok(stores) => stores.get(owner).cloned(),
            Err(poisoned) => poisoned.into_inner().get(owner).cloned(),
        };
        match found {
            Some(store) => {
                self.touch(owner);
                // One line per admitted call at trace level: what a
                // client's commands cost in calls (tests count them).
                tracing::trace!(method, owner, "storage call admitted");
                Ok((store, actor))
            }
            None => refuse(not_served(owner)),
        }
    }

    /// [`Gate::admit_actor`] for calls only the owner (or an admin, or
    /// the owner's delivery ticket) may make: a guest is refused.
    pub(crate) fn admit(
        &self,
        ticket: Option<&str>,
        owner: &str,
        need: Scope,
        method: &'static str,
    ) -> Result<Store, Status> {
        match self.admit_actor(ticket, owner, need, method)? {
            (store, Actor::Owner) => Ok(store),
            (_, Actor::Guest(user) | Actor::Deliverer(user)) => {
                Err(self.guest_refused(method, owner, &user, GuestRefusal::OwnerOnly))
            }
        }
    }

    /// Checks `need` for `actor` against `owner`'s ACLs, on the owner's
    /// store thread; the owner passes at once.
    pub(crate) async fn check_guest(
        &self,
        owner: &str,
        store: &Store,
        actor: &Actor,
        method: &'static str,
        need: GuestNeed,
    ) -> Result<(), Status> {
        let Some(guest) = actor.guest() else {
            return Ok(());
        };
        let verdict = {
            let (store, guest_name) = (store.clone(), guest.to_owned());
            self.run(owner, move || {
                crate::guest::check(&store, &guest_name, &need)
            })
            .await?
        };
        verdict.map_err(|refusal| self.guest_refused(method, owner, guest, refusal))
    }

    /// A guest's refused call, logged, as the status its client maps.
    fn guest_refused(
        &self,
        method: &'static str,
        owner: &str,
        guest: &str,
        refused: GuestRefusal,
    ) -> Status {
        tracing::info!(
            method,
            owner,
            guest,
            ?refused,
            "guest call refused by the ACL"
        );
        match refused {
            GuestRefusal::Hidden(mailbox) => mailkeep_storage_rpc::errors::status(
                ErrorReason::Nonexistent,
                format!("no mailbox {mailbox:?}"),
            ),
            GuestRefusal::Missing { mailbox, need } => mailkeep_storage_rpc::errors::status(
                ErrorReason::NoPermission,
                format!("the right(s) {need} on {mailbox:?} are not granted to {guest}"),
            ),
            GuestRefusal::OwnerOnly => refusal(
                Code::PermissionDenied,
                format!("{method} is for the owner {owner:?} only"),
            ),
        }
    }

    /// Admits a session-scope call for the owner its request names (see
    /// [`Gate::admit_scoped`]), logging a refusal under `method`.
    pub(crate) async fn admit_call<R: OwnedRequest>(
        &self,
        request: Request<R>,
        method: &'static str,
    ) -> Result<Admitted<R>, Status> {
        self.admit_scoped(request, method, Scope::Session).await
    }

    /// Admits a call that needs only `need` access (a deliver ticket's
    /// calls: Append, MailboxExists, QuotaUsage): the ticket (see
    /// [`Gate::admit_actor`]) and, for a guest, the rights the request
    /// needs on the owner's mailboxes ([`OwnedRequest::guest_needs`], or
    /// for another user's deliver ticket [`OwnedRequest::deliverer_needs`]).
    pub(crate) async fn admit_scoped<R: OwnedRequest>(
        &self,
        request: Request<R>,
        method: &'static str,
        need: Scope,
    ) -> Result<Admitted<R>, Status> {
        let owner = request.get_ref().owner().to_owned();
        let (store, actor) = self.admit_actor(ticket_of(&request), &owner, need, method)?;
        let req = request.into_inner();
        let guest_need = match &actor {
            Actor::Owner => None,
            Actor::Guest(_) => Some(req.guest_needs(method)),
            Actor::Deliverer(_) => Some(req.deliverer_needs(method)),
        };
        if let Some(guest_need) = guest_need {
            self.check_guest(&owner, &store, &actor, method, guest_need)
                .await?;
        }
        Ok(Admitted {
            owner,
            store,
            actor,
            req,
        })
    }

    /// The whole of a simple call: admits it (as [`Gate::admit_call`]) and
    /// runs `work` with the owner's store and the request (as
    /// [`Gate::run`]).
    pub(crate) async fn serve<R, T, F>(
        &self,
        request: Request<R>,
        method: &'static str,
        work: F,
    ) -> Result<T, Status>
    where
        R: OwnedRequest + Send + 'static,
        T: Send + 'static,
        F: FnOnce(Store, R) -> Result<T, StoreError> + Send + 'static,
    {
        self.serve_scoped(request, method, Scope::Session, work)
            .await
    }

    /// [`Gate::serve`] for a read that may be answered at once when the
    /// mailbox is settled: `settled` runs first on the calling thread (see
    /// [`Gate::run_settled`]) for the owner only (settled reads show the
    /// owner's flags), `work` when it could not answer or for a guest;
    /// `work` is told who acts.
    pub(crate) async fn serve_settled<R, T, Q, F>(
        &self,
        request: Request<R>,
        method: &'static str,
        settled: Q,
        work: F,
    ) -> Result<T, Status>
    where
        R: OwnedRequest + Send + 'static,
        T: Send + 'static,
        Q: FnOnce(&Store, &R) -> Result<Option<T>, StoreError>,
        F: FnOnce(Store, R, Actor) -> Result<T, StoreError> + Send + 'static,
    {
        let Admitted {
            owner,
            store,
            actor,
            req,
        } = self.admit_scoped(request, method, Scope::Session).await?;
        if actor == Actor::Owner
            && let Some(answer) = self.run_settled(|| settled(&store, &req))?
        {
            return Ok(answer);
        }
        self.run(&owner, move || work(store, req, actor)).await
    }

    /// [`Gate::serve`] for a call that needs only `need` access.
    pub(crate) async fn serve_scoped<R, T, F>(
        &self,
        request: Request<R>,
        method: &'static str,
        need: Scope,
        work: F,
    ) -> Result<T, Status>
    where
        R: OwnedRequest + Send + 'static,
        T: Send + 'static,
        F: FnOnce(Store, R) -> Result<T, StoreError> + Send + 'static,
    {
        let Admitted {
            owner, store, req, ..
        } = self.admit_scoped(request, method, need).await?;
        self.run(&owner, move || work(store, req)).await
    }
}

/// The only calls another user's deliver ticket may make on an owner's
/// storage (a delivery into a shared mailbox): whether the folder exists,
/// and the append. Other calls a deliver ticket may make for its own user
/// (quota reads among them) stay its own user's.
const DELIVERER_METHODS: [&str; 2] = ["MailboxExists", "Append"];

/// The guest a verified ticket of another user than `owner` acts as for
/// `method`, a call that needs `need`: a session ticket's user for any call
/// but an admin's; a deliver ticket's user (a delivery into a shared
/// mailbox) only for [`DELIVERER_METHODS`]. `None`: the ticket must be for
/// the owner itself (or an admin's), which [`Claims::authorize`] decides.
///
/// [`Claims::authorize`]: mailkeep_ticket::Claims::authorize
fn guest_of(
    claims: &mailkeep_ticket::Claims,
    owner: &str,
    need: Scope,
    method: &str,
) -> Option<Actor> {
    if claims.user == owner || need == Scope::Admin {
        return None;
    }
    match (claims.scope, need) {
        (Scope::Session, _) => Some(Actor::Guest(claims.user.clone())),
        (Scope::Deliver, Scope::Deliver) if DELIVERER_METHODS.contains(&method) => {
            Some(Actor::Deliverer(claims.user.clone()))
        }
        _ => None,
    }
}

/// A call for an owner this process does not serve (any more: it let the
/// owner go when idle, or a warm channel of another owner's process was
/// tried): unavailable here, so the caller asks the broker for the owner's
/// process and calls again, as after a lost process.
fn not_served(owner: &str) -> Status {
    mailkeep_storage_rpc::errors::status(
        ErrorReason::Unavailable,
        format!("this storage process does not serve owner {owner:?}"),
    )
}

/// A refused call: [`ErrorReason::NoPermission`] with `code`, which keeps
/// telling a caller whether renewing its ticket may help
/// (UNAUTHENTICATED) or not (PERMISSION_DENIED).
fn refusal(code: Code, message: impl Into<String>) -> Status {
    let detail = ErrorDetail {
        reason: ErrorReason::NoPermission as i32,
    };
    Status::with_details(code, message.into(), detail.encode_to_vec().into())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use mailkeep_store::Store;
    use mailkeep_ticket::TrustedHosts;

    use super::Gate;

    /// A gate serving two owners whose stores hold open connections.
    fn gate_with_two_owners(dir: &std::path::Path) -> Gate {
        let mut stores = HashMap::new();
        for owner in ["alice", "bob"] {
            let store = Store::open(&dir.join(owner).join("Maildir")).unwrap();
            store.status("INBOX").unwrap();
            stores.insert(owner.to_owned(), store);
        }
        Gate::new(TrustedHosts::new(), stores)
    }

    #[tokio::test]
    async fn only_owners_idle_long_enough_are_released_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let gate = gate_with_two_owners(dir.path());
        gate.touch("alice");
        gate.touch("bob");
        assert_eq!(gate.release_idle(Duration::from_secs(3600)).await, 0);
        assert_eq!(gate.release_idle(Duration::ZERO).await, 2);
        assert_eq!(
            gate.release_idle(Duration::ZERO).await,
            0,
            "released owners with no call since are skipped"
        );
        assert!(
            gate.activity.lock().unwrap().values().all(|a| a.released),
            "the release itself is no call"
        );
        // A call makes the owner a candidate again.
        gate.touch("bob");
        let bob = gate.stores.read().unwrap().get("bob").cloned().unwrap();
        bob.status("INBOX").unwrap();
        assert_eq!(gate.release_idle(Duration::ZERO).await, 1);
    }

    #[tokio::test]
    async fn open_owners_are_those_called_or_opened_and_not_released_since() {
        let dir = tempfile::tempdir().unwrap();
        let gate = gate_with_two_owners(dir.path());
        assert_eq!(gate.open_owners(), 2, "opened, never called");
        gate.touch("alice");
        assert_eq!(gate.open_owners(), 2);
        assert_eq!(gate.release_idle(Duration::ZERO).await, 2);
        assert_eq!(gate.open_owners(), 0);
        gate.touch("bob");
        assert_eq!(gate.open_owners(), 1);
    }
}

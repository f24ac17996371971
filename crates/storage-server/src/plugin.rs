//! Storage-side plugins (DESIGN §4): a plugin adds its own gRPC services to
//! the storage process's server and hooks into what the base services do
//! (before-append for quota, after-append, after-expunge, mailbox created,
//! deleted, renamed), and never sees the base code's internals.
//!
//! Admission stays one path: every method a plugin serves is declared with
//! the ticket scope it needs ([`StoragePlugin::methods`]), and the plugin's
//! handler admits each call with [`PluginHost::admit`], which runs the
//! gate's own check (ticket, revocation, scope, owner served here) with
//! the declared scope. A method a plugin did not declare is refused.
//! Another user (a guest) is refused too, except for the read methods a
//! plugin declares in [`StoragePlugin::guest_methods`], which
//! [`PluginHost::admit_shared_read`] lets through only when the owner's
//! ACLs grant the guest `l` or `r` (the gate's guest check).
//!
//! The binary fills the list of plugins from the configuration
//! (`[plugins] enabled`); the storage process knows none of their messages.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_store::{Rights, Store, StoreError};
pub use mailkeep_ticket::Scope;
pub use tonic::service::RoutesBuilder;
use tonic::{Request, Status};

use crate::gate::Gate;
use crate::guest::GuestNeed;

/// What a before-append hook is asked about: messages about to be added to
/// an owner's mailbox.
#[derive(Debug, Clone, Copy)]
pub struct Adding<'a> {
    /// The owner whose mail grows.
    pub owner: &'a str,
    /// The mailbox the messages go into.
    pub mailbox: &'a str,
    /// How they come.
    pub kind: AddKind,
    /// How many messages.
    pub messages: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// How messages are being added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddKind {
    /// APPEND, or a delivery (both are the Append call).
    Append,
    /// COPY: the owner's usage grows by the copies.
    Copy,
    /// MOVE within the owner's mail: usage does not change (`bytes` and
    /// `messages` are those moved).
    Move,
}

/// An owner this process starts serving, with the extra fields of their
/// users-file entry (`userdb_quota_rule=*:storage=1G`, ...), for plugins
/// that take per-user settings from the userdb as Dovecot's do.
#[derive(Debug, Clone, Default)]
pub struct OwnerInfo {
    /// The owner's name.
    pub owner: String,
    /// The entry's extra fields, `key`, `value`, in file order.
    pub userdb: Vec<(String, String)>,
}

impl OwnerInfo {
    /// The value of the extra field `key`, if the entry has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.userdb
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A storage-side plugin. Hooks have empty defaults; a plugin overrides
/// the ones it needs. Hooks that run with a [`Store`] run on the owner's
/// store thread (blocking, with the owner's credentials in shared mode).
pub trait StoragePlugin: Send + Sync + 'static {
    /// The plugin's name, as `[plugins] enabled` spells it.
    fn name(&self) -> &'static str;

    /// Every gRPC method the plugin serves, as its full path
    /// (`/mailkeep.quota.v1.Quota/GetQuota`), with the ticket scope a call
    /// needs.
    fn methods(&self) -> &'static [(&'static str, Scope)];

    /// The methods among [`StoragePlugin::methods`] that another user (a
    /// guest, by their session ticket) may call too: reads of what the
    /// owner shares with them, whose handlers admit each call with
    /// [`PluginHost::admit_shared_read`]. Every other method refuses
    /// guests.
    fn guest_methods(&self) -> &'static [&'static str] {
        &[]
    }

    /// Adds the plugin's gRPC services; their handlers admit each call with
    /// `host`.
    fn add_services(&self, host: PluginHost, routes: &mut RoutesBuilder);

    /// This process now serves `owner` (at start and as owners are added).
    fn owner_added(&self, _owner: &OwnerInfo) {}

    /// Before messages are added; an error refuses the whole call with it
    /// (e.g. [`StoreError::OverQuota`], which every protocol reports as
    /// over quota).
    fn before_add(&self, _store: &Store, _adding: &Adding<'_>) -> Result<(), StoreError> {
        Ok(())
    }

    /// After an add that every `before_add` allowed has ended, committed
    /// or not (before `after_add`): with `before_add` it brackets the add,
    /// e.g. the quota plugin's reservation, so that concurrent adds cannot
    /// all pass a check that only one of them fits.
    fn add_ended(&self, _adding: &Adding<'_>) {}

    /// After the messages `adding` named were committed as `uids` (an
    /// append, a delivery, a COPY or MOVE's copies), on the owner's store
    /// thread; e.g. the quota plugin's warnings.
    fn after_add(&self, _store: &Store, _adding: &Adding<'_>, _uids: &[u32]) {}

    /// After messages of `mailbox` were expunged (EXPUNGE, MOVE's source).
    fn after_expunge(&self, _owner: &str, _mailbox: &str) {}

    /// After a mailbox was created.
    fn mailbox_created(&self, _owner: &str, _mailbox: &str) {}

    /// After a mailbox was deleted.
    fn mailbox_deleted(&self, _owner: &str, _mailbox: &str) {}

    /// After a mailbox was renamed.
    fn mailbox_renamed(&self, _owner: &str, _from: &str, _to: &str) {}
}

/// The plugins a storage process runs, in the configured order.
#[derive(Clone, Default)]
pub struct Plugins(Vec<Arc<dyn StoragePlugin>>);

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| p.name()))
            .finish()
    }
}

impl Plugins {
    /// The plugins `list` names.
    pub fn new(list: Vec<Arc<dyn StoragePlugin>>) -> Plugins {
        Plugins(list)
    }

    /// Each plugin.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn StoragePlugin>> {
        self.0.iter()
    }

    /// Tells every plugin of an owner this process now serves.
    pub(crate) fn owner_added(&self, owner: &OwnerInfo) {
        self.0.iter().for_each(|p| p.owner_added(owner));
    }

    /// Runs every before-add hook; the first refusal wins, and the
    /// plugins that had allowed the add hear that it ended.
    pub(crate) fn before_add(&self, store: &Store, adding: &Adding<'_>) -> Result<(), StoreError> {
        for (allowed, plugin) in self.0.iter().enumerate() {
            if let Err(refused) = plugin.before_add(store, adding) {
                self.0[..allowed].iter().for_each(|p| p.add_ended(adding));
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Runs every add-ended hook (see [`StoragePlugin::add_ended`]).
    pub(crate) fn add_ended(&self, adding: &Adding<'_>) {
        self.0.iter().for_each(|p| p.add_ended(adding));
    }

    /// Runs every after-add hook.
    pub(crate) fn after_add(&self, store: &Store, adding: &Adding<'_>, uids: &[u32]) {
        self.0.iter().for_each(|p| p.after_add(store, adding, uids));
    }

    /// The scope each declared method needs, by full path.
    fn scopes(&self) -> HashMap<&'static str, Scope> {
        self.0
            .iter()
            .flat_map(|p| p.methods().iter().copied())
            .collect()
    }
}

/// What a plugin's service handlers get: admission through the storage
/// process's gate with the scope the plugin declared, and the owner's
/// store work on the right threads.
#[derive(Clone)]
pub struct PluginHost {
    gate: Arc<Gate>,
    scopes: Arc<HashMap<&'static str, Scope>>,
    /// The methods a guest may call ([`StoragePlugin::guest_methods`]).
    guest_methods: Arc<HashSet<&'static str>>,
}

impl PluginHost {
    /// Admits a call to the plugin method `path` for `owner`: the gate's
    /// check with the scope the plugin declared for `path`. Returns the
    /// owner's store.
    pub fn admit<R>(
        &self,
        request: &Request<R>,
        owner: &str,
        path: &'static str,
    ) -> Result<Store, Status> {
        let scope = self.scope_of(path)?;
        self.gate.admit(ticket_of(request), owner, scope, path)
    }

    /// Admits a call to the read method `path` as [`PluginHost::admit`]
    /// does, and also, when the plugin declared `path` among its
    /// [`StoragePlugin::guest_methods`], another user's session ticket if
    /// the owner's ACLs grant that guest `l` or `r` on `mailbox` (with
    /// `None`: on some mailbox of the owner), checked by the gate as
    /// every guest call is (another user's deliver ticket is refused by
    /// the gate itself: it admits deliverers to MailboxExists and Append
    /// only). Returns the owner's store and, when a guest acts, the
    /// guest's name.
    pub async fn admit_shared_read<R>(
        &self,
        request: &Request<R>,
        owner: &str,
        mailbox: Option<&str>,
        path: &'static str,
    ) -> Result<(Store, Option<String>), Status> {
        let scope = self.scope_of(path)?;
        if !self.guest_methods.contains(path) {
            return self.admit(request, owner, path).map(|store| (store, None));
        }
        let ticket = ticket_of(request);
        let (store, actor) = self.gate.admit_actor(ticket, owner, scope, path)?;
        let need = GuestNeed::AnyOf(
            mailbox.map(str::to_owned),
            Rights::LOOKUP.union(Rights::READ),
        );
        self.gate
            .check_guest(owner, &store, &actor, path, need)
            .await?;
        Ok((store, actor.guest().map(str::to_owned)))
    }

    /// The scope the plugin declared for `path`; an undeclared method is
    /// refused.
    fn scope_of(&self, path: &'static str) -> Result<Scope, Status> {
        self.scopes.get(path).copied().ok_or_else(|| {
            tracing::error!(path, "plugin method not declared; refused");
            mailkeep_storage_rpc::errors::status(
                mailkeep_storage_rpc::errors::ErrorReason::NoPermission,
                format!("plugin method {path} declares no scope"),
            )
        })
    }

    /// Runs `owner`'s store work off the async threads (see the gate).
    pub async fn run<T, F>(&self, owner: &str, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    {
        self.gate.run(owner, work).await
    }

    /// A failure of the store as the status every client understands.
    pub fn status_of(e: StoreError) -> Status {
        crate::convert::status_of(e)
    }

    /// A request the plugin cannot serve as asked (INVALID_ARGUMENT).
    pub fn invalid(message: impl Into<String>) -> Status {
        crate::convert::invalid(message)
    }
}

/// Adds every plugin's services to `routes`, each given a host over `gate`.
pub(crate) fn add_services(gate: &Arc<Gate>, plugins: &Plugins, routes: &mut RoutesBuilder) {
    let host = PluginHost {
        gate: Arc::clone(gate),
        scopes: Arc::new(plugins.scopes()),
        guest_methods: Arc::new(
            plugins
                .iter()
                .flat_map(|p| p.guest_methods().iter().copied())
                .collect(),
        ),
    };
    for plugin in plugins.iter() {
        plugin.add_services(host.clone(), routes);
        tracing::info!(plugin = plugin.name(), "storage plugin loaded");
    }
}

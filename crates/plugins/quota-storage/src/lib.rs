//! The quota plugin, storage side (issue 11; DESIGN §4 "Plugins"): the
//! `mailkeep.quota.v1.Quota` service and the before-append hook that
//! refuses an APPEND, COPY or delivery that would pass the owner's limits
//! (`StoreError::OverQuota`, which IMAP answers `NO [OVERQUOTA]` and LMTP
//! `552 5.2.2`). Limits come, most specific first, from an override an
//! administrator set (SETQUOTA, kept in the owner's index), the owner's
//! users-file quota rules in Dovecot's syntax, and `[plugins.quota]`.
//!
//! Usage is the store's own count, kept by index triggers in the same
//! transaction as every change (so a killed process cannot leave it
//! wrong), with outside changes picked up by a sync before it is read.
//! The hook checks early and hands the limits to the store
//! ([`Store::set_usage_cap`]), whose commit checks them again inside the
//! index write transaction: exact across an owner's storage processes.
//!
//! GetQuota also answers a guest (another user's session ticket) who
//! holds `l` or `r` on the mailbox asked about, or on some mailbox of the
//! owner: RFC 9208 GETQUOTAROOT of a shared mailbox names the owner's
//! root. SetQuota and Recalc stay the owner's.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod rules;
mod service;
mod settings;
pub mod warning;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use mailkeep_storage_server::plugin::{
    AddKind, Adding, OwnerInfo, PluginHost, RoutesBuilder, Scope, StoragePlugin,
};
use mailkeep_store::{Store, StoreError, UsageCap};

pub use rules::Limits;
pub use settings::{QuotaSettings, SettingsError};

/// The generated protobuf code of `mailkeep.quota.v1`.
pub mod pb {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.quota.v1");
}

/// The plugin's name in `[plugins] enabled`.
pub const NAME: &str = "quota";

/// The methods of the Quota service and the ticket scope each needs.
/// Reading usage is a delivery's question too; changing limits or
/// recounting needs a session (the protocol side lets quota admins only)
/// or the admin CLI.
pub const METHODS: &[(&str, Scope)] = &[
    (GET_QUOTA, Scope::Deliver),
    ("/mailkeep.quota.v1.Quota/SetQuota", Scope::Session),
    ("/mailkeep.quota.v1.Quota/Recalc", Scope::Session),
];

/// The path of the read method.
pub(crate) const GET_QUOTA: &str = "/mailkeep.quota.v1.Quota/GetQuota";

/// The methods a guest may call too: reading the quota of another owner's
/// root, with `l` or `r` on the mailbox asked about (RFC 9208
/// GETQUOTAROOT of a shared mailbox) or on some mailbox of the owner
/// (GETQUOTA of that root). Changing limits and recounting stay the
/// owner's (and the admin's).
pub const GUEST_METHODS: &[&str] = &[GET_QUOTA];

/// The keys of the override in the owner's index (plugin state).
const OVERRIDE_STORAGE: &str = "storage";
const OVERRIDE_MESSAGES: &str = "messages";

/// The quota plugin of one storage process.
pub struct QuotaPlugin {
    inner: Arc<Inner>,
}

/// What the hook and the service share.
pub(crate) struct Inner {
    defaults: Limits,
    /// Percentages of a limit at which the owner gets a warning.
    warnings: Vec<u8>,
    /// Each owner's limits from their users-file rules.
    userdb: RwLock<HashMap<String, Limits>>,
    /// What adds allowed but not yet ended will add, per owner (bytes,
    /// messages): counted by the next check, so that concurrent appends
    /// of one storage process cannot together pass a limit.
    pending: Mutex<HashMap<String, (u64, u64)>>,
}

/// The limits in force for one owner, and whether an override set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InForce {
    pub(crate) limits: Limits,
    pub(crate) overridden: bool,
}

impl Inner {
    /// The owner's limits: override, then userdb rule, then default.
    pub(crate) fn in_force(&self, owner: &str, store: &Store) -> Result<InForce, StoreError> {
        let stored = |key| -> Result<Option<u64>, StoreError> {
            Ok(store
                .plugin_value(NAME, key)?
                .and_then(|v| v.parse::<u64>().ok()))
        };
        let over = Limits {
            storage: stored(OVERRIDE_STORAGE)?,
            messages: stored(OVERRIDE_MESSAGES)?,
        };
        let userdb = self
            .userdb
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .copied()
            .unwrap_or_default();
        Ok(InForce {
            limits: over.or(userdb).or(self.defaults),
            overridden: over != Limits::default(),
        })
    }

    /// Stores (or with `None` removes) the owner's override.
    pub(crate) fn set_override(store: &Store, limits: Limits) -> Result<(), StoreError> {
        let text = |v: Option<u64>| v.map(|v| v.to_string());
        let storage = text(limits.storage);
        let messages = text(limits.messages);
        store.set_plugin_value(NAME, OVERRIDE_STORAGE, storage.as_deref())?;
        store.set_plugin_value(NAME, OVERRIDE_MESSAGES, messages.as_deref())
    }
}

impl QuotaPlugin {
    /// The plugin with the `[plugins.quota]` table's settings.
    pub fn new(settings: &QuotaSettings) -> QuotaPlugin {
        QuotaPlugin {
            inner: Arc::new(Inner {
                defaults: settings.defaults,
                warnings: settings.warnings.clone(),
                userdb: RwLock::default(),
                pending: Mutex::default(),
            }),
        }
    }

    /// The limits in force for `owner` (see the crate docs).
    pub fn limits(&self, owner: &str, store: &Store) -> Result<Limits, StoreError> {
        Ok(self.inner.in_force(owner, store)?.limits)
    }
}

/// Whether adding `adding` to `usage` (bytes, messages) passes `limits`
/// (0: unlimited). A MOVE stays within the owner's one quota root, so it
/// never changes usage and is never refused (RFC 9208 §4.2 counts what a
/// root holds).
pub fn exceeds(limits: Limits, usage: (u64, u64), adding: &Adding<'_>) -> Option<String> {
    if adding.kind == AddKind::Move {
        return None;
    }
    let resources = [
        (
            "storage quota of",
            "bytes",
            limits.storage,
            usage.0,
            adding.bytes,
        ),
        (
            "message quota of",
            "messages",
            limits.messages,
            usage.1,
            adding.messages,
        ),
    ];
    resources
        .into_iter()
        .find(|&(_, _, limit, used, more)| {
            limit.is_some_and(|l| l > 0 && used.saturating_add(more) > l)
        })
        .map(|(what, unit, limit, used, more)| {
            format!(
                "{what} {} {unit}: {used} used, {more} more asked",
                limit.unwrap_or(0)
            )
        })
}

impl StoragePlugin for QuotaPlugin {
    fn name(&self) -> &'static str {
        NAME
    }

    fn methods(&self) -> &'static [(&'static str, Scope)] {
        METHODS
    }

    fn guest_methods(&self) -> &'static [&'static str] {
        GUEST_METHODS
    }

    fn add_services(&self, host: PluginHost, routes: &mut RoutesBuilder) {
        routes.add_service(service::server(host, Arc::clone(&self.inner)));
    }

    fn owner_added(&self, owner: &OwnerInfo) {
        let fields = owner.userdb.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let (limits, errors) = rules::from_userdb(fields);
        for e in errors {
            tracing::warn!(owner = owner.owner, "{e}; the rule is ignored");
        }
        self.inner
            .userdb
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(owner.owner.clone(), limits);
    }

    fn before_add(&self, store: &Store, adding: &Adding<'_>) -> Result<(), StoreError> {
        let limits = self.inner.in_force(adding.owner, store)?.limits;
        // The exact check: the store's commit refuses, in the index write
        // transaction every process of the owner serialises on, an add
        // that takes the usage past these limits (two processes can both
        // pass the early check below, never both commit).
        store.set_usage_cap(UsageCap {
            bytes: limits.storage,
            messages: limits.messages,
        });
        if limits == Limits::default() || adding.kind == AddKind::Move {
            return Ok(());
        }
        // The early check, before the commit's work: the usage and this
        // process's reservations are read, and this add reserved, under
        // one lock, so two adds of this process cannot both pass on the
        // same room. (An
        // add that committed but has not ended yet counts twice for a
        // moment: at the very edge a check may refuse, never overshoot.)
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (bytes, messages) = store.quota_usage()?;
        let (held_bytes, held_messages) = pending.get(adding.owner).copied().unwrap_or_default();
        let usage = (
            bytes.saturating_add(held_bytes),
            messages.saturating_add(held_messages),
        );
        match exceeds(limits, usage, adding) {
            None => {
                let held = pending.entry(adding.owner.to_owned()).or_default();
                held.0 = held.0.saturating_add(adding.bytes);
                held.1 = held.1.saturating_add(adding.messages);
                Ok(())
            }
            Some(context) => {
                tracing::info!(owner = adding.owner, mailbox = adding.mailbox, %context,
                    "refused: over quota");
                Err(StoreError::OverQuota { context })
            }
        }
    }

    fn add_ended(&self, adding: &Adding<'_>) {
        if adding.kind == AddKind::Move {
            return;
        }
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = pending.get_mut(adding.owner) {
            held.0 = held.0.saturating_sub(adding.bytes);
            held.1 = held.1.saturating_sub(adding.messages);
            if *held == (0, 0) {
                pending.remove(adding.owner);
            }
        }
    }

    fn after_add(&self, store: &Store, adding: &Adding<'_>, _uids: &[u32]) {
        if self.inner.warnings.is_empty() {
            return;
        }
        let warned = (|| {
            let limits = self.inner.in_force(adding.owner, store)?.limits;
            let usage = store.quota_usage()?;
            match warning::warning_for(&self.inner.warnings, limits, usage, adding) {
                Some(text) => warning::deliver(store, &text).map(|()| true),
                None => Ok(false),
            }
        })();
        match warned {
            Ok(true) => tracing::info!(owner = adding.owner, "quota warning delivered"),
            Ok(false) => {}
            Err(e) => tracing::warn!(owner = adding.owner, error = %e, "quota warning failed"),
        }
    }
}

#[cfg(test)]
mod tests;

//! The check every call passes before the store is touched: a valid
//! ticket, of a scope that allows the call, for an owner this process
//! serves.

use std::collections::HashMap;
use std::sync::RwLock;

use mailkeep_store::Store;
use mailkeep_ticket::{Scope, TicketError, TicketKey, now_unix, verify};
use tonic::Status;

/// The ticket key and the stores of the owners this process serves.
pub(crate) struct Gate {
    key: TicketKey,
    stores: RwLock<HashMap<String, Store>>,
}

impl Gate {
    /// A gate for `stores` (owner → store), checking tickets with `key`.
    pub(crate) fn new(key: TicketKey, stores: HashMap<String, Store>) -> Gate {
        Gate {
            key,
            stores: RwLock::new(stores),
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

    /// Whether this process already serves `owner`.
    pub(crate) fn serves(&self, owner: &str) -> bool {
        match self.stores.read() {
            Ok(stores) => stores.contains_key(owner),
            Err(poisoned) => poisoned.into_inner().contains_key(owner),
        }
    }

    /// The store of `owner` if `ticket` allows `need` access to it.
    /// Bad, expired or forged tickets are UNAUTHENTICATED; a wrong scope,
    /// another user's ticket or an owner not served here is
    /// PERMISSION_DENIED. Every refusal is logged.
    pub(crate) fn admit(
        &self,
        ticket: Option<&str>,
        owner: &str,
        need: Scope,
        method: &'static str,
    ) -> Result<Store, Status> {
        let refuse = |status: Status| {
            tracing::warn!(method, owner, code = ?status.code(), reason = status.message(),
                "storage call refused");
            Err(status)
        };
        let Some(ticket) = ticket else {
            return refuse(Status::unauthenticated("no ticket in the call's metadata"));
        };
        let claims = match verify(&self.key, ticket, now_unix()) {
            Ok(claims) => claims,
            Err(e) => return refuse(Status::unauthenticated(format!("ticket refused: {e}"))),
        };
        if let Err(e) = claims.authorize(owner, need) {
            let status = match e {
                TicketError::WrongScope { .. } | TicketError::WrongOwner { .. } => {
                    Status::permission_denied(format!("ticket refused: {e}"))
                }
                _ => Status::unauthenticated(format!("ticket refused: {e}")),
            };
            return refuse(status);
        }
        let found = match self.stores.read() {
            Ok(stores) => stores.get(owner).cloned(),
            Err(poisoned) => poisoned.into_inner().get(owner).cloned(),
        };
        match found {
            Some(store) => Ok(store),
            None => refuse(Status::permission_denied(format!(
                "this storage process does not serve owner {owner:?}"
            ))),
        }
    }
}

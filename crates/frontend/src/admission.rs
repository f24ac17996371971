//! Per-address limits on clients, enforced where connections arrive (the
//! protocol process), so one address cannot take every connection slot:
//! how many connections from one address may be waiting to log in, and how
//! many logged-in connections one user may have from one address
//! (Dovecot's `mail_max_userip_connections`). Addresses in the exempt
//! networks (a webmail host, a load generator) are not counted.
//!
//! Each connection holds an [`Admission`]: its place in these counts and
//! the address auth and the limits know the client by, which a trusted
//! proxy may restate (PROXY v2 at accept, IMAP ID before login). Counts
//! are per process: with several protocol processes an address may get
//! that many times the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::networks::{Networks, canonical};

/// The per-address limits and the networks they treat specially.
#[derive(Debug, Clone, Default)]
pub struct ClientPolicy {
    /// Connections not yet logged in from one address at once; 0: no limit.
    pub max_unauthenticated_per_address: usize,
    /// Logged-in connections of one user from one address at once; 0: no
    /// limit.
    pub max_connections_per_user_address: usize,
    /// Addresses the limits do not apply to.
    pub exempt: Networks,
    /// Peers allowed to state the client's address (PROXY v2, IMAP ID).
    pub trusted: Networks,
}

/// A refusal under the per-address limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// Too many connections from the address are waiting to log in.
    #[error("{count} connections from {address} are not logged in yet (limit {limit})")]
    Unauthenticated {
        /// The client's address.
        address: IpAddr,
        /// Connections it has now.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The user has too many connections from the address.
    #[error("{user} has {count} connections from {address} (limit {limit})")]
    UserAddress {
        /// The user.
        user: String,
        /// The client's address.
        address: IpAddr,
        /// Connections they have now.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct Counts {
    unauthenticated: HashMap<IpAddr, usize>,
    logged_in: HashMap<(String, IpAddr), usize>,
}

/// The counts of one process, shared by its connections.
#[derive(Debug, Default)]
pub struct ClientTable {
    policy: ClientPolicy,
    counts: Mutex<Counts>,
}

/// What one connection counts as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// Not counted (no IP address, exempt, or a trusted proxy).
    Uncounted,
    /// Waiting to log in, from this address.
    Unauthenticated(IpAddr),
    /// Logged in as this user from this address.
    LoggedIn(String, IpAddr),
}

/// One connection's place under the limits, released when dropped.
#[derive(Debug)]
pub struct Admission {
    table: Arc<ClientTable>,
    /// The address the connection came from (after a PROXY header).
    peer: Option<IpAddr>,
    /// The client's address as last stated by a trusted proxy (IMAP ID).
    stated: Mutex<Option<IpAddr>>,
    place: Mutex<Place>,
}

impl ClientTable {
    /// A table enforcing `policy`.
    pub fn new(policy: ClientPolicy) -> Arc<ClientTable> {
        Arc::new(ClientTable {
            policy,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &ClientPolicy {
        &self.policy
    }

    /// Admits a new connection from `peer` (`None`: a UNIX socket), or
    /// refuses it when its address has too many connections waiting to
    /// log in. Exempt addresses and trusted proxies are not counted.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Admission, LimitExceeded> {
        let peer = peer.map(canonical);
        let mut place = Place::Uncounted;
        if let Some(address) =
            peer.filter(|ip| !self.exempt(*ip) && !self.policy.trusted.contains(*ip))
        {
            let limit = self.policy.max_unauthenticated_per_address;
            let mut counts = self.lock();
            let count = counts.unauthenticated.entry(address).or_insert(0);
            if limit > 0 && *count >= limit {
                let count = *count;
                return Err(LimitExceeded::Unauthenticated {
                    address,
                    count,
                    limit,
                });
            }
            *count += 1;
            place = Place::Unauthenticated(address);
        }
        Ok(Admission {
            table: Arc::clone(self),
            peer,
            stated: Mutex::new(None),
            place: Mutex::new(place),
        })
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        self.policy.exempt.contains(ip)
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Only counters live here; a panic elsewhere cannot corrupt them.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self, place: &Place) {
        let mut counts = self.lock();
        match place {
            Place::Uncounted => {}
            Place::Unauthenticated(address) => decrement(&mut counts.unauthenticated, address),
            Place::LoggedIn(user, address) => {
                decrement(&mut counts.logged_in, &(user.clone(), *address));
            }
        }
    }
}

fn decrement<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

impl Admission {
    /// An admission counted nowhere, for connections made outside an
    /// acceptor (tests, in-memory pipes).
    pub fn unlimited(peer: Option<IpAddr>) -> Admission {
        Admission {
            table: Arc::new(ClientTable::default()),
            peer: peer.map(canonical),
            stated: Mutex::new(None),
            place: Mutex::new(Place::Uncounted),
        }
    }

    /// The client's address as auth and the limits know it: what a trusted
    /// proxy stated, else the connection's peer.
    pub fn client_address(&self) -> Option<IpAddr> {
        let stated = *self.stated.lock().unwrap_or_else(PoisonError::into_inner);
        stated.or(self.peer)
    }

    /// Takes `address` as the client's real address if the connection's
    /// peer is a trusted proxy (IMAP ID `x-originating-ip`); returns
    /// whether it was taken. Only before login: a logged-in connection
    /// keeps the address it was counted under.
    pub fn state_client_address(&self, address: IpAddr) -> bool {
        let trusted = self
            .peer
            .is_some_and(|peer| self.table.policy.trusted.contains(peer));
        let place = self.place.lock().unwrap_or_else(PoisonError::into_inner);
        if !trusted || matches!(*place, Place::LoggedIn(..)) {
            return false;
        }
        *self.stated.lock().unwrap_or_else(PoisonError::into_inner) = Some(canonical(address));
        true
    }

    /// `user` logged in: counts the connection under the user and the
    /// client's address, or refuses when they have too many already (the
    /// connection then stays as it was, not logged in).
    pub fn log_in(&self, user: &str) -> Result<(), LimitExceeded> {
        let address = self.client_address();
        let mut place = self.place.lock().unwrap_or_else(PoisonError::into_inner);
        let policy = &self.table.policy;
        let new = match address {
            Some(address) if !policy.exempt.contains(address) => {
                let limit = policy.max_connections_per_user_address;
                let mut counts = self.table.lock();
                let count = counts
                    .logged_in
                    .entry((user.to_owned(), address))
                    .or_insert(0);
                if limit > 0 && *count >= limit {
                    let count = *count;
                    return Err(LimitExceeded::UserAddress {
                        user: user.to_owned(),
                        address,
                        count,
                        limit,
                    });
                }
                *count += 1;
                Place::LoggedIn(user.to_owned(), address)
            }
            _ => Place::Uncounted,
        };
        let old = std::mem::replace(&mut *place, new);
        self.table.release(&old);
        Ok(())
    }

    /// The login ended but the connection stays (IMAP UNAUTHENTICATE): it
    /// counts as waiting to log in again, without a check (it is already
    /// here).
    pub fn log_out(&self) {
        let mut place = self.place.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*place, Place::LoggedIn(..)) {
            return;
        }
        let new = match self.peer {
            Some(peer) if !self.table.exempt(peer) && !self.table.policy.trusted.contains(peer) => {
                *self.table.lock().unauthenticated.entry(peer).or_insert(0) += 1;
                Place::Unauthenticated(peer)
            }
            _ => Place::Uncounted,
        };
        let old = std::mem::replace(&mut *place, new);
        self.table.release(&old);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let place = self.place.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.table.release(place);
    }
}

#[cfg(test)]
#[path = "tests/admission.rs"]
mod tests;

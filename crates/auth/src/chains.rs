//! Each connection's reply chain (`mailkeep-ticket-seal`'s chain module):
//! begun by the requester with one OpenChain when it connects, after
//! which a request names its index in the chain instead of carrying a
//! reply key, and its ticket is sealed without an exchange. A chain lives
//! as long as its connection, like the connection's SASL exchanges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mailkeep_ticket_seal::{ChainError, ChainedKey, Purpose, SealError, SealTo, SealerChain};

use crate::exchanges::ConnectionKey;

/// The most chains kept at once: one per connection, which the master
/// limits; a chain begun for a connection that closed while it was being
/// begun is left behind, so the map is bounded too.
const MAX_CHAINS: usize = 16 * 1024;

/// Every open connection's reply chain, each behind a lock of its own (a
/// requester that jumps ahead makes only its own requests wait).
#[derive(Debug, Default)]
pub(crate) struct ReplyChains {
    chains: Mutex<HashMap<ConnectionKey, Arc<Mutex<SealerChain>>>>,
}

/// Why a request's chain index gives no key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChainRefused {
    /// The connection has begun no chain.
    #[error("no reply chain on this connection")]
    NoChain,
    /// No room for another chain.
    #[error("too many reply chains")]
    TooMany,
    /// The chain has no key for the index.
    #[error(transparent)]
    Index(#[from] ChainError),
    /// The requester's key cannot begin a chain.
    #[error(transparent)]
    Key(#[from] SealError),
}

impl ReplyChains {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConnectionKey, Arc<Mutex<SealerChain>>>> {
        // Each call is one insert, remove or lookup: the map stays
        // consistent across a panic.
        self.chains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins `conn`'s chain (replacing any) with the requester's key;
    /// returns auth's public key for it.
    pub(crate) fn open(
        &self,
        conn: ConnectionKey,
        requester: &[u8],
    ) -> Result<Vec<u8>, ChainRefused> {
        let (chain, sealer) = SealerChain::begin(requester)?;
        let mut chains = self.lock();
        if chains.len() >= MAX_CHAINS && !chains.contains_key(&conn) {
            return Err(ChainRefused::TooMany);
        }
        chains.insert(conn, Arc::new(Mutex::new(chain)));
        Ok(sealer)
    }

    /// The message key of request `index` on `conn`, taken from its chain.
    pub(crate) fn key_for(
        &self,
        conn: ConnectionKey,
        index: u64,
    ) -> Result<ChainedKey, ChainRefused> {
        let chain = self
            .lock()
            .get(&conn)
            .cloned()
            .ok_or(ChainRefused::NoChain)?;
        // A derivation either completes or leaves the chain as it was.
        let key = chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .key_for(index)?;
        Ok(key)
    }

    /// Forgets a closed connection's chain.
    pub(crate) fn forget_connection(&self, conn: ConnectionKey) {
        self.lock().remove(&conn);
    }
}

/// Where a request's ticket goes: sealed to its reply key, or under its
/// chain index's message key.
#[derive(Debug)]
pub(crate) enum ReplyTo {
    /// The request's own reply key.
    Key(SealTo),
    /// The message key of the request's index in its connection's chain.
    Chained(ChainedKey),
}

impl ReplyTo {
    /// Seals `ticket` for `purpose` and `user` to wherever it goes.
    pub(crate) fn seal(
        &self,
        ticket: &str,
        purpose: Purpose,
        user: &str,
    ) -> Result<Vec<u8>, SealError> {
        match self {
            ReplyTo::Key(to) => to.seal(ticket, purpose, user),
            ReplyTo::Chained(key) => key.seal(ticket, purpose, user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailkeep_ticket_seal::{ReplyKey, RequesterChain};

    #[test]
    fn a_chain_belongs_to_its_connection_and_goes_with_it() {
        let chains = ReplyChains::default();
        let key = ReplyKey::generate();
        let sealer = chains
            .open(ConnectionKey(1), &key.public_bytes())
            .expect("begun");
        let mut requester = RequesterChain::begin(key, &sealer).expect("requester");
        let mine = requester.next_key();
        assert_eq!(
            chains.key_for(ConnectionKey(2), 1).map(|_| ()),
            Err(ChainRefused::NoChain),
            "another connection has none"
        );
        let sealed = chains
            .key_for(ConnectionKey(1), 1)
            .expect("a key")
            .seal("mk2.t", Purpose::Login, "u")
            .expect("sealed");
        assert_eq!(
            mine.open(&sealed, Purpose::Login, "u")
                .expect("opens")
                .as_str(),
            "mk2.t"
        );
        assert_eq!(
            chains.key_for(ConnectionKey(1), 1).map(|_| ()),
            Err(ChainRefused::Index(ChainError::Used(1)))
        );
        chains.forget_connection(ConnectionKey(1));
        assert_eq!(
            chains.key_for(ConnectionKey(1), 2).map(|_| ()),
            Err(ChainRefused::NoChain)
        );
    }
}

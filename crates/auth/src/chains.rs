//! Each connection's reply chain (`mailkeep-ticket-seal`'s chain module):
//! begun by the requester with one OpenChain when it connects, after
//! which a request names its index in the chain instead of carrying a
//! reply key, and its ticket is sealed without an exchange. A chain lives
//! as long as its connection, like the connection's SASL exchanges.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use mailkeep_ticket_seal::{ChainError, ChainedKey, Purpose, SealError, SealTo, SealerChain};

use crate::exchanges::ConnectionKey;

/// Every open connection's reply chain.
#[derive(Debug, Default)]
pub(crate) struct ReplyChains {
    chains: Mutex<HashMap<ConnectionKey, SealerChain>>,
}

/// Why a request's chain index gives no key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChainRefused {
    /// The connection has begun no chain.
    #[error("no reply chain on this connection")]
    NoChain,
    /// The chain has no key for the index.
    #[error(transparent)]
    Index(#[from] ChainError),
}

impl ReplyChains {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConnectionKey, SealerChain>> {
        // Each call is one insert, remove or key derivation: the map stays
        // consistent across a panic.
        self.chains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins `conn`'s chain (replacing any) with the requester's key;
    /// returns auth's public key for it.
    pub(crate) fn open(&self, conn: ConnectionKey, requester: &[u8]) -> Result<Vec<u8>, SealError> {
        let (chain, sealer) = SealerChain::begin(requester)?;
        self.lock().insert(conn, chain);
        Ok(sealer)
    }

    /// The message key of request `index` on `conn`, taken from its chain.
    pub(crate) fn key_for(
        &self,
        conn: ConnectionKey,
        index: u64,
    ) -> Result<ChainedKey, ChainRefused> {
        let mut chains = self.lock();
        let chain = chains.get_mut(&conn).ok_or(ChainRefused::NoChain)?;
        Ok(chain.key_for(index)?)
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

//! The SASL exchanges in progress, keyed by connection and the caller's
//! `exchange_id`. A protocol process multiplexes many clients over one
//! connection, and two processes may pick the same ids, so the connection
//! is part of the key; when a connection closes, its exchanges go with it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sasl::Exchange;

/// The most exchanges open at once over all connections. A client that
/// stops answering mid-exchange leaves one behind; above this, stale ones
/// are dropped and, if that is not enough, new exchanges are refused.
const MAX_OPEN: usize = 16 * 1024;

/// How long an exchange may wait for the client's next response before it
/// may be dropped to make room.
const STALE_AFTER: Duration = Duration::from_secs(5 * 60);

/// Identifies one connection served by this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ConnectionKey(pub(crate) u64);

#[derive(Debug)]
struct Open {
    exchange: Exchange,
    touched: Instant,
}

/// Every exchange waiting for its client's next response.
#[derive(Debug, Default)]
pub(crate) struct Exchanges {
    open: Mutex<HashMap<(ConnectionKey, u64), Open>>,
}

/// There is no room for another open exchange.
#[derive(Debug)]
pub(crate) struct TooMany;

impl Exchanges {
    fn lock(&self) -> MutexGuard<'_, HashMap<(ConnectionKey, u64), Open>> {
        // The map stays consistent across a panic (single insert/remove calls).
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes and returns the exchange, for its next step.
    pub(crate) fn take(&self, conn: ConnectionKey, id: u64) -> Option<Exchange> {
        self.lock().remove(&(conn, id)).map(|o| o.exchange)
    }

    /// Stores an exchange that waits for the client's next response.
    pub(crate) fn put(
        &self,
        conn: ConnectionKey,
        id: u64,
        exchange: Exchange,
    ) -> Result<(), TooMany> {
        let mut open = self.lock();
        if open.len() >= MAX_OPEN {
            let now = Instant::now();
            open.retain(|_, o| now.saturating_duration_since(o.touched) < STALE_AFTER);
            if open.len() >= MAX_OPEN {
                return Err(TooMany);
            }
        }
        open.insert(
            (conn, id),
            Open {
                exchange,
                touched: Instant::now(),
            },
        );
        Ok(())
    }

    /// Forgets every exchange of a closed connection.
    pub(crate) fn forget_connection(&self, conn: ConnectionKey) {
        self.lock().retain(|(c, _), _| *c != conn);
    }
}

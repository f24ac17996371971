//! The store's one write connection, borrowed under its lock. It may have
//! been closed while the owner was idle ([`crate::Store::release_idle`]);
//! [`crate::Store::conn`] opens it again before handing out a [`Writer`].

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

use rusqlite::Connection;

/// The write connection, held under the store's lock until dropped.
pub(crate) struct Writer<'a> {
    guard: MutexGuard<'a, Option<Connection>>,
}

impl<'a> Writer<'a> {
    /// Wraps a locked slot that holds a connection.
    pub(crate) fn new(guard: MutexGuard<'a, Option<Connection>>) -> Writer<'a> {
        debug_assert!(guard.is_some());
        Writer { guard }
    }
}

impl Writer<'_> {
    /// Closes the connection (the next write opens it again). The value
    /// must not be used as a connection afterwards, only dropped.
    pub(crate) fn close(&mut self) {
        *self.guard = None;
    }
}

impl Deref for Writer<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Filled by Store::conn before construction; only release_idle
        // empties it, and it cannot take the lock while this guard lives.
        self.guard.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.guard.as_mut().unwrap_or_else(|| unreachable!())
    }
}

//! The store's one write connection, borrowed under its lock. It may have
//! been closed while the owner was idle ([`crate::Store::release_idle`]);
//! [`crate::Store::conn`] opens it again before handing out a [`Writer`].
//! Handing it back starts the WAL checkpoint its commits left due (see
//! [`crate::checkpoint`]).

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::MutexGuard;

use rusqlite::Connection;

use crate::checkpoint::{self, Checkpointer};

/// The write connection, held under the store's lock until dropped.
pub(crate) struct Writer<'a> {
    guard: MutexGuard<'a, Option<Connection>>,
    /// The store's checkpoints, and its root, for a checkpoint left due.
    checkpoints: &'a Checkpointer,
    root: &'a Path,
}

impl<'a> Writer<'a> {
    /// Wraps a locked slot that holds a connection of the store at `root`.
    pub(crate) fn new(
        guard: MutexGuard<'a, Option<Connection>>,
        checkpoints: &'a Checkpointer,
        root: &'a Path,
    ) -> Writer<'a> {
        debug_assert!(guard.is_some());
        // Only this connection's commits count from here on.
        checkpoint::forget_due();
        Writer {
            guard,
            checkpoints,
            root,
        }
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if checkpoint::take_due() {
            self.checkpoints.request(self.root);
        }
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

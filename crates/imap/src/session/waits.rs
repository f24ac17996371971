//! How long a command's reply waits for news the mailbox's watch is about
//! to bring before it asks storage instead: the event of the session's
//! own APPEND, and the first stream of a new selection opening. Both come
//! within a millisecond on an idle machine; the bounds keep a slow storage
//! process from holding replies. Set once per imap process from its
//! settings (`[imap] own_append_wait_ms`, `watch_open_wait_ms`); waiting
//! longer only saves a storage call, and a machine under heavy load (a
//! test suite's) may raise them so that the call is saved every time.

use std::sync::OnceLock;
use std::time::Duration;

/// The two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchWaits {
    /// For the watch's event of the session's own APPEND (20 ms).
    pub own_append: Duration,
    /// For the first stream of a selection to open (250 ms).
    pub opening: Duration,
}

impl Default for WatchWaits {
    fn default() -> Self {
        WatchWaits {
            own_append: Duration::from_millis(20),
            opening: Duration::from_millis(250),
        }
    }
}

static WAITS: OnceLock<WatchWaits> = OnceLock::new();

/// Sets the process's bounds; the first call wins (one per process).
pub(crate) fn set(waits: WatchWaits) {
    let _ = WAITS.set(waits);
}

/// The process's bounds (the defaults until set).
pub(crate) fn get() -> WatchWaits {
    WAITS.get().copied().unwrap_or_default()
}

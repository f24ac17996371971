//! Recipients looked up recently: the user auth named, the deliver ticket
//! and the storage path holding its warm channel, reused for the first half
//! of the ticket's life. An MTA delivers to the same users over and over,
//! mostly in short sessions; without this every RCPT cost an auth round
//! trip (a userdb lookup and a signature) and every message a broker
//! attach and a new connection to the storage process, which closed again
//! when the delivery ended.
//!
//! Only successful lookups are kept, so an unknown user is asked about
//! every time; a delivery that fails for a reason other than the message
//! itself forgets its recipient, so the next RCPT asks auth again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use mailkeep_frontend::Storage;

/// Recipients kept at most; past that, expired ones go first, and if none
/// has expired the cache starts afresh.
const CAPACITY: usize = 4096;

/// How often entries past their use are dropped.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Looked-up recipients by the address auth was asked about.
#[derive(Default)]
pub struct RecipientCache {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    user: String,
    storage: Storage,
    /// Until when (unix seconds) the entry is used.
    fresh_until: i64,
}

impl RecipientCache {
    /// The user and storage path of `address` if it was looked up and its
    /// ticket is in the first half of its life at `now_unix`.
    pub fn get(&self, address: &str, now_unix: i64) -> Option<(String, Storage)> {
        let entries = self.lock();
        let entry = entries.get(address)?;
        (now_unix < entry.fresh_until).then(|| (entry.user.clone(), entry.storage.clone()))
    }

    /// Keeps what auth said about `address`: `user`, and `storage` with a
    /// ticket obtained at `now_unix` that expires at `expires_unix`.
    pub fn put(
        &self,
        address: &str,
        user: &str,
        storage: &Storage,
        now_unix: i64,
        expires_unix: i64,
    ) {
        let fresh_until = now_unix + (expires_unix - now_unix) / 2;
        if fresh_until <= now_unix {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now_unix < e.fresh_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            address.to_owned(),
            Entry {
                user: user.to_owned(),
                storage: storage.clone(),
                fresh_until,
            },
        );
    }

    /// Drops every entry past its use at `now_unix`, and so the storage
    /// channels only they held (letting idle storage processes linger out).
    pub fn sweep(&self, now_unix: i64) {
        self.lock().retain(|_, e| now_unix < e.fresh_until);
    }

    /// Drops `address` (its ticket or its storage channel failed).
    pub fn forget(&self, address: &str) {
        self.lock().remove(address);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[path = "tests/recipients.rs"]
mod tests;

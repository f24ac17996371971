//! Sessions that ended: the tickets of a revoked session are refused until
//! the session could have no valid ticket left, after which the entry is
//! dropped, so the list never holds more than the sessions that ended
//! within about one ticket lifetime. Each session's end prunes, so the
//! list keeps the earliest horizon it holds and walks its entries only
//! once that has passed: a server ending thousands of sessions a minute
//! must not walk every other ended session at each.

use std::collections::HashMap;

use crate::SessionId;

/// Revoked sessions, each kept until its horizon (Unix seconds).
#[derive(Debug, Clone)]
pub struct Revocations {
    until: HashMap<SessionId, i64>,
    /// No entry's horizon is earlier (`i64::MAX` when empty).
    earliest: i64,
}

impl Default for Revocations {
    fn default() -> Revocations {
        Revocations {
            until: HashMap::new(),
            earliest: i64::MAX,
        }
    }
}

impl Revocations {
    /// An empty list.
    pub fn new() -> Revocations {
        Revocations::default()
    }

    /// Revokes `session` until `until_unix` (a later horizon wins).
    /// Returns whether this was news.
    pub fn revoke(&mut self, session: SessionId, until_unix: i64) -> bool {
        match self.until.get_mut(&session) {
            Some(kept) if *kept >= until_unix => false,
            Some(kept) => {
                *kept = until_unix;
                true
            }
            None => {
                self.until.insert(session, until_unix);
                self.earliest = self.earliest.min(until_unix);
                true
            }
        }
    }

    /// Whether `session` is revoked.
    pub fn is_revoked(&self, session: &SessionId) -> bool {
        self.until.contains_key(session)
    }

    /// Drops the entries whose horizon passed by `now_unix`.
    pub fn prune(&mut self, now_unix: i64) {
        if now_unix < self.earliest {
            return;
        }
        self.until.retain(|_, until| *until > now_unix);
        self.earliest = self.until.values().copied().min().unwrap_or(i64::MAX);
    }

    /// Every entry, for handing the list to a process that starts.
    pub fn iter(&self) -> impl Iterator<Item = (&SessionId, i64)> {
        self.until.iter().map(|(s, u)| (s, *u))
    }

    /// How many sessions are revoked.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

//! The flags view of the mailbox selected last, kept for the next SELECT.
//!
//! A client that logs in, selects INBOX and logs out (a phone checking for
//! mail, a webmail's short sessions, a login benchmark) had its whole view
//! read row by row from the index each time: about half a microsecond a
//! message in process, most of a settled SELECT's work for a mailbox of a
//! few hundred messages. A view read once stays right while the mailbox's
//! counters are what they were when it was read: every change of a
//! message's flags, every new message and every expunge raises
//! HIGHESTMODSEQ (CONDSTORE rests on that too), and UIDVALIDITY, UIDNEXT
//! and the message count are compared as well. Object ids are assigned
//! later without a MODSEQ, so a cached view holds none: a SELECT that wants
//! them reads the rows.
//!
//! One view per store, of at most [`MAX_CACHED`] messages, dropped when the
//! store goes idle: a storage process serving thousands of owners keeps
//! little for those not in use.

use std::sync::{Arc, Mutex, PoisonError};

use crate::messages::MessageFlags;

/// The most messages a cached view holds (a larger mailbox's SELECT reads
/// its rows each time: at that size the rows cost more than the hop).
pub(crate) const MAX_CACHED: usize = 2000;

/// What a view was read at: the mailbox and its counters then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViewKey {
    pub mailbox_id: i64,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    pub messages: u32,
}

/// The last view read (see the module text).
#[derive(Default)]
pub(crate) struct ViewCache {
    last: Mutex<Option<(ViewKey, Arc<Vec<MessageFlags>>)>>,
}

impl ViewCache {
    /// The view read at `key`, if it is the one kept.
    pub(crate) fn get(&self, key: &ViewKey) -> Option<Arc<Vec<MessageFlags>>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &*last {
            Some((kept, view)) if kept == key => Some(Arc::clone(view)),
            _ => None,
        }
    }

    /// Keeps `view`, read at `key` (in place of the one kept), unless it is
    /// too large to keep.
    pub(crate) fn put(&self, key: ViewKey, view: Arc<Vec<MessageFlags>>) {
        if view.len() > MAX_CACHED {
            return;
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((key, view));
    }

    /// Drops the kept view (the store goes idle).
    pub(crate) fn clear(&self) {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;

    fn key(highestmodseq: u64) -> ViewKey {
        ViewKey {
            mailbox_id: 1,
            uidvalidity: 7,
            uidnext: 3,
            highestmodseq,
            messages: 2,
        }
    }

    fn view(n: usize) -> Arc<Vec<MessageFlags>> {
        Arc::new(
            (1..=n as u32)
                .map(|uid| MessageFlags {
                    uid,
                    flags: Flags::default(),
                    modseq: 1,
                    email_id: String::new(),
                    thread_id: String::new(),
                })
                .collect(),
        )
    }

    #[test]
    fn a_view_is_given_back_only_at_the_counters_it_was_read_at() {
        let cache = ViewCache::default();
        assert!(cache.get(&key(5)).is_none());
        cache.put(key(5), view(2));
        assert_eq!(cache.get(&key(5)).map(|v| v.len()), Some(2));
        assert!(cache.get(&key(6)).is_none(), "a later MODSEQ");
        let other = ViewKey {
            messages: 1,
            ..key(5)
        };
        assert!(cache.get(&other).is_none(), "another count");
        cache.clear();
        assert!(cache.get(&key(5)).is_none());
    }

    #[test]
    fn a_view_too_large_is_not_kept() {
        let cache = ViewCache::default();
        cache.put(key(5), view(MAX_CACHED + 1));
        assert!(cache.get(&key(5)).is_none());
    }
}

//! What the imap process keeps of the messages its sessions fetched: the
//! parts of a message that never change once it is stored — its size,
//! INTERNALDATE, ENVELOPE, body structure, and small header sections such
//! as the `HEADER.FIELDS` a client's message list asks for — so that a
//! second FETCH of them (the same user's next check, or their phone after
//! their desktop) is answered without a storage call, as Dovecot answers
//! from its index cache. Flags and sequence numbers are never kept here:
//! they come from the session's view.
//!
//! A message is known by its owner, mailbox name, UIDVALIDITY and UID: a
//! UID names one message for good within a UIDVALIDITY, and a mailbox made
//! again under an old name gets a new UIDVALIDITY, so an entry can be
//! stale only by being unused, never wrong. A session reads only entries
//! of its own mailbox that it has selected and of UIDs its view holds, so
//! it learns nothing it could not fetch (a guest in another owner's
//! mailbox is answered by storage, which checks the ACL at every call). One cache serves every session of the
//! process, bounded by a byte budget (`[imap] fetch_cache_mb`), the least
//! recently used message going first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hashlink::LruCache;
use mailkeep_imap_proto::{BodyStructure, DateTime, Envelope};

use super::plan::Cut;

/// A selected mailbox, as the cache names it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MailboxKey {
    owner: String,
    mailbox: String,
    uidvalidity: u32,
}

impl MailboxKey {
    /// The mailbox `mailbox` of `owner` at `uidvalidity`.
    pub(crate) fn new(owner: &str, mailbox: String, uidvalidity: u32) -> Arc<MailboxKey> {
        Arc::new(MailboxKey {
            owner: owner.to_owned(),
            mailbox,
            uidvalidity,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    mailbox: Arc<MailboxKey>,
    uid: u32,
}

/// A header section kept with its message: the cut asked for and its bytes
/// as the client gets them (NUL already turned into 0x80).
#[derive(Debug)]
pub(crate) struct KnownCut {
    /// What was cut.
    pub(crate) cut: Cut,
    /// Its bytes.
    pub(crate) bytes: Arc<[u8]>,
}

/// What is known of one message: all of it fixed for the message's life.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    /// RFC822.SIZE.
    pub(crate) size: u64,
    /// INTERNALDATE.
    pub(crate) date: DateTime,
    /// ENVELOPE, once a FETCH asked for it and storage had it.
    pub(crate) envelope: Option<Arc<Envelope>>,
    /// The body structure (BODY and BODYSTRUCTURE), likewise.
    pub(crate) body: Option<Arc<BodyStructure>>,
    /// Header sections asked for so far (at most [`CUTS_KEPT`]).
    pub(crate) cuts: Vec<Arc<KnownCut>>,
    /// What the entry is reckoned to hold in memory.
    weight: usize,
}

impl Known {
    /// The bytes of `cut`, if they are known.
    pub(crate) fn cut(&self, cut: &Cut) -> Option<&Arc<KnownCut>> {
        self.cuts.iter().find(|k| k.cut == *cut)
    }
}

/// What one FETCH learned of a message, to add to what the cache knows.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    /// The envelope and its storage-encoded size.
    pub(crate) envelope: Option<(Envelope, usize)>,
    /// The body structure and its storage-encoded size.
    pub(crate) body: Option<(BodyStructure, usize)>,
    /// Header sections cut for the response.
    pub(crate) cuts: Vec<KnownCut>,
}

impl Learned {
    /// Whether there is nothing to keep.
    pub(crate) fn is_empty(&self) -> bool {
        self.envelope.is_none() && self.body.is_none() && self.cuts.is_empty()
    }
}

/// Header sections kept per message: a client asks for one or two lists of
/// fields; more kinds only replace the oldest.
const CUTS_KEPT: usize = 4;

/// A header section longer than this is not kept (a list view asks for a
/// few short fields).
pub(crate) const CUT_KEPT_MAX: usize = 16 * 1024;

/// What an entry costs beside its values: the key, the map's node, the
/// reference counts.
const ENTRY_OVERHEAD: usize = 160;

/// A value decoded from storage's encoding takes about this many times its
/// encoded size in memory (a `String` per field, each with its header).
const DECODED_FACTOR: usize = 3;

/// The cache of one imap process.
pub(crate) struct FetchCache {
    budget: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
}

struct Inner {
    entries: LruCache<Key, Arc<Known>>,
    bytes: usize,
}

impl FetchCache {
    /// A cache that holds about `budget` bytes at most; 0 keeps nothing.
    pub(crate) fn new(budget: usize) -> FetchCache {
        FetchCache {
            budget,
            inner: Mutex::new(Inner {
                entries: LruCache::new_unbounded(),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is known of every message of `uids` in `mailbox`, in order,
    /// when each is known well enough for `serves` (counted as hits);
    /// otherwise the messages that are not (all of them when the cache
    /// keeps nothing).
    pub(crate) fn lookup(
        &self,
        mailbox: &Arc<MailboxKey>,
        uids: &[u32],
        serves: impl Fn(&Known) -> bool,
    ) -> Result<Vec<Arc<Known>>, Vec<u32>> {
        if self.budget == 0 {
            return Err(uids.to_vec());
        }
        let mut inner = self.inner();
        let mut found = Vec::with_capacity(uids.len());
        let mut missing = Vec::new();
        for &uid in uids {
            let key = Key {
                mailbox: Arc::clone(mailbox),
                uid,
            };
            match inner.entries.get(&key).filter(|k| serves(k)) {
                Some(known) if missing.is_empty() => found.push(Arc::clone(known)),
                Some(_) => {}
                None => missing.push(uid),
            }
        }
        drop(inner);
        if !missing.is_empty() {
            return Err(missing);
        }
        self.hits.fetch_add(found.len() as u64, Ordering::Relaxed);
        Ok(found)
    }

    /// Adds what a FETCH learned of message `uid` of `mailbox` (its size
    /// and date, and `learned`) to what is known of it.
    pub(crate) fn learn(
        &self,
        mailbox: &Arc<MailboxKey>,
        uid: u32,
        size: u64,
        date: DateTime,
        learned: Learned,
    ) {
        if self.budget == 0 || learned.is_empty() {
            return;
        }
        let key = Key {
            mailbox: Arc::clone(mailbox),
            uid,
        };
        let mut inner = self.inner();
        let mut known = match inner.entries.remove(&key) {
            Some(old) => {
                inner.bytes = inner.bytes.saturating_sub(old.weight);
                Arc::unwrap_or_clone(old)
            }
            None => Known {
                size,
                date,
                envelope: None,
                body: None,
                cuts: Vec::new(),
                weight: ENTRY_OVERHEAD,
            },
        };
        if let Some((envelope, encoded)) = learned.envelope
            && known.envelope.is_none()
        {
            known.envelope = Some(Arc::new(envelope));
            known.weight += encoded * DECODED_FACTOR;
        }
        if let Some((body, encoded)) = learned.body
            && known.body.is_none()
        {
            known.body = Some(Arc::new(body));
            known.weight += encoded * DECODED_FACTOR;
        }
        for cut in learned.cuts {
            if known.cut(&cut.cut).is_some() {
                continue;
            }
            if known.cuts.len() >= CUTS_KEPT {
                let oldest = known.cuts.remove(0);
                known.weight = known.weight.saturating_sub(cut_weight(&oldest));
            }
            known.weight += cut_weight(&cut);
            known.cuts.push(Arc::new(cut));
        }
        if known.weight > self.budget {
            return;
        }
        inner.bytes += known.weight;
        inner.entries.insert(key, Arc::new(known));
        while inner.bytes > self.budget {
            let Some((_, evicted)) = inner.entries.remove_lru() else {
                inner.bytes = 0;
                break;
            };
            inner.bytes = inner.bytes.saturating_sub(evicted.weight);
        }
    }

    /// Messages answered from the cache so far.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// What the entries are reckoned to hold, in bytes.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner().bytes
    }

    /// How many messages are known.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner().entries.len()
    }
}

fn cut_weight(cut: &KnownCut) -> usize {
    cut.bytes.len()
        + cut
            .cut
            .header_names
            .iter()
            .map(|n| n.len() + 24)
            .sum::<usize>()
        + 64
}

#[cfg(test)]
mod tests {
    use mailkeep_storage_rpc::storage::SectionTextKind;

    use super::*;

    fn date() -> DateTime {
        DateTime {
            unix: 1_700_000_000,
            offset_minutes: 0,
        }
    }

    fn envelope(subject: &str) -> Learned {
        Learned {
            envelope: Some((
                Envelope {
                    subject: Some(subject.as_bytes().to_vec()),
                    ..Envelope::default()
                },
                100,
            )),
            ..Learned::default()
        }
    }

    fn subject(known: &Known) -> Option<&[u8]> {
        known.envelope.as_ref()?.subject.as_deref()
    }

    fn header_fields(names: &[&str]) -> Cut {
        Cut {
            parts: Vec::new(),
            text: SectionTextKind::HeaderFields,
            header_names: names.iter().map(|n| (*n).to_owned()).collect(),
            binary: false,
            partial: None,
            size_only: false,
        }
    }

    #[test]
    fn a_message_is_known_by_owner_mailbox_uidvalidity_and_uid() {
        let cache = FetchCache::new(1 << 20);
        let inbox = MailboxKey::new("alice", "INBOX".into(), 7);
        cache.learn(&inbox, 1, 10, date(), envelope("alice's"));
        let any = |_: &Known| true;
        let found = cache.lookup(&inbox, &[1], any).expect("known");
        assert_eq!(subject(&found[0]), Some(&b"alice's"[..]));
        assert_eq!(found[0].size, 10);
        for other in [
            MailboxKey::new("bob", "INBOX".into(), 7),
            MailboxKey::new("alice", "Sent".into(), 7),
            MailboxKey::new("alice", "INBOX".into(), 8),
        ] {
            assert!(cache.lookup(&other, &[1], any).is_err(), "{other:?}");
        }
        assert!(
            cache.lookup(&inbox, &[1, 2], any).err() == Some(vec![2]),
            "UID 2 is unknown"
        );
        assert_eq!(cache.hits(), 1);
    }

    #[test]
    fn what_later_fetches_learn_is_added_and_serves_decides() {
        let cache = FetchCache::new(1 << 20);
        let inbox = MailboxKey::new("alice", "INBOX".into(), 7);
        let fields = header_fields(&["FROM", "SUBJECT"]);
        cache.learn(&inbox, 3, 10, date(), envelope("first"));
        let wants_cut = |k: &Known| k.envelope.is_some() && k.cut(&fields).is_some();
        assert!(cache.lookup(&inbox, &[3], wants_cut).is_err());
        let with_cut = Learned {
            cuts: vec![KnownCut {
                cut: fields.clone(),
                bytes: Arc::from(&b"From: a\r\n\r\n"[..]),
            }],
            ..Learned::default()
        };
        cache.learn(&inbox, 3, 10, date(), with_cut);
        let found = cache.lookup(&inbox, &[3], wants_cut).expect("both known");
        assert_eq!(subject(&found[0]), Some(&b"first"[..]));
        let other_fields = header_fields(&["FROM"]);
        assert!(found[0].cut(&other_fields).is_none());
        // A second envelope of the same message changes nothing.
        cache.learn(&inbox, 3, 10, date(), envelope("second"));
        let found = cache.lookup(&inbox, &[3], |_| true).expect("known");
        assert_eq!(subject(&found[0]), Some(&b"first"[..]));
    }

    #[test]
    fn the_budget_holds_and_the_least_recently_used_goes_first() {
        let one = ENTRY_OVERHEAD + 100 * DECODED_FACTOR;
        let cache = FetchCache::new(one * 3);
        let inbox = MailboxKey::new("alice", "INBOX".into(), 7);
        for uid in 1..=3 {
            cache.learn(&inbox, uid, 10, date(), envelope("x"));
        }
        assert_eq!(cache.len(), 3);
        // UID 1 is used again, so UID 2 is the least recently used.
        assert!(cache.lookup(&inbox, &[1], |_| true).is_ok());
        cache.learn(&inbox, 4, 10, date(), envelope("x"));
        assert_eq!(cache.len(), 3);
        assert!(cache.bytes() <= one * 3);
        assert!(cache.lookup(&inbox, &[2], |_| true).is_err());
        assert!(cache.lookup(&inbox, &[1, 3, 4], |_| true).is_ok());
    }

    #[test]
    fn a_header_section_kind_beyond_the_kept_ones_replaces_the_oldest() {
        let cache = FetchCache::new(1 << 20);
        let inbox = MailboxKey::new("alice", "INBOX".into(), 7);
        let names = ["A", "B", "C", "D", "E"];
        for name in names {
            let learned = Learned {
                cuts: vec![KnownCut {
                    cut: header_fields(&[name]),
                    bytes: Arc::from(&b"\r\n"[..]),
                }],
                ..Learned::default()
            };
            cache.learn(&inbox, 1, 10, date(), learned);
        }
        let found = cache.lookup(&inbox, &[1], |_| true).expect("known");
        assert_eq!(found[0].cuts.len(), CUTS_KEPT);
        assert!(found[0].cut(&header_fields(&["A"])).is_none());
        assert!(found[0].cut(&header_fields(&["E"])).is_some());
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = FetchCache::new(0);
        let inbox = MailboxKey::new("alice", "INBOX".into(), 7);
        cache.learn(&inbox, 1, 10, date(), envelope("x"));
        assert!(cache.lookup(&inbox, &[1], |_| true).is_err());
        assert_eq!(cache.hits(), 0);
    }
}

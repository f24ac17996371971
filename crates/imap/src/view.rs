//! The selected mailbox as this session sees it: UIDs in sequence order,
//! their flags, the UIDVALIDITY and the highest MODSEQ seen. Pure: storage
//! answers go in, the untagged updates to send come out.

use std::collections::HashSet;
use std::sync::Arc;

use mailkeep_imap_proto::{SeqNumber, SequenceSet};

/// One message's flags as storage reports them (new or changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlagUpdate {
    /// The message's UID.
    pub uid: u32,
    /// Its complete flag list.
    pub flags: Vec<String>,
    /// Its MODSEQ.
    pub modseq: u64,
}

/// An untagged response the session owes the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Update {
    /// `* n EXPUNGE` (or, with QRESYNC, the UID in `* VANISHED`).
    Expunge {
        /// Sequence number, valid when sent in the order given.
        seq: u32,
        /// UID.
        uid: u32,
    },
    /// `* n EXISTS`
    Exists(u32),
    /// `* n FETCH (UID u FLAGS (...))`
    Flags {
        /// Sequence number.
        seq: u32,
        /// UID.
        uid: u32,
        /// The new flags.
        flags: Vec<String>,
        /// Whether the message is recent in this session (`\Recent`).
        recent: bool,
        /// The message's MODSEQ (sent with CONDSTORE).
        modseq: u64,
    },
}

/// Why a sequence set could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetError {
    /// A sequence number is 0 or beyond EXISTS.
    InvalidSequence,
    /// `$` (no SEARCHRES yet).
    Saved,
}

/// The selected mailbox's view.
#[derive(Debug, Clone)]
pub(crate) struct View {
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The highest MODSEQ this view includes.
    pub highest_modseq: u64,
    /// UIDs in sequence order (sequence number = index + 1).
    uids: Vec<u32>,
    /// Flags, parallel to `uids`: each set shared by every message that
    /// has it (most of a mailbox has one of a few sets; a set of its own
    /// per message cost about 150 bytes each, over 800 KB per session
    /// with a 4,858-message INBOX selected).
    flags: Vec<FlagSet>,
    /// The sets in `flags`, to share them.
    sets: FlagSets,
    /// UIDs expunged in storage but not yet reported (EXPUNGE deferred).
    pending_expunge: HashSet<u32>,
    /// The saved search result `$` (RFC 5182), as UIDs; `None` before any
    /// SEARCH ... RETURN (SAVE).
    pub saved: Option<Vec<u32>>,
    /// The highest MODSEQ of what the session's own replies put in the
    /// view (flags a STORE or FETCH read, a message its EXPUNGE or MOVE
    /// removed), which may be above `highest_modseq`: a change older than
    /// that must not be applied over it from a delta (see
    /// [`View::holds_from`]).
    newest_held: u64,
    /// The highest UID the view ever held: a message at or below it that
    /// is not in the view was expunged, never new.
    highest_uid: u32,
    /// The UIDs (inclusive ranges, ascending) recent in this session
    /// (IMAP4rev1's `\Recent`, RFC 3501 §2.3.2): claimed for it at SELECT
    /// and as they arrived. Empty in IMAP4rev2.
    recent: Vec<(u32, u32)>,
    /// The highest UID whose being recent here is decided: the new
    /// messages above it are still to be claimed.
    recent_decided: u32,
    /// Every message up to this UID is known to be claimed as recent by
    /// some session (this one's claims are in `recent`): new messages up
    /// to it need not be claimed.
    claimed_through: u32,
}

impl View {
    /// A view of a freshly selected mailbox; `messages` in ascending UID order.
    pub fn new(uidvalidity: u32, highest_modseq: u64, messages: Vec<(u32, Vec<String>)>) -> View {
        let mut messages = messages;
        messages.sort_by_key(|(uid, _)| *uid);
        messages.dedup_by_key(|(uid, _)| *uid);
        let mut sets = FlagSets::default();
        let (uids, flags): (Vec<u32>, Vec<FlagSet>) = messages
            .into_iter()
            .map(|(uid, flags)| (uid, sets.share(flags)))
            .unzip();
        let highest_uid = uids.last().copied().unwrap_or(0);
        View {
            uidvalidity,
            highest_modseq,
            highest_uid,
            recent: Vec::new(),
            recent_decided: highest_uid,
            claimed_through: 0,
            uids,
            flags,
            sets,
            pending_expunge: HashSet::new(),
            saved: None,
            newest_held: highest_modseq,
        }
    }

    /// Makes the messages from UID `first` to `last` recent in this
    /// session (what it claimed). Claims come in ascending UID order; one
    /// that continues the last range extends it, so a session idling for
    /// days keeps a few ranges, not one per arrival.
    pub fn mark_recent(&mut self, first: u32, last: u32) {
        if first > last {
            return;
        }
        match self.recent.last_mut() {
            Some(range) if first <= range.1.saturating_add(1) && first >= range.0 => {
                range.1 = range.1.max(last);
            }
            _ => self.recent.push((first, last)),
        }
    }

    /// Whether message `uid` is recent in this session.
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent
            .iter()
            .any(|&(first, last)| (first..=last).contains(&uid))
    }

    /// The view's messages recent in this session, ascending.
    pub fn recent_uids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for &(first, last) in &self.recent {
            let from = self.uids.partition_point(|&u| u < first);
            let to = self.uids.partition_point(|&u| u <= last);
            out.extend_from_slice(&self.uids[from..to]);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How many of the view's messages are recent in this session (the
    /// RECENT count), counted without listing them: the ranges hold no
    /// view message twice (a claim starts above every UID decided
    /// before, and what lies between a SELECT's last message and its
    /// UIDNEXT was expunged before it).
    pub fn recent_count(&self) -> u32 {
        let count: usize = self
            .recent
            .iter()
            .map(|&(first, last)| {
                self.uids.partition_point(|&u| u <= last)
                    - self.uids.partition_point(|&u| u < first)
            })
            .sum();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// The new messages (first and last UID) whose being recent here is
    /// not decided yet; [`View::decide_recent`] once it is.
    pub fn undecided_recent(&self) -> Option<(u32, u32)> {
        (self.highest_uid > self.recent_decided)
            .then(|| (self.recent_decided.saturating_add(1), self.highest_uid))
    }

    /// Records that every message up to UID `through` has been claimed as
    /// recent by some session (a delta or this session's APPEND said so).
    pub fn note_claimed(&mut self, through: u32) {
        self.claimed_through = self.claimed_through.max(through);
    }

    /// The UID up to which every message is known to be claimed.
    pub fn claimed_through(&self) -> u32 {
        self.claimed_through
    }

    /// Records that being recent is decided up to UID `up_to`.
    pub fn decide_recent(&mut self, up_to: u32) {
        self.recent_decided = self.recent_decided.max(up_to);
    }

    /// Records that the session's own reply put into the view what the
    /// mailbox held at `modseq`. (A reply whose MODSEQ is not known must
    /// have the next sync ask storage instead: `ChangeMark::force`.)
    pub fn held(&mut self, modseq: u64) {
        self.newest_held = self.newest_held.max(modseq);
    }

    /// The MODSEQ that changes applied from deltas must reach before the
    /// view is current: the newest state the session's replies put in it.
    pub fn holds_from(&self) -> u64 {
        self.newest_held
    }

    /// EXISTS: the number of messages in the view.
    pub fn exists(&self) -> u32 {
        u32::try_from(self.uids.len()).unwrap_or(u32::MAX)
    }

    /// The UIDs in sequence order.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The sequence number of a UID in the view.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids
            .binary_search(&uid)
            .ok()
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// The UID at a sequence number.
    pub fn uid_at(&self, seq: u32) -> Option<u32> {
        let i = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.uids.get(i).copied()
    }

    /// The flags the view holds for a UID.
    pub fn flags_of(&self, uid: u32) -> Option<&[String]> {
        self.uids.binary_search(&uid).ok().map(|i| &*self.flags[i])
    }

    /// The first message without `\Seen`, as a sequence number.
    pub fn first_unseen(&self) -> Option<u32> {
        self.flags
            .iter()
            .position(|f| !f.iter().any(|x| x.eq_ignore_ascii_case("\\Seen")))
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// Whether a UID is known to be expunged but not yet reported.
    pub fn is_pending_expunge(&self, uid: u32) -> bool {
        self.pending_expunge.contains(&uid)
    }

    /// Whether expunges wait to be reported.
    pub fn has_pending_expunges(&self) -> bool {
        !self.pending_expunge.is_empty()
    }

    /// Sets a message's flags (after our own STORE or a FETCH that saw them);
    /// returns whether they differ from what the view held.
    pub fn set_flags(&mut self, uid: u32, flags: Vec<String>) -> bool {
        match self.uids.binary_search(&uid) {
            Ok(i) => {
                let changed = !same_flags(&self.flags[i], &flags);
                self.flags[i] = self.sets.share(flags);
                changed
            }
            Err(_) => false,
        }
    }

    /// Resolves a sequence set to the UIDs it names, ascending and unique.
    /// By sequence number: `*` is EXISTS, numbers must be 1..=EXISTS. By UID:
    /// `*` is the highest UID, UIDs not in the view are ignored.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<u32>, SetError> {
        let ranges = match set {
            SequenceSet::Ranges(ranges) => ranges,
            SequenceSet::Saved => {
                // `$` names the saved messages still in the view.
                let saved = self.saved.as_ref().ok_or(SetError::Saved)?;
                let mut out: Vec<u32> = saved
                    .iter()
                    .copied()
                    .filter(|&u| self.uids.binary_search(&u).is_ok())
                    .collect();
                out.sort_unstable();
                out.dedup();
                return Ok(out);
            }
        };
        let mut out = Vec::new();
        if uid {
            let Some(&max) = self.uids.last() else {
                return Ok(out);
            };
            for range in ranges {
                let a = value(range.start, max);
                let b = value(range.end, max);
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let from = self.uids.partition_point(|&u| u < lo);
                let to = self.uids.partition_point(|&u| u <= hi);
                out.extend_from_slice(&self.uids[from..to]);
            }
        } else {
            let max = self.exists();
            for range in ranges {
                let a = value(range.start, max);
                let b = value(range.end, max);
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                if lo == 0 || hi > max {
                    return Err(SetError::InvalidSequence);
                }
                let (lo, hi) = (lo as usize, hi as usize);
                out.extend_from_slice(&self.uids[lo - 1..hi]);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Removes expunged UIDs from the view now (our own EXPUNGE, or changes
    /// when EXPUNGE responses are allowed) and returns the `* n EXPUNGE`
    /// responses, highest sequence number first so every number is valid
    /// at the moment it is sent.
    pub fn expunge(&mut self, uids: &[u32]) -> Vec<Update> {
        let mut uids: Vec<u32> = uids.to_vec();
        uids.sort_unstable_by(|a, b| b.cmp(a));
        uids.dedup();
        let mut out = Vec::new();
        let mut gone = vec![false; self.uids.len()];
        for uid in uids {
            self.pending_expunge.remove(&uid);
            if let Ok(i) = self.uids.binary_search(&uid) {
                // Highest first, so each number is the one the message
                // has once the higher ones are gone: its own place.
                gone[i] = true;
                out.push(Update::Expunge {
                    seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    uid,
                });
            }
        }
        // One pass for all (removing one at a time moved the rest of the
        // view each time: the oldest half of a big mailbox expunged took
        // seconds of the process's one thread).
        let mut keep = gone.iter().map(|gone| !gone);
        self.uids.retain(|_| keep.next().unwrap_or(true));
        let mut keep = gone.iter().map(|gone| !gone);
        self.flags.retain(|_| keep.next().unwrap_or(true));
        out
    }

    /// The session's own change (a STORE or EXPUNGE whose effect the view
    /// already holds) moved the mailbox from `previous` to `highest`
    /// MODSEQ: when the view knew everything up to `previous`, it now knows
    /// everything up to `highest`, and the change's own event asks storage
    /// for nothing. Otherwise others changed the mailbox in between, and
    /// the view stays where it was until a sync brings their changes.
    pub fn own_change(&mut self, previous: u64, highest: u64) {
        self.held(highest);
        if previous != 0 && self.highest_modseq == previous {
            self.highest_modseq = self.highest_modseq.max(highest);
        }
    }

    /// Applies what `Changes` reported: `vanished` UIDs, `changed` messages
    /// (new ones and flag changes), and the mailbox's highest MODSEQ. With
    /// `allow_expunge` false (FETCH, STORE, SEARCH by sequence number) the
    /// vanished messages stay in the view, remembered, until a later call
    /// that allows them.
    pub fn apply_changes(
        &mut self,
        vanished: &[u32],
        changed: Vec<FlagUpdate>,
        highest_modseq: u64,
        allow_expunge: bool,
    ) -> Vec<Update> {
        let mut out = Vec::new();
        let gone: HashSet<u32> = vanished.iter().copied().collect();
        for &uid in vanished {
            if self.uids.binary_search(&uid).is_ok() {
                self.pending_expunge.insert(uid);
            }
        }
        if allow_expunge && !self.pending_expunge.is_empty() {
            let pending: Vec<u32> = self.pending_expunge.iter().copied().collect();
            out.extend(self.expunge(&pending));
        }
        let mut max_modseq = highest_modseq;
        let last_known = self.highest_uid;
        let mut new = Vec::new();
        for change in changed {
            max_modseq = max_modseq.max(change.modseq);
            if gone.contains(&change.uid) || self.pending_expunge.contains(&change.uid) {
                continue;
            }
            match self.uids.binary_search(&change.uid) {
                Ok(i) => {
                    if !same_flags(&self.flags[i], &change.flags) {
                        self.flags[i] = self.sets.share(change.flags.clone());
                        let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
                        out.push(Update::Flags {
                            seq,
                            uid: change.uid,
                            flags: change.flags,
                            recent: self.is_recent(change.uid),
                            modseq: change.modseq,
                        });
                    }
                }
                Err(_) if change.uid > last_known => new.push(change),
                Err(_) => {} // expunged earlier and already reported
            }
        }
        if !new.is_empty() {
            new.sort_by_key(|c| c.uid);
            new.dedup_by_key(|c| c.uid);
            for change in new {
                self.highest_uid = self.highest_uid.max(change.uid);
                self.uids.push(change.uid);
                let flags = self.sets.share(change.flags);
                self.flags.push(flags);
            }
            out.push(Update::Exists(self.exists()));
        }
        self.highest_modseq = self.highest_modseq.max(max_modseq);
        out
    }
}

/// One message's flags, shared with the other messages that have the
/// same.
type FlagSet = Arc<[String]>;

/// The flag sets a view holds, each once. Sets no message has any more
/// are dropped when the table has doubled since it was last swept, so a
/// session that keeps changing flags does not keep every set it saw.
#[derive(Debug, Clone, Default)]
struct FlagSets {
    sets: HashSet<FlagSet>,
    sweep_at: usize,
}

impl FlagSets {
    /// The shared set equal to `flags`.
    fn share(&mut self, flags: Vec<String>) -> FlagSet {
        if let Some(set) = self.sets.get(flags.as_slice()) {
            return Arc::clone(set);
        }
        let set: FlagSet = flags.into();
        self.sets.insert(Arc::clone(&set));
        if self.sets.len() > self.sweep_at {
            self.sets.retain(|set| Arc::strong_count(set) > 1);
            self.sweep_at = (2 * self.sets.len()).max(64);
        }
        set
    }
}

/// The value of one end of a range, `*` being `max`.
fn value(n: SeqNumber, max: u32) -> u32 {
    match n {
        SeqNumber::Value(v) => v,
        SeqNumber::Largest => max,
    }
}

/// Whether two flag lists hold the same flags (order and case of system
/// flags aside).
pub(crate) fn same_flags(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|f| f.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

/// Compresses ascending UIDs into inclusive ranges of consecutive numbers,
/// so a range never covers a UID that was not asked for.
pub(crate) fn uid_ranges(uids: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &uid in uids {
        match out.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(uid) => *last = uid,
            _ => out.push((uid, uid)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailkeep_imap_proto::SeqRange;

    fn view(uids: &[u32]) -> View {
        View::new(7, 10, uids.iter().map(|&u| (u, vec![])).collect())
    }

    #[test]
    fn recent_claims_that_follow_on_merge_and_are_counted_once() {
        // SELECT saw 2..=4 (UIDNEXT 7: 5 and 6 were expunged before).
        let mut v = view(&[1, 2, 3, 4]);
        v.mark_recent(2, 6);
        for uid in 7..=9 {
            let new = FlagUpdate {
                uid,
                flags: vec![],
                modseq: 10 + u64::from(uid),
            };
            v.apply_changes(&[], vec![new], 10 + u64::from(uid), true);
            let (first, last) = v.undecided_recent().expect("a new message");
            assert_eq!((first, last), (if uid == 7 { 5 } else { uid }, uid));
            v.mark_recent(first, last);
            v.decide_recent(last);
        }
        assert_eq!(v.recent.len(), 1, "{:?}", v.recent);
        assert_eq!(v.recent_uids(), [2, 3, 4, 7, 8, 9]);
        assert_eq!(v.recent_count(), 6);
        // Another session claimed 10; this one gets 11 only.
        for uid in [10, 11] {
            let new = FlagUpdate {
                uid,
                flags: vec![],
                modseq: 30 + u64::from(uid),
            };
            v.apply_changes(&[], vec![new], 30 + u64::from(uid), true);
        }
        v.mark_recent(11, 11);
        v.decide_recent(11);
        v.expunge(&[3, 8]);
        assert_eq!(v.recent_uids(), [2, 4, 7, 9, 11]);
        assert_eq!(v.recent_count(), 5);
        assert!(!v.is_recent(10) && v.is_recent(11) && !v.is_recent(1));
    }

    #[test]
    fn a_message_the_view_held_and_lost_never_comes_back_as_new() {
        let mut v = view(&[1, 2, 3]);
        v.expunge(&[3]);
        let stale = FlagUpdate {
            uid: 3,
            flags: vec!["\\Deleted".into()],
            modseq: 11,
        };
        let updates = v.apply_changes(&[], vec![stale], 11, true);
        assert!(updates.is_empty(), "{updates:?}");
        assert_eq!(v.exists(), 2);
        let new = FlagUpdate {
            uid: 4,
            flags: vec![],
            modseq: 12,
        };
        v.apply_changes(&[], vec![new], 12, true);
        assert_eq!(v.uids(), [1, 2, 4]);
    }

    #[test]
    fn what_the_sessions_replies_put_in_the_view_is_remembered() {
        let mut v = view(&[1]);
        assert_eq!(v.holds_from(), 10);
        v.held(13);
        v.held(12);
        assert_eq!(v.holds_from(), 13);
        // Its own change raises it too, even when the view stays behind.
        v.own_change(11, 14);
        assert_eq!(v.holds_from(), 14);
        assert_eq!(v.highest_modseq, 10);
    }

    #[test]
    fn an_own_change_moves_the_known_modseq_only_from_where_the_view_was() {
        let mut v = view(&[1, 2]);
        v.own_change(10, 11);
        assert_eq!(v.highest_modseq, 11);
        // Someone else changed the mailbox (to 12) before this change (13).
        v.own_change(12, 13);
        assert_eq!(v.highest_modseq, 11);
        // An older server that does not say (0) moves nothing.
        v.own_change(0, 20);
        assert_eq!(v.highest_modseq, 11);
    }

    fn set(ranges: &[(SeqNumber, SeqNumber)]) -> SequenceSet {
        SequenceSet::Ranges(
            ranges
                .iter()
                .map(|&(start, end)| SeqRange { start, end })
                .collect(),
        )
    }

    use SeqNumber::{Largest, Value as V};

    #[test]
    fn sequence_numbers_map_to_uids() {
        let v = view(&[3, 5, 9, 12]);
        assert_eq!(v.resolve(&set(&[(V(1), V(1))]), false), Ok(vec![3]));
        assert_eq!(
            v.resolve(&set(&[(V(2), Largest)]), false),
            Ok(vec![5, 9, 12])
        );
        assert_eq!(v.resolve(&set(&[(V(4), V(2))]), false), Ok(vec![5, 9, 12]));
        assert_eq!(
            v.resolve(&set(&[(V(1), V(1)), (V(1), V(2))]), false),
            Ok(vec![3, 5])
        );
        assert_eq!(
            v.resolve(&set(&[(V(5), V(5))]), false),
            Err(SetError::InvalidSequence)
        );
        assert_eq!(
            v.resolve(&set(&[(V(0), V(1))]), false),
            Err(SetError::InvalidSequence)
        );
        assert_eq!(v.seq_of(9), Some(3));
        assert_eq!(v.seq_of(4), None);
    }

    #[test]
    fn uids_outside_the_view_are_ignored() {
        let v = view(&[3, 5, 9, 12]);
        assert_eq!(v.resolve(&set(&[(V(4), V(10))]), true), Ok(vec![5, 9]));
        assert_eq!(v.resolve(&set(&[(V(100), V(200))]), true), Ok(vec![]));
        assert_eq!(v.resolve(&set(&[(V(10), Largest)]), true), Ok(vec![12]));
        // n:* with n beyond the highest UID still names the highest (RFC 9051).
        assert_eq!(v.resolve(&set(&[(V(100), Largest)]), true), Ok(vec![12]));
        assert_eq!(
            view(&[]).resolve(&set(&[(V(1), Largest)]), true),
            Ok(vec![])
        );
        assert_eq!(
            view(&[]).resolve(&set(&[(V(1), Largest)]), false),
            Err(SetError::InvalidSequence)
        );
        assert_eq!(v.resolve(&SequenceSet::Saved, true), Err(SetError::Saved));
    }

    #[test]
    fn an_expunge_keeps_each_remaining_message_with_its_own_flags() {
        let messages = (1..=6u32)
            .map(|uid| (uid, vec![format!("k{uid}")]))
            .collect();
        let mut v = View::new(1, 1, messages);
        let out = v.expunge(&[4, 1, 2, 9]);
        assert_eq!(out.len(), 3, "the UID outside the view is ignored");
        assert_eq!(v.uids(), &[3, 5, 6]);
        for uid in [3, 5, 6] {
            assert_eq!(v.flags_of(uid), Some(&[format!("k{uid}")][..]));
        }
        assert_eq!(v.seq_of(5), Some(2));
    }

    #[test]
    fn messages_with_the_same_flags_share_them_and_unused_sets_go() {
        let seen = || vec!["\\Seen".to_owned()];
        let messages = (1..=1000u32).map(|uid| (uid, seen())).collect();
        let mut v = View::new(1, 1, messages);
        let first = v.flags_of(1).expect("held").as_ptr();
        assert!((2..=1000).all(|uid| v.flags_of(uid).expect("held").as_ptr() == first));
        assert_eq!(v.sets.sets.len(), 1);
        // One message through ever new keywords: the table keeps what is
        // held, not every set it saw.
        for n in 0..10_000 {
            v.set_flags(7, vec![format!("k{n}")]);
        }
        assert_eq!(v.flags_of(7), Some(&["k9999".to_owned()][..]));
        assert!(v.sets.sets.len() <= 130, "{} sets kept", v.sets.sets.len());
        assert_eq!(v.flags_of(8), Some(&seen()[..]));
    }

    #[test]
    fn expunge_reports_valid_sequence_numbers() {
        let mut v = view(&[1, 2, 3, 4, 5]);
        let out = v.expunge(&[2, 4, 5]);
        assert_eq!(
            out,
            vec![
                Update::Expunge { seq: 5, uid: 5 },
                Update::Expunge { seq: 4, uid: 4 },
                Update::Expunge { seq: 2, uid: 2 }
            ]
        );
        assert_eq!(v.uids(), &[1, 3]);
        assert_eq!(v.expunge(&[99]), vec![]);
    }

    #[test]
    fn changes_add_change_and_expunge() {
        let mut v = view(&[1, 2, 3]);
        let out = v.apply_changes(
            &[2],
            vec![
                FlagUpdate {
                    uid: 3,
                    flags: vec!["\\Seen".into()],
                    modseq: 12,
                },
                FlagUpdate {
                    uid: 4,
                    flags: vec![],
                    modseq: 13,
                },
                FlagUpdate {
                    uid: 1,
                    flags: vec![],
                    modseq: 11,
                },
            ],
            13,
            true,
        );
        assert_eq!(
            out,
            vec![
                Update::Expunge { seq: 2, uid: 2 },
                Update::Flags {
                    seq: 2,
                    uid: 3,
                    flags: vec!["\\Seen".into()],
                    recent: false,
                    modseq: 12
                },
                Update::Exists(3),
            ]
        );
        assert_eq!(v.uids(), &[1, 3, 4]);
        assert_eq!(v.highest_modseq, 13);
    }

    #[test]
    fn expunges_are_deferred_when_not_allowed() {
        let mut v = view(&[1, 2, 3]);
        let out = v.apply_changes(
            &[2],
            vec![FlagUpdate {
                uid: 2,
                flags: vec!["x".into()],
                modseq: 11,
            }],
            11,
            false,
        );
        assert!(out.is_empty());
        assert_eq!(v.uids(), &[1, 2, 3]);
        assert!(v.is_pending_expunge(2));
        // Sequence numbers stay stable meanwhile.
        assert_eq!(v.resolve(&set(&[(V(3), V(3))]), false), Ok(vec![3]));
        let out = v.apply_changes(&[], vec![], 11, true);
        assert_eq!(out, vec![Update::Expunge { seq: 2, uid: 2 }]);
        assert_eq!(v.uids(), &[1, 3]);
    }

    #[test]
    fn new_and_vanished_in_one_batch_is_ignored() {
        let mut v = view(&[1]);
        let out = v.apply_changes(
            &[5],
            vec![FlagUpdate {
                uid: 5,
                flags: vec![],
                modseq: 20,
            }],
            20,
            true,
        );
        assert!(out.is_empty());
        assert_eq!(v.uids(), &[1]);
    }

    #[test]
    fn unchanged_flags_send_nothing() {
        let mut v = View::new(1, 5, vec![(1, vec!["\\Seen".into(), "a".into()])]);
        let out = v.apply_changes(
            &[],
            vec![FlagUpdate {
                uid: 1,
                flags: vec!["A".into(), "\\SEEN".into()],
                modseq: 6,
            }],
            6,
            true,
        );
        assert!(out.is_empty());
        assert_eq!(v.highest_modseq, 6);
        assert_eq!(v.first_unseen(), None);
    }

    #[test]
    fn ranges_only_cover_consecutive_uids() {
        assert_eq!(
            uid_ranges(&[1, 2, 3, 7, 9, 10]),
            vec![(1, 3), (7, 7), (9, 10)]
        );
        assert_eq!(uid_ranges(&[]), vec![]);
        assert_eq!(uid_ranges(&[u32::MAX]), vec![(u32::MAX, u32::MAX)]);
    }
}

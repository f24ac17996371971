//! The master's record of login sessions for revocation (DESIGN §2): the
//! sessions each protocol process showed the broker, so that they all end
//! when that process does, and the sessions that ended, kept until none of
//! their tickets can be valid any more.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use mailkeep_storage_rpc::broker::RevokedSession;
use mailkeep_ticket::{Claims, SessionId};
use zeroize::Zeroizing;

/// A session as the master knows it: whose, until when its tickets can
/// live, and its latest ticket (the proof another host's gateway asks for
/// before it revokes the session there).
#[derive(Clone)]
pub struct KnownSession {
    /// The session id.
    pub session: SessionId,
    /// Its user.
    pub user: String,
    /// No ticket of it is valid after this (Unix seconds).
    pub until_unix: i64,
    /// Its latest ticket seen.
    pub ticket: Zeroizing<String>,
    /// The other owners whose storage it reached as a guest (shared
    /// mailboxes): their storage processes must refuse it too once it ends.
    pub guest_of: BTreeSet<String>,
}

impl KnownSession {
    /// The session of a verified ticket.
    pub fn of(claims: &Claims, ticket: &str) -> KnownSession {
        KnownSession {
            session: claims.session,
            user: claims.user.clone(),
            until_unix: claims.revocation_horizon(),
            ticket: Zeroizing::new(ticket.to_owned()),
            guest_of: BTreeSet::new(),
        }
    }

    /// Every owner whose storage its tickets may be used at: its own
    /// user's, and the owners it reached as a guest.
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.user.as_str()).chain(self.guest_of.iter().map(String::as_str))
    }

    /// Its wire form for a `Revoke` message.
    pub fn to_wire(&self) -> RevokedSession {
        RevokedSession {
            session: self.session.0.to_vec(),
            until_unix: self.until_unix,
            user: self.user.clone(),
        }
    }
}

/// An ended session, kept until its horizon.
struct Ended {
    user: String,
    until: i64,
    guest_of: BTreeSet<String>,
}

struct Inner {
    /// Ended sessions: user, horizon, and the owners reached as a guest.
    revoked: HashMap<SessionId, Ended>,
    /// Live sessions by the protocol process (broker client) that showed
    /// them.
    by_client: HashMap<u64, HashMap<SessionId, KnownSession>>,
    /// No entry of either map has an earlier horizon (`i64::MAX` when
    /// both are empty): every session's end prunes, and walks the maps
    /// only once something may have passed its horizon.
    earliest: i64,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            revoked: HashMap::new(),
            by_client: HashMap::new(),
            earliest: i64::MAX,
        }
    }
}

/// Live and ended sessions.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `session` ended.
    pub fn is_revoked(&self, session: &SessionId) -> bool {
        self.lock().revoked.contains_key(session)
    }

    /// Notes that protocol process `client_id` uses `known` to reach
    /// `owner`'s storage.
    pub fn seen(&self, client_id: u64, mut known: KnownSession, owner: &str) {
        let mut inner = self.lock();
        if inner.revoked.contains_key(&known.session) {
            return;
        }
        let sessions = inner.by_client.entry(client_id).or_default();
        if let Some(before) = sessions.get(&known.session) {
            known.guest_of.extend(before.guest_of.iter().cloned());
        }
        if owner != known.user {
            known.guest_of.insert(owner.to_owned());
        }
        let until = known.until_unix;
        sessions.insert(known.session, known);
        inner.earliest = inner.earliest.min(until);
    }

    /// Ends `known` at `now`; returns it, with every owner it reached as
    /// a guest, when that was news (it must then be passed on).
    pub fn end(
        &self,
        client_id: Option<u64>,
        known: &KnownSession,
        now: i64,
    ) -> Option<KnownSession> {
        let mut known = known.clone();
        let mut inner = self.lock();
        if let Some(id) = client_id
            && let Some(sessions) = inner.by_client.get_mut(&id)
            && let Some(before) = sessions.remove(&known.session)
        {
            known.guest_of.extend(before.guest_of);
        }
        Self::prune(&mut inner, now);
        if known.until_unix <= now {
            return None;
        }
        match inner.revoked.get_mut(&known.session) {
            Some(ended) if ended.until >= known.until_unix => None,
            Some(ended) => {
                ended.until = known.until_unix;
                ended.guest_of.extend(known.guest_of.iter().cloned());
                Some(known)
            }
            None => {
                inner.revoked.insert(
                    known.session,
                    Ended {
                        user: known.user.clone(),
                        until: known.until_unix,
                        guest_of: known.guest_of.clone(),
                    },
                );
                inner.earliest = inner.earliest.min(known.until_unix);
                Some(known)
            }
        }
    }

    /// Ends every session protocol process `client_id` showed (it exited
    /// or closed its broker channel); returns those that were news.
    pub fn client_gone(&self, client_id: u64, now: i64) -> Vec<KnownSession> {
        let sessions = self.lock().by_client.remove(&client_id).unwrap_or_default();
        sessions
            .into_values()
            .filter_map(|known| self.end(None, &known, now))
            .collect()
    }

    /// The ended sessions that could be used at `owner`'s storage (the
    /// owner's own, and other users' that reached it as guests), for a
    /// storage process that starts serving them.
    pub fn revoked_of(&self, owner: &str) -> Vec<RevokedSession> {
        self.wire(|ended| ended.user == owner || ended.guest_of.contains(owner))
    }

    /// Every ended session, for an auth process that starts.
    pub fn revoked_all(&self) -> Vec<RevokedSession> {
        self.wire(|_| true)
    }

    fn wire(&self, pick: impl Fn(&Ended) -> bool) -> Vec<RevokedSession> {
        self.lock()
            .revoked
            .iter()
            .filter(|(_, ended)| pick(ended))
            .map(|(session, ended)| RevokedSession {
                session: session.0.to_vec(),
                until_unix: ended.until,
                user: ended.user.clone(),
            })
            .collect()
    }

    fn prune(inner: &mut Inner, now: i64) {
        if now < inner.earliest {
            return;
        }
        inner.revoked.retain(|_, ended| ended.until > now);
        for sessions in inner.by_client.values_mut() {
            sessions.retain(|_, known| known.until_unix > now);
        }
        inner.by_client.retain(|_, sessions| !sessions.is_empty());
        let ended = inner.revoked.values().map(|ended| ended.until);
        let live = inner
            .by_client
            .values()
            .flat_map(|sessions| sessions.values());
        inner.earliest = ended
            .chain(live.map(|known| known.until_unix))
            .min()
            .unwrap_or(i64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use mailkeep_ticket::Scope;

    use super::*;

    fn known(user: &str, until: i64) -> KnownSession {
        let claims = Claims::new(user, Scope::Session, until - 100, 100, "h");
        KnownSession::of(&claims, "t")
    }

    #[test]
    fn ended_sessions_are_revoked_until_their_horizon() {
        let sessions = Sessions::default();
        let a = known("alice", 1000);
        assert!(sessions.end(Some(1), &a, 900).is_some());
        assert!(sessions.end(Some(1), &a, 901).is_none(), "no news twice");
        assert!(sessions.is_revoked(&a.session));
        assert_eq!(sessions.revoked_of("alice").len(), 1);
        assert!(sessions.revoked_of("bob").is_empty());
        // Another end after the horizon prunes it.
        assert!(sessions.end(None, &known("bob", 10), 1000).is_none());
        assert!(!sessions.is_revoked(&a.session));
    }

    #[test]
    fn a_gone_process_ends_every_session_it_showed() {
        let sessions = Sessions::default();
        let (a, b, c) = (
            known("alice", 1000),
            known("bob", 1000),
            known("carol", 1000),
        );
        sessions.seen(1, a.clone(), "alice");
        sessions.seen(1, b.clone(), "bob");
        sessions.seen(2, c.clone(), "carol");
        let ended = sessions.client_gone(1, 500);
        assert_eq!(ended.len(), 2);
        assert!(sessions.is_revoked(&a.session) && sessions.is_revoked(&b.session));
        assert!(
            !sessions.is_revoked(&c.session),
            "another process's session lives"
        );
        assert_eq!(sessions.revoked_all().len(), 2);
    }

    #[test]
    fn a_session_that_reached_other_owners_is_revoked_at_their_storage_too() {
        let sessions = Sessions::default();
        let bob = known("bob", 1000);
        sessions.seen(1, bob.clone(), "bob");
        sessions.seen(1, bob.clone(), "alice");
        sessions.seen(1, bob.clone(), "carol");
        // The end is told with the ticket alone; what it reached is known.
        let ended = sessions.end(Some(1), &bob, 500).expect("news");
        let owners: BTreeSet<&str> = ended.owners().collect();
        assert_eq!(owners, BTreeSet::from(["alice", "bob", "carol"]));
        for owner in ["alice", "carol", "bob"] {
            assert_eq!(
                sessions.revoked_of(owner).len(),
                1,
                "a storage process of {owner} starting now must refuse it"
            );
        }
        assert!(sessions.revoked_of("dave").is_empty());
    }

    #[test]
    fn live_and_ended_sessions_are_each_dropped_at_their_own_horizon() {
        let sessions = Sessions::default();
        let (short, long) = (known("alice", 100), known("bob", 300));
        sessions.seen(1, short.clone(), "alice");
        sessions.seen(1, long.clone(), "bob");
        // An end at 150 prunes the live session whose horizon passed.
        let carol = known("carol", 200);
        assert!(sessions.end(None, &carol, 150).is_some());
        let gone = sessions.client_gone(1, 160);
        assert_eq!(gone.len(), 1, "only the session still alive ends");
        assert_eq!(gone[0].session, long.session);
        // Ended later, with a horizon before every other's.
        let dave = known("dave", 170);
        assert!(sessions.end(None, &dave, 165).is_some());
        assert!(sessions.end(None, &known("erin", 400), 169).is_some());
        assert!(sessions.is_revoked(&dave.session));
        assert!(sessions.end(None, &known("frank", 400), 170).is_some());
        assert!(!sessions.is_revoked(&dave.session));
        assert!(sessions.is_revoked(&carol.session));
    }
}

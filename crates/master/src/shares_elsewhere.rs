//! What other hosts said of who shares with a user, kept for a short
//! while: a LIST that reaches the shared namespace (and NOTIFY's periodic
//! look) asks every other host of the cluster, one TLS round trip each, so
//! without this every such LIST would pay them all again. An answer lives
//! [`LIFE_SECS`] at most, so a share made on another host shows within
//! that time; every answer is dropped as soon as this host learns of an
//! ACL change (one of its owners' grantees reported), and an answer that
//! was being asked for meanwhile is not kept. This host's own owners are
//! never cached (the broker reads them from memory). Only answers are
//! kept: a host that did not answer is asked again next time.

use std::collections::HashMap;
use std::sync::Mutex;

use mailkeep_frontend::Clock;

/// How long an answer is kept, in seconds.
pub const LIFE_SECS: i64 = 30;

/// How many (user, host) answers are kept at most; the oldest goes first.
pub const MAX_ANSWERS: usize = 4096;

/// Other hosts' answers, by user and host address.
pub struct SharesElsewhere {
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    answers: HashMap<(String, String), Answer>,
    /// Moves on at every invalidation: an answer asked for under an
    /// older generation is not kept.
    generation: u64,
}

struct Answer {
    owners: Vec<String>,
    /// When it was received (Unix seconds).
    at: i64,
}

/// The generation an ask started under (see [`SharesElsewhere::keep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl SharesElsewhere {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Clock) -> SharesElsewhere {
        SharesElsewhere {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The owners on `host` who share with `user`, if `host` said so
    /// less than [`LIFE_SECS`] ago and nothing invalidated it since.
    pub fn get(&self, user: &str, host: &str) -> Option<Vec<String>> {
        let now = self.clock.now_unix();
        let state = self.state();
        let answer = state.answers.get(&(user.to_owned(), host.to_owned()))?;
        fresh(answer, now).then(|| answer.owners.clone())
    }

    /// The generation to pass to [`SharesElsewhere::keep`] for an ask
    /// that starts now.
    pub fn generation(&self) -> Generation {
        Generation(self.state().generation)
    }

    /// Keeps `host`'s answer for `user`, unless the cache was invalidated
    /// since the ask started (`asked`).
    pub fn keep(&self, user: &str, host: &str, owners: Vec<String>, asked: Generation) {
        let now = self.clock.now_unix();
        let mut state = self.state();
        if state.generation != asked.0 {
            return;
        }
        if state.answers.len() >= MAX_ANSWERS {
            state.answers.retain(|_, a| fresh(a, now));
        }
        if state.answers.len() >= MAX_ANSWERS {
            let oldest = state
                .answers
                .iter()
                .min_by_key(|(_, a)| a.at)
                .map(|(key, _)| key.clone());
            if let Some(key) = oldest {
                state.answers.remove(&key);
            }
        }
        state.answers.insert(
            (user.to_owned(), host.to_owned()),
            Answer { owners, at: now },
        );
    }

    /// Drops every answer: this host learned of an ACL change.
    pub fn invalidate(&self) {
        let mut state = self.state();
        state.answers.clear();
        state.generation = state.generation.wrapping_add(1);
    }
}

fn fresh(answer: &Answer, now: i64) -> bool {
    now >= answer.at && now - answer.at < LIFE_SECS
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    fn cache() -> (SharesElsewhere, Arc<AtomicI64>) {
        let time = Arc::new(AtomicI64::new(1_000));
        (SharesElsewhere::new(Clock::manual(Arc::clone(&time))), time)
    }

    fn owners(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn an_answer_lives_a_short_while_per_user_and_host() {
        let (cache, time) = cache();
        assert_eq!(cache.get("dave", "127.0.0.3:1143"), None);
        cache.keep(
            "dave",
            "127.0.0.3:1143",
            owners(&["carol"]),
            cache.generation(),
        );
        assert_eq!(
            cache.get("dave", "127.0.0.3:1143"),
            Some(owners(&["carol"]))
        );
        assert_eq!(cache.get("erin", "127.0.0.3:1143"), None, "per user");
        assert_eq!(cache.get("dave", "127.0.0.4:1143"), None, "per host");
        time.fetch_add(LIFE_SECS - 1, Ordering::Relaxed);
        assert!(cache.get("dave", "127.0.0.3:1143").is_some());
        time.fetch_add(1, Ordering::Relaxed);
        assert_eq!(cache.get("dave", "127.0.0.3:1143"), None, "expired");
        // A clock stepped back does not make an answer live longer.
        cache.keep("dave", "h", owners(&["carol"]), cache.generation());
        time.fetch_sub(10, Ordering::Relaxed);
        assert_eq!(cache.get("dave", "h"), None);
    }

    #[test]
    fn an_acl_change_drops_every_answer_and_the_ones_being_asked() {
        let (cache, _time) = cache();
        cache.keep("dave", "h", owners(&["carol"]), cache.generation());
        let asked = cache.generation();
        cache.invalidate();
        assert_eq!(cache.get("dave", "h"), None);
        // Asked before the change, answered after it: not kept.
        cache.keep("erin", "h", owners(&["carol"]), asked);
        assert_eq!(cache.get("erin", "h"), None);
        cache.keep("erin", "h", owners(&["carol"]), cache.generation());
        assert_eq!(cache.get("erin", "h"), Some(owners(&["carol"])));
    }

    #[test]
    fn the_number_of_answers_is_bounded() {
        let (cache, time) = cache();
        for i in 0..MAX_ANSWERS {
            cache.keep(&format!("u{i}"), "h", owners(&["x"]), cache.generation());
            if i == 0 {
                time.fetch_add(1, Ordering::Relaxed);
            }
        }
        cache.keep("last", "h", owners(&["x"]), cache.generation());
        assert_eq!(cache.state().answers.len(), MAX_ANSWERS);
        assert_eq!(cache.get("u0", "h"), None, "the oldest went");
        assert!(cache.get("last", "h").is_some());
        assert!(cache.get("u1", "h").is_some());
    }
}

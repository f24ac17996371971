//! How long an idle storage process stays (DESIGN §1): long enough to be
//! warm for an owner who comes back at a steady rhythm (a POP3 poller, a
//! webmail that reconnects per page), short for a one-off login.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many recent attaches per owner the policy remembers.
const HISTORY: usize = 8;

/// Remembers when each owner attached and derives linger times from it.
pub struct LingerPolicy {
    min: Duration,
    max: Duration,
    kept_warm: Duration,
    attaches: HashMap<String, VecDeque<Instant>>,
}

impl LingerPolicy {
    /// A policy giving linger times between `min` and `max`.
    pub fn new(min: Duration, max: Duration) -> LingerPolicy {
        LingerPolicy {
            min,
            max: max.max(min),
            kept_warm: Duration::ZERO,
            attaches: HashMap::new(),
        }
    }

    /// Protocol processes keep an idle storage connection open for
    /// `kept_warm` after their last session there (`[storage]
    /// keep_warm_secs`): that time is part of the linger time, so a
    /// process lingers that much less once its last connection closes.
    pub fn kept_warm(mut self, kept_warm: Duration) -> LingerPolicy {
        self.kept_warm = kept_warm;
        self
    }

    /// Notes that `owner` attached at `now`.
    pub fn record_attach(&mut self, owner: &str, now: Instant) {
        let history = self.attaches.entry(owner.to_owned()).or_default();
        history.push_back(now);
        while history.len() > HISTORY {
            history.pop_front();
        }
    }

    /// How long a process serving `owner` stays after its last client:
    /// twice the owner's typical (median) gap between attaches, within the
    /// bounds; the minimum for an owner seen once.
    pub fn linger_for(&self, owner: &str) -> Duration {
        let Some(history) = self.attaches.get(owner) else {
            return self.min;
        };
        let mut gaps: Vec<Duration> = history
            .iter()
            .zip(history.iter().skip(1))
            .map(|(a, b)| b.saturating_duration_since(*a))
            .collect();
        if gaps.is_empty() {
            return self.min;
        }
        gaps.sort();
        let median = gaps[gaps.len() / 2];
        (median * 2).clamp(self.min, self.max)
    }

    /// The linger time of a process serving several owners: the longest.
    pub fn linger_for_all<'a>(&self, owners: impl Iterator<Item = &'a String>) -> Duration {
        owners.map(|o| self.linger_for(o)).max().unwrap_or(self.min)
    }

    /// How long a process serving `owners` stays once its last connection
    /// has closed: its linger time less the time a protocol process kept
    /// that connection open after its last session, so that keeping it
    /// warm never makes the process stay longer than its linger time.
    pub fn after_close_for_all<'a>(&self, owners: impl Iterator<Item = &'a String>) -> Duration {
        self.linger_for_all(owners).saturating_sub(self.kept_warm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_off_login_gets_the_minimum() {
        let mut p = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(600));
        assert_eq!(p.linger_for("x"), Duration::from_secs(10));
        p.record_attach("x", Instant::now());
        assert_eq!(p.linger_for("x"), Duration::from_secs(10));
    }

    #[test]
    fn a_steady_poller_stays_warm_between_polls() {
        let mut p = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(600));
        let t0 = Instant::now();
        for i in 0..5 {
            p.record_attach("poller", t0 + Duration::from_secs(60 * i));
        }
        let linger = p.linger_for("poller");
        assert!(linger > Duration::from_secs(60), "{linger:?}");
        assert_eq!(linger, Duration::from_secs(120));
    }

    #[test]
    fn linger_is_capped_and_an_odd_gap_does_not_dominate() {
        let mut p = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(300));
        let t0 = Instant::now();
        for (i, at) in [0u64, 2, 4, 6, 5000].iter().enumerate() {
            let _ = i;
            p.record_attach("web", t0 + Duration::from_secs(*at));
        }
        assert_eq!(p.linger_for("web"), Duration::from_secs(10));
        let mut q = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(300));
        for at in [0u64, 1000, 2000] {
            q.record_attach("rare", t0 + Duration::from_secs(at));
        }
        assert_eq!(q.linger_for("rare"), Duration::from_secs(300));
    }

    #[test]
    fn the_kept_warm_time_counts_as_part_of_the_linger() {
        let mut p = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(600))
            .kept_warm(Duration::from_secs(4));
        let owners = ["once".to_string()];
        assert_eq!(p.after_close_for_all(owners.iter()), Duration::from_secs(6));
        let t0 = Instant::now();
        for i in 0..4 {
            p.record_attach("poller", t0 + Duration::from_secs(60 * i));
        }
        let owners = ["poller".to_string()];
        assert_eq!(
            p.after_close_for_all(owners.iter()),
            Duration::from_secs(116)
        );
        let p = LingerPolicy::new(Duration::from_secs(2), Duration::from_secs(5))
            .kept_warm(Duration::from_secs(30));
        assert_eq!(p.after_close_for_all(owners.iter()), Duration::ZERO);
    }

    #[test]
    fn a_shared_process_lingers_for_its_most_regular_owner() {
        let mut p = LingerPolicy::new(Duration::from_secs(10), Duration::from_secs(600));
        let t0 = Instant::now();
        for i in 0..4 {
            p.record_attach("a", t0 + Duration::from_secs(30 * i));
        }
        let owners = ["a".to_string(), "b".to_string()];
        assert_eq!(p.linger_for_all(owners.iter()), Duration::from_secs(60));
    }
}

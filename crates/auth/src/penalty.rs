//! The failed-login penalty: each recent failure from a remote address
//! doubles the delay before the next failure reply to that address (base,
//! 2×base, 4×base, … up to a maximum), which slows password guessing
//! without locking anyone out. A success, or [`DECAY`] without failures,
//! forgets the address.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an address's failures are remembered after the last one.
pub const DECAY: Duration = Duration::from_secs(5 * 60);

/// The number of addresses tracked before stale ones are swept out.
const SWEEP_AT: usize = 10_000;

/// Failures counted beyond this add no more delay (2^16 × base is past any
/// sensible maximum), which also keeps the shift below from overflowing.
const MAX_COUNT: u32 = 16;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// Failure counts per remote address.
#[derive(Debug)]
pub struct Penalty {
    base: Duration,
    max: Duration,
    records: Mutex<HashMap<String, Record>>,
}

impl Penalty {
    /// A penalty starting at `base` and never above `max`.
    pub fn new(base: Duration, max: Duration) -> Penalty {
        Penalty {
            base,
            max,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failure from `remote` and returns how long to wait before
    /// replying: base for the first recent failure, doubling with each
    /// further one, capped at max.
    pub fn record_failure(&self, remote: &str) -> Duration {
        self.record_failure_at(remote, Instant::now())
    }

    fn record_failure_at(&self, remote: &str, now: Instant) -> Duration {
        // Only counters live here; a panic elsewhere cannot corrupt them.
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= SWEEP_AT {
            records.retain(|_, r| now.saturating_duration_since(r.last) < DECAY);
        }
        let record = records.entry(remote.to_owned()).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(record.last) >= DECAY {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1).min(MAX_COUNT);
        record.last = now;
        let factor = 1u32 << (record.failures - 1);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Forgets `remote`'s failures after it logged in successfully.
    pub fn reset(&self, remote: &str) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(remote);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_resets_and_decays() {
        let p = Penalty::new(Duration::from_secs(2), Duration::from_secs(15));
        let t = Instant::now();
        let delays: Vec<u64> = (0..5)
            .map(|_| p.record_failure_at("192.0.2.1", t).as_secs())
            .collect();
        assert_eq!(delays, [2, 4, 8, 15, 15]);
        // Another address is independent.
        assert_eq!(p.record_failure_at("192.0.2.2", t), Duration::from_secs(2));
        p.reset("192.0.2.1");
        assert_eq!(p.record_failure_at("192.0.2.1", t), Duration::from_secs(2));
        assert_eq!(p.record_failure_at("192.0.2.1", t), Duration::from_secs(4));
        let later = t + DECAY;
        assert_eq!(
            p.record_failure_at("192.0.2.1", later),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let p = Penalty::new(Duration::from_secs(1), Duration::from_secs(15));
        let t = Instant::now();
        for _ in 0..100 {
            assert!(p.record_failure_at("x", t) <= Duration::from_secs(15));
        }
    }
}

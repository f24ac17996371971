//! The failed-login penalty. Failures are counted against three keys at
//! once: the client's address, its network (/24 for IPv4, /64 for IPv6,
//! where one host often has many addresses) and the account tried. Before
//! auth checks a login it waits the largest delay any of the attempt's keys
//! owes (base for one recent failure, doubling with each further one, up
//! to a maximum), so a client under penalty cannot make auth hash: its
//! guesses cost it time, not us. While a key owes a delay, attempts on it
//! are also spaced out one delay apart, so parallel connections guess no
//! faster than one (each attempt waits at most the maximum, so an attacker
//! cannot lock an account out for longer than that).
//!
//! A success forgets a key's failures only when every one of them was the
//! same account from the same address, i.e. the user's own typing errors;
//! a login to the attacker's own account resets nothing of another's.
//! Failures are forgotten [`DECAY`] after the last one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a key's failures are remembered after the last one.
pub const DECAY: Duration = Duration::from_secs(5 * 60);

/// The number of keys tracked before stale ones are swept out.
const SWEEP_AT: usize = 30_000;

/// Failures counted beyond this add no more delay (2^16 × base is past any
/// sensible maximum), which also keeps the shift below from overflowing.
const MAX_COUNT: u32 = 16;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// The client's address as the protocol process reported it.
    Address(String),
    /// Its /24 (IPv4) or /64 (IPv6).
    Network(IpAddr),
    /// The account name tried.
    Account(String),
}

/// Which attempts a key's failures came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// All from this address and account.
    One(String, String),
    /// From more than one.
    Many,
}

#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    last: Instant,
    /// The earliest time the next attempt on this key may be checked.
    next: Instant,
    source: Source,
}

/// Failure counts per address, network and account.
#[derive(Debug)]
pub struct Penalty {
    base: Duration,
    max: Duration,
    records: Mutex<HashMap<Key, Record>>,
}

impl Penalty {
    /// A penalty starting at `base` and never above `max`.
    pub fn new(base: Duration, max: Duration) -> Penalty {
        Penalty {
            base,
            max: max.max(base),
            records: Mutex::new(HashMap::new()),
        }
    }

    /// How long an attempt from `remote` on `account` (when the mechanism
    /// has named one yet) must wait before it is checked, reserving its
    /// place so that the next attempt on a penalised key waits longer.
    pub fn admit(&self, remote: &str, account: Option<&str>, now: Instant) -> Duration {
        let mut records = self.lock();
        let keys = keys(remote, account);
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(record) = live(&mut records, key, now) {
                wait = wait.max(record.next.saturating_duration_since(now));
            }
        }
        let wait = wait.min(self.max);
        let start = now + wait;
        for key in &keys {
            if let Some(record) = live(&mut records, key, now) {
                let after = record.next.max(start) + self.delay(record.failures);
                record.next = after.min(start + self.max);
            }
        }
        wait
    }

    /// Counts a failed attempt from `remote` on `account`.
    pub fn record_failure(&self, remote: &str, account: Option<&str>, now: Instant) {
        let mut records = self.lock();
        if records.len() >= SWEEP_AT {
            records.retain(|_, r| now.saturating_duration_since(r.last) < DECAY);
        }
        let source = Source::One(remote.to_owned(), account.unwrap_or_default().to_owned());
        for key in keys(remote, account) {
            let record = records.entry(key).or_insert_with(|| Record {
                failures: 0,
                last: now,
                next: now,
                source: source.clone(),
            });
            if now.saturating_duration_since(record.last) >= DECAY {
                record.failures = 0;
                record.source = source.clone();
            }
            if record.source != source {
                record.source = Source::Many;
            }
            record.failures = record.failures.saturating_add(1).min(MAX_COUNT);
            record.last = now;
            record.next = record.next.max(now + self.delay(record.failures));
        }
    }

    /// `account` logged in from `remote`: forgets the keys whose failures
    /// were all this account's from this address.
    pub fn record_success(&self, remote: &str, account: &str) {
        let source = Source::One(remote.to_owned(), account.to_owned());
        let mut records = self.lock();
        for key in keys(remote, Some(account)) {
            if records.get(&key).is_some_and(|r| r.source == source) {
                records.remove(&key);
            }
        }
    }

    /// The delay owed after `failures` recent failures.
    fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (failures.min(MAX_COUNT) - 1);
        self.base.saturating_mul(factor).min(self.max)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Record>> {
        // Only counters live here; a panic elsewhere cannot corrupt them.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The record of `key` if its failures are recent.
fn live<'a>(
    records: &'a mut HashMap<Key, Record>,
    key: &Key,
    now: Instant,
) -> Option<&'a mut Record> {
    records
        .get_mut(key)
        .filter(|r| r.failures > 0 && now.saturating_duration_since(r.last) < DECAY)
}

/// The keys an attempt counts against.
fn keys(remote: &str, account: Option<&str>) -> Vec<Key> {
    let mut keys = vec![Key::Address(remote.to_owned())];
    if let Some(network) = network_of(remote) {
        keys.push(Key::Network(network));
    }
    if let Some(account) = account.filter(|a| !a.is_empty()) {
        keys.push(Key::Account(account.to_owned()));
    }
    keys
}

/// The /24 or /64 an address belongs to (IPv4-mapped IPv6 addresses as
/// IPv4); `None` for what is not an IP address (a UNIX socket's "local").
fn network_of(remote: &str) -> Option<IpAddr> {
    let ip: IpAddr = remote.parse().ok()?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    Some(match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    })
}

#[cfg(test)]
#[path = "tests/penalty.rs"]
mod tests;

//! What the sessions of one lmtp process share: settings, the link to auth
//! (deliver tickets, and the connector storage comes from), the clock, the
//! recipients looked up recently, and the transaction counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mailkeep_frontend::{AuthLink, Clock};

use crate::LmtpSettings;
use crate::recipients::RecipientCache;

/// Process-wide state.
pub struct Process {
    /// Settings.
    pub settings: LmtpSettings,
    /// The link to auth and the connector.
    pub auth: Arc<AuthLink>,
    /// Wall-clock time (ticket lifetimes, Received dates).
    pub clock: Clock,
    /// Recipients looked up recently, with their warm storage channels.
    pub recipients: RecipientCache,
    transactions: AtomicU64,
    started: i64,
}

impl Process {
    /// The state of a process with `settings`, reaching auth and storage
    /// through `auth`.
    pub fn new(settings: LmtpSettings, auth: Arc<AuthLink>, clock: Clock) -> Process {
        let started = clock.now_unix();
        Process {
            settings,
            auth,
            clock,
            recipients: RecipientCache::default(),
            transactions: AtomicU64::new(0),
            started,
        }
    }

    /// An id for the next transaction, unique on this host for the
    /// process's life (its start time, pid and a counter).
    pub fn next_id(&self) -> String {
        let n = self.transactions.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{:x}-{n:x}", self.started, std::process::id())
    }

    /// Now, as the Received field writes dates (RFC 5322 §3.3).
    pub fn clock_date(&self) -> String {
        let now = time::OffsetDateTime::from_unix_timestamp(self.clock.now_unix())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        now.format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default()
    }
}

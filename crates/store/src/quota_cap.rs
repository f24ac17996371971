//! The quota limits as the store itself enforces them: checked against the
//! `quota_usage` row inside the write transaction that adds the messages
//! (an append batch, a delivery, a COPY), after the rows went in. Every
//! storage process of an owner writes the one index under `BEGIN
//! IMMEDIATE`, so the check and the commit are one step for all of them:
//! two processes (a busy owner's second one) cannot both pass a limit
//! that only one add fits, however their earlier checks interleaved.
//!
//! The store knows no quota rules: the quota plugin tells it the limits
//! in force ([`Store::set_usage_cap`]) before each add it allows; without
//! the plugin the cap stays unlimited. A MOVE (usage unchanged), a sync
//! that picks up outside files and a message marked
//! [`crate::AppendWriter::outside_quota`] (the plugin's warning) are never
//! refused.

use rusqlite::Connection;

use crate::Store;
use crate::error::{Result, SqlContext, StoreError};
use crate::index::cached_row;

/// Limits on the owner's total usage; `None` or 0: no limit (the quota
/// plugin's convention).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCap {
    /// Total bytes of every message.
    pub bytes: Option<u64>,
    /// Total number of messages.
    pub messages: Option<u64>,
}

impl UsageCap {
    /// Whether no resource is limited (nothing to check).
    pub fn is_unlimited(self) -> bool {
        [self.bytes, self.messages]
            .iter()
            .all(|l| l.is_none_or(|l| l == 0))
    }
}

impl Store {
    /// Sets the limits every later adding commit of this handle (and its
    /// clones) checks in its transaction; [`UsageCap::default`] lifts them.
    pub fn set_usage_cap(&self, cap: UsageCap) {
        *self
            .inner
            .usage_cap
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = cap;
    }

    /// The limits adding commits check now.
    pub fn usage_cap(&self) -> UsageCap {
        *self
            .inner
            .usage_cap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Refuses (with [`StoreError::OverQuota`], rolling the caller's
/// transaction or savepoint back) when the usage `conn` sees, which
/// already counts the `added` (bytes, messages) just indexed in it,
/// passes `cap`.
pub(crate) fn check(conn: &Connection, cap: UsageCap, added: (u64, u64)) -> Result<()> {
    if cap.is_unlimited() {
        return Ok(());
    }
    let (bytes, count): (i64, i64) = cached_row(
        conn,
        "SELECT bytes, count FROM quota_usage WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ctx("reading quota usage in the adding transaction")?;
    let usage = (
        u64::try_from(bytes).unwrap_or(0),
        u64::try_from(count).unwrap_or(0),
    );
    let resources = [
        ("storage quota of", "bytes", cap.bytes, usage.0, added.0),
        (
            "message quota of",
            "messages",
            cap.messages,
            usage.1,
            added.1,
        ),
    ];
    for (what, unit, limit, now, more) in resources {
        if let Some(limit) = limit.filter(|&l| l > 0)
            && now > limit
        {
            let before = now.saturating_sub(more);
            return Err(StoreError::OverQuota {
                context: format!("{what} {limit} {unit}: {before} used, {more} more asked"),
            });
        }
    }
    Ok(())
}

//! Quota usage: the owner's total message bytes and count, read from the
//! trigger-maintained `quota_usage` row (see the module schema).

use crate::Store;
use crate::error::{Result, SqlContext};
use crate::index::cached_row;

impl Store {
    /// The owner's usage as `(bytes, messages)` over every mailbox, for
    /// quota checks and GETQUOTA. Kept by index triggers in the same
    /// transaction as every change, so it is never out of step.
    pub fn quota_usage(&self) -> Result<(u64, u64)> {
        let conn = self.conn()?;
        let (bytes, count): (i64, i64) = cached_row(
            &conn,
            "SELECT bytes, count FROM quota_usage WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ctx("reading quota usage")?;
        Ok((
            u64::try_from(bytes).unwrap_or(0),
            u64::try_from(count).unwrap_or(0),
        ))
    }
}

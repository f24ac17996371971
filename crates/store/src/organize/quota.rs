//! Quota usage: the owner's total message bytes and count, read from the
//! trigger-maintained `quota_usage` row (see the module schema), and
//! recounted from the files when asked.

use crate::Store;
use crate::error::{Result, SqlContext};
use crate::index::{UidRange, cached_row};
use crate::mailbox::{NOSELECT, begin_write};

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

    /// Picks up outside changes in every mailbox (see
    /// [`Store::sync_mailbox`]; `full`: scan even folders whose stamp did
    /// not change), so that usage counts files another program dropped in.
    pub fn sync_all(&self, full: bool) -> Result<()> {
        for mailbox in self.list()? {
            if mailbox.attributes.iter().any(|a| a == NOSELECT) {
                continue;
            }
            if full {
                self.sync_mailbox_full(&mailbox.name)?;
            } else {
                self.sync_mailbox(&mailbox.name)?;
            }
        }
        Ok(())
    }

    /// Recounts the usage from the files: a full sync of every mailbox,
    /// then the `quota_usage` row set to the sums over the index's
    /// messages, in one transaction. Returns `(bytes, messages)`.
    pub fn recalc_quota(&self) -> Result<(u64, u64)> {
        self.sync_all(true)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        tx.execute(
            "UPDATE quota_usage SET
                bytes = (SELECT COALESCE(SUM(size), 0) FROM messages),
                count = (SELECT COUNT(*) FROM messages)
             WHERE id = 1",
            [],
        )
        .ctx("recounting quota usage")?;
        tx.commit().ctx("committing quota usage")?;
        drop(conn);
        self.quota_usage()
    }

    /// The bytes and count of the messages `uids` of `mailbox` (what a
    /// COPY of them adds to the usage).
    pub fn size_of(&self, mailbox: &str, uids: &[UidRange]) -> Result<(u64, u64)> {
        let name = crate::names::canonical(mailbox)?;
        let conn = self.conn()?;
        let row = crate::index::mailbox_row(&conn, &name)?;
        // Read by UID range (each message once, `*` at either end): a
        // COPY of a few messages reads those, not the whole mailbox.
        let messages = crate::index::messages_flagged_in(&conn, &row, uids, 0)?;
        let bytes = messages
            .iter()
            .fold(0u64, |sum, m| sum.saturating_add(m.size));
        Ok((bytes, messages.len() as u64))
    }
}

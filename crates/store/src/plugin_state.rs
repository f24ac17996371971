//! A small key-value table in the owner's index for storage-side plugins
//! (e.g. the quota plugin's per-owner limit override): kept with the mail
//! it is about, and not reachable by IMAP METADATA, so a user cannot
//! change what a plugin stores for an administrator.

use rusqlite::OptionalExtension;

use crate::Store;
use crate::error::{Result, SqlContext};
use crate::mailbox::begin_write;

/// The table, applied with the main schema.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plugin_state (
    plugin TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
";

impl Store {
    /// The value `plugin` stored under `key`, if any.
    pub fn plugin_value(&self, plugin: &str, key: &str) -> Result<Option<String>> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT value FROM plugin_state WHERE plugin = ?1 AND key = ?2",
            [plugin, key],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading plugin state")
    }

    /// Stores `value` under `plugin`'s `key`, or removes the key (`None`).
    pub fn set_plugin_value(&self, plugin: &str, key: &str, value: Option<&str>) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        match value {
            Some(value) => tx.execute(
                "INSERT OR REPLACE INTO plugin_state (plugin, key, value) VALUES (?1, ?2, ?3)",
                [plugin, key, value],
            ),
            None => tx.execute(
                "DELETE FROM plugin_state WHERE plugin = ?1 AND key = ?2",
                [plugin, key],
            ),
        }
        .ctx("writing plugin state")?;
        tx.commit().ctx("committing plugin state")
    }
}

//! Subscriptions (RFC 9051 §6.3.7–6.3.8): names the client wants LSUB /
//! LIST (SUBSCRIBED) to show. A name may refer to a mailbox that does not
//! exist; renaming a mailbox carries its subscription along (trigger).

use crate::Store;
use crate::error::{Result, SqlContext};
use crate::index::cached_execute;
use crate::mailbox::begin_write;
use crate::names;

impl Store {
    /// Subscribes to `name` (canonicalised; need not exist). Subscribing
    /// twice is not an error.
    pub fn subscribe(&self, name: &str) -> Result<()> {
        let name = names::canonical(name)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let context = format!("subscribing to {name:?}");
        cached_execute(
            &tx,
            "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)",
            [&name],
        )
        .ctx(&context)?;
        cached_execute(
            &tx,
            "UPDATE mailboxes SET subscribed = 1 WHERE name = ?1",
            [&name],
        )
        .ctx(&context)?;
        tx.commit().ctx(&context)
    }

    /// Removes the subscription to `name`. Unsubscribing a name that is not
    /// subscribed is not an error.
    pub fn unsubscribe(&self, name: &str) -> Result<()> {
        let name = names::canonical(name)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let context = format!("unsubscribing from {name:?}");
        cached_execute(&tx, "DELETE FROM subscriptions WHERE name = ?1", [&name]).ctx(&context)?;
        cached_execute(
            &tx,
            "UPDATE mailboxes SET subscribed = 0 WHERE name = ?1",
            [&name],
        )
        .ctx(&context)?;
        tx.commit().ctx(&context)
    }

    /// Every subscribed name, sorted, whether or not the mailbox exists.
    pub fn subscriptions(&self) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT name FROM subscriptions ORDER BY name")
            .ctx("listing subscriptions")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .ctx("listing subscriptions")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("listing subscriptions")?;
        Ok(names)
    }
}

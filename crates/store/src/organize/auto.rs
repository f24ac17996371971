//! Mailboxes every owner has (Dovecot's `auto = subscribe`): Drafts, Sent,
//! Trash and Junk, say, created and subscribed when the store is opened,
//! with their special-use attributes (RFC 6154). A mailbox the user deleted
//! is created again at the next open, as Dovecot does. Cheap when they are
//! all there: one read, no write.

use rusqlite::{Connection, OptionalExtension, params};

use super::special_use::canonical_attributes;
use crate::error::{Result, SqlContext};
use crate::index::{self, cached_execute, cached_row};
use crate::mailbox::begin_write;
use crate::{Store, maildir, names};

/// A mailbox every owner gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoMailbox {
    /// Its name, e.g. `Sent`.
    pub name: String,
    /// Its special-use attribute, e.g. `\Sent`.
    pub attribute: String,
}

/// What one auto mailbox still needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Missing {
    mailbox: bool,
    subscription: bool,
    attribute: bool,
}

impl Missing {
    fn any(&self) -> bool {
        self.mailbox || self.subscription || self.attribute
    }
}

/// What `name` lacks: the mailbox, its subscription, or its attribute
/// (wanted only when it has no special-use attribute and no other
/// mailbox has this one: the user's own choice stands).
fn missing(conn: &Connection, name: &str, attribute: &str) -> Result<Missing> {
    let context = "checking the auto mailboxes";
    let id: Option<i64> = cached_row(
        conn,
        "SELECT id FROM mailboxes WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .ctx(context)?;
    let subscribed: bool = cached_row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )
    .ctx(context)?;
    let attribute_elsewhere_or_own: bool = cached_row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM special_use WHERE attribute = ?1 OR mailbox_id = ?2)",
        params![attribute, id.unwrap_or(0)],
        |r| r.get(0),
    )
    .ctx(context)?;
    Ok(Missing {
        mailbox: id.is_none(),
        subscription: !subscribed,
        attribute: !attribute_elsewhere_or_own,
    })
}

impl Store {
    /// Makes sure each of `wanted` exists, is subscribed and, unless the
    /// user gave it or another mailbox that use, has its special-use
    /// attribute. Returns the names of the mailboxes it created.
    pub fn ensure_auto_mailboxes(&self, wanted: &[AutoMailbox]) -> Result<Vec<String>> {
        let mut plan = Vec::with_capacity(wanted.len());
        for w in wanted {
            let name = names::canonical(&w.name)?;
            let attribute = canonical_attributes(&[&w.attribute])?
                .first()
                .copied()
                .unwrap_or_default();
            plan.push((name, attribute));
        }
        let needed = {
            let conn = self.conn()?;
            let mut any = false;
            for (name, attribute) in &plan {
                any |= missing(&conn, name, attribute)?.any();
            }
            any
        };
        if !needed {
            return Ok(Vec::new());
        }
        let mut created = Vec::new();
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let context = "creating the auto mailboxes";
        for (name, attribute) in &plan {
            // Checked again under the write lock: another process may
            // have done it meanwhile.
            let need = missing(&tx, name, attribute)?;
            let id = if need.mailbox {
                maildir::ensure_maildir(&names::mailbox_dir(self.root(), name), true)?;
                created.push(name.clone());
                index::insert_mailbox(&tx, name)?.id
            } else {
                index::mailbox_row(&tx, name)?.id
            };
            if need.subscription {
                cached_execute(
                    &tx,
                    "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)",
                    [name],
                )
                .ctx(context)?;
                cached_execute(
                    &tx,
                    "UPDATE mailboxes SET subscribed = 1 WHERE id = ?1",
                    [id],
                )
                .ctx(context)?;
            }
            if need.attribute {
                cached_execute(
                    &tx,
                    "INSERT OR IGNORE INTO special_use (mailbox_id, attribute) VALUES (?1, ?2)",
                    params![id, attribute],
                )
                .ctx(context)?;
            }
        }
        tx.commit().ctx(context)?;
        if !created.is_empty() {
            tracing::info!(root = %self.root().display(), ?created, "auto mailboxes created");
        }
        Ok(created)
    }
}

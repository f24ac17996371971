//! Special-use mailbox attributes (RFC 6154): `\Sent`, `\Trash`, … per
//! mailbox, set at CREATE (CREATE-SPECIAL-USE) or later, shown by LIST.
//! Rows hang off the mailbox id, so RENAME keeps them and DELETE drops
//! them (cascade).

use crate::index::cached_execute;
use std::collections::BTreeMap;

use rusqlite::params;

use crate::error::{Result, SqlContext, StoreError};
use crate::mailbox::{MailboxInfo, begin_write};
use crate::{Store, index, maildir, names};

/// The special-use attributes RFC 6154 defines, in their canonical case.
pub const SPECIAL_USE_ATTRIBUTES: [&str; 7] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// Canonicalises attributes (case-insensitive, deduplicated), refusing
/// unknown ones with [`StoreError::UseAttr`].
pub(crate) fn canonical_attributes<S: AsRef<str>>(attributes: &[S]) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for a in attributes {
        let a = a.as_ref();
        let known = SPECIAL_USE_ATTRIBUTES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(a))
            .ok_or_else(|| StoreError::UseAttr {
                attribute: a.to_owned(),
            })?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(out)
}

/// Replaces a mailbox's attributes inside an open transaction.
pub(crate) fn store_attributes(tx: &rusqlite::Connection, id: i64, attrs: &[&str]) -> Result<()> {
    let context = "storing special-use attributes";
    cached_execute(tx, "DELETE FROM special_use WHERE mailbox_id = ?1", [id]).ctx(context)?;
    for a in attrs {
        cached_execute(
            tx,
            "INSERT INTO special_use (mailbox_id, attribute) VALUES (?1, ?2)",
            params![id, a],
        )
        .ctx(context)?;
    }
    Ok(())
}

impl Store {
    /// Creates a mailbox with special-use attributes in one transaction
    /// (RFC 6154 CREATE-SPECIAL-USE) and returns its MAILBOXID. Unknown
    /// attributes fail with
    /// [`StoreError::UseAttr`] before anything is created.
    pub fn create_with_special_use<S: AsRef<str>>(
        &self,
        name: &str,
        attributes: &[S],
    ) -> Result<String> {
        let attrs = canonical_attributes(attributes)?;
        let name = names::canonical(name)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        if index::mailbox_exists(&tx, &name)? {
            return Err(StoreError::AlreadyExists { mailbox: name });
        }
        maildir::ensure_maildir(&names::mailbox_dir(self.root(), &name), true)?;
        let row = index::insert_mailbox(&tx, &name)?;
        store_attributes(&tx, row.id, &attrs)?;
        tx.commit()
            .ctx(&format!("committing creation of {name:?}"))?;
        Ok(row.object_id)
    }

    /// Replaces the special-use attributes of an existing mailbox (an empty
    /// list clears them), e.g. for SETMETADATA `/private/specialuse`.
    pub fn set_special_use<S: AsRef<str>>(&self, name: &str, attributes: &[S]) -> Result<()> {
        let attrs = canonical_attributes(attributes)?;
        let name = names::canonical(name)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let row = index::mailbox_row(&tx, &name)?;
        store_attributes(&tx, row.id, &attrs)?;
        tx.commit()
            .ctx(&format!("committing special-use of {name:?}"))
    }

    /// The special-use attributes of a mailbox, in canonical order.
    pub fn special_use(&self, name: &str) -> Result<Vec<String>> {
        let name = names::canonical(name)?;
        let conn = self.conn()?;
        let row = index::mailbox_row(&conn, &name)?;
        attributes_of(&conn, row.id)
    }
}

/// The special-use attributes of the mailbox with row `id`, in canonical
/// order.
pub(crate) fn attributes_of(conn: &rusqlite::Connection, id: i64) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT attribute FROM special_use WHERE mailbox_id = ?1 ORDER BY attribute",
        )
        .ctx("reading special-use attributes")?;
    let attrs = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .ctx("reading special-use attributes")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading special-use attributes")?;
    Ok(attrs)
}

/// Appends each listed mailbox's special-use attributes to its LIST
/// attributes (called by [`Store::list`]).
pub(crate) fn add_special_use(store: &Store, list: &mut [MailboxInfo]) -> Result<()> {
    let conn = store.conn()?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.name, s.attribute FROM special_use s
             JOIN mailboxes m ON m.id = s.mailbox_id ORDER BY s.attribute",
        )
        .ctx("reading special-use attributes")?;
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .ctx("reading special-use attributes")?;
    for row in rows {
        let (name, attr) = row.ctx("reading special-use attributes")?;
        by_name.entry(name).or_default().push(attr);
    }
    for info in list.iter_mut() {
        if let Some(attrs) = by_name.remove(&info.name) {
            info.attributes.extend(attrs);
        }
    }
    Ok(())
}

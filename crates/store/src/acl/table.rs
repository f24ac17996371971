//! The `acl` table of the index and the queries on it. Entries hang off
//! the mailbox's row (`mailbox_id`), so they follow a RENAME (which keeps
//! the row) and go with a DELETE (cascade); a mailbox created again under
//! the same name is a new row and starts with no entries.

use rusqlite::{Connection, OptionalExtension, params};

use super::{AclEntry, Rights};
use crate::error::{Result, SqlContext};
use crate::index::{cached_execute, cached_row};

/// The table: one row per mailbox and identifier, `rights` as the bits of
/// [`Rights`] (never 0: an entry without rights is removed). Identifiers
/// compare exactly (BINARY). The index by identifier serves the lookups
/// by user (a guest's LIST, the list of grantees).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS acl (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    rights     INTEGER NOT NULL CHECK (rights > 0),
    PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS acl_by_identifier ON acl (identifier, mailbox_id);
";

/// Which identifiers bear on a user's rights (RFC 4314 §2): `?1` is the
/// user. A literal, spliced into the queries below by `concat!`.
macro_rules! identifiers_of_user {
    () => {
        "(?1, 'authenticated', 'anyone', '-' || ?1, '-authenticated', '-anyone')"
    };
}

/// Folds the entries that bear on `user` into their rights: the union of
/// the positive entries minus the union of the negative ones.
#[derive(Default)]
pub(super) struct Effective {
    granted: Rights,
    denied: Rights,
}

impl Effective {
    /// Takes one entry of `identifier` (one of `identifiers_of_user!`).
    /// An identifier is negative when it starts with `-` and is not the
    /// user's own name.
    pub(super) fn add(&mut self, user: &str, identifier: &str, rights: Rights) {
        if identifier != user && identifier.starts_with('-') {
            self.denied |= rights;
        } else {
            self.granted |= rights;
        }
    }

    /// The rights the entries add up to.
    pub(super) fn rights(&self) -> Rights {
        self.granted.minus(self.denied)
    }
}

/// Reads the stored bits of a row as [`Rights`].
fn rights_column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Rights> {
    let bits: i64 = row.get(i)?;
    Ok(Rights::from_bits(u16::try_from(bits).unwrap_or(0)))
}

/// Every entry of mailbox `id`, by identifier.
pub(super) fn entries(conn: &Connection, id: i64) -> Result<Vec<AclEntry>> {
    let context = "reading an ACL";
    let mut stmt = conn
        .prepare_cached(
            "SELECT identifier, rights FROM acl WHERE mailbox_id = ?1 ORDER BY identifier",
        )
        .ctx(context)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(AclEntry {
                identifier: r.get(0)?,
                rights: rights_column(r, 1)?,
            })
        })
        .ctx(context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(context)?;
    Ok(rows)
}

/// The rights `identifier`'s entry on mailbox `id` holds (none without
/// an entry).
pub(super) fn rights_of_identifier(conn: &Connection, id: i64, identifier: &str) -> Result<Rights> {
    let rights = cached_row(
        conn,
        "SELECT rights FROM acl WHERE mailbox_id = ?1 AND identifier = ?2",
        params![id, identifier],
        |r| rights_column(r, 0),
    )
    .optional()
    .ctx("reading an ACL entry")?;
    Ok(rights.unwrap_or_default())
}

/// Makes `identifier`'s entry on mailbox `id` hold `rights`; no rights
/// removes the entry.
pub(super) fn store(conn: &Connection, id: i64, identifier: &str, rights: Rights) -> Result<()> {
    let context = "writing an ACL entry";
    if rights.is_empty() {
        remove(conn, id, identifier)
    } else {
        cached_execute(
            conn,
            "INSERT INTO acl (mailbox_id, identifier, rights) VALUES (?1, ?2, ?3)
             ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
            params![id, identifier, rights.bits()],
        )
        .ctx(context)?;
        Ok(())
    }
}

/// Removes `identifier`'s entry on mailbox `id`, if any.
pub(super) fn remove(conn: &Connection, id: i64, identifier: &str) -> Result<()> {
    cached_execute(
        conn,
        "DELETE FROM acl WHERE mailbox_id = ?1 AND identifier = ?2",
        params![id, identifier],
    )
    .ctx("removing an ACL entry")?;
    Ok(())
}

/// `user`'s rights on the mailbox of canonical name `name`, from one
/// query; `None` if there is no such mailbox.
pub(super) fn user_rights(conn: &Connection, name: &str, user: &str) -> Result<Option<Rights>> {
    let context = "reading a user's rights";
    const SQL: &str = concat!(
        "SELECT a.identifier, a.rights FROM mailboxes m
         LEFT JOIN acl a ON a.mailbox_id = m.id AND a.identifier IN ",
        identifiers_of_user!(),
        " WHERE m.name = ?2"
    );
    let mut stmt = conn.prepare_cached(SQL).ctx(context)?;
    let mut rows = stmt.query(params![user, name]).ctx(context)?;
    let mut found = false;
    let mut effective = Effective::default();
    while let Some(row) = rows.next().ctx(context)? {
        found = true;
        // NULLs: the mailbox exists and has no entry for the user.
        let identifier: Option<String> = row.get(0).ctx(context)?;
        let bits: Option<i64> = row.get(1).ctx(context)?;
        if let (Some(identifier), Some(bits)) = (identifier, bits) {
            let rights = Rights::from_bits(u16::try_from(bits).unwrap_or(0));
            effective.add(user, &identifier, rights);
        }
    }
    Ok(found.then(|| effective.rights()))
}

/// Every mailbox with an entry bearing on `user`, with the user's rights
/// there (possibly none), by mailbox name; from one query.
pub(super) fn rights_by_mailbox(conn: &Connection, user: &str) -> Result<Vec<(String, Rights)>> {
    let context = "listing a user's rights";
    const SQL: &str = concat!(
        "SELECT m.name, a.identifier, a.rights FROM acl a
         JOIN mailboxes m ON m.id = a.mailbox_id
         WHERE a.identifier IN ",
        identifiers_of_user!(),
        " ORDER BY m.name"
    );
    let mut stmt = conn.prepare_cached(SQL).ctx(context)?;
    let mut rows = stmt.query(params![user]).ctx(context)?;
    let mut out: Vec<(String, Effective)> = Vec::new();
    while let Some(row) = rows.next().ctx(context)? {
        let name: String = row.get(0).ctx(context)?;
        let identifier: String = row.get(1).ctx(context)?;
        let rights = rights_column(row, 2).ctx(context)?;
        // Rows come grouped by name: a new name starts a new mailbox.
        if out.last().is_none_or(|(last, _)| *last != name) {
            out.push((name, Effective::default()));
        }
        if let Some((_, effective)) = out.last_mut() {
            effective.add(user, &identifier, rights);
        }
    }
    Ok(out
        .into_iter()
        .map(|(name, effective)| (name, effective.rights()))
        .collect())
}

/// The identifiers with a positive entry on some mailbox, sorted.
pub(super) fn positive_identifiers(conn: &Connection) -> Result<Vec<String>> {
    let context = "listing ACL grantees";
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT identifier FROM acl
             WHERE substr(identifier, 1, 1) <> '-' ORDER BY identifier",
        )
        .ctx(context)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .ctx(context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(context)?;
    Ok(names)
}

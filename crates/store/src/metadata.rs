//! Annotations on the owner's store and on mailboxes (METADATA, RFC 5464):
//! entries named like `/private/comment` or `/shared/vendor/x/y` with
//! binary values. Server entries (no mailbox) belong to the owner's store;
//! a mailbox's entries hang off its row, so they follow a RENAME and go
//! with a DELETE (cascade). Entry names compare case-insensitively (the
//! first spelling is kept). Limits on value size and on the number of
//! entries per owner are checked in the transaction that sets entries, and
//! a refused set changes nothing.
//!
//! A mailbox's `/private/specialuse` entry (registered by RFC 6154 §6) is
//! its special-use attributes, space-separated: reading it reads them,
//! setting it sets them (NIL clears them).

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, cached_execute, cached_row};
use crate::mailbox::begin_write;
use crate::{Store, names};

/// The table of entries; `mailbox_id` NULL holds the server entries.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metadata (
    mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    name       TEXT NOT NULL COLLATE NOCASE,
    value      BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS metadata_entry ON metadata (ifnull(mailbox_id, 0), name);
";

/// The mailbox entry that is the mailbox's special-use attributes.
pub const SPECIAL_USE_ENTRY: &str = "/private/specialuse";

/// Longest entry name accepted, in bytes.
pub const MAX_ENTRY_NAME: usize = 1024;

/// How far below each named entry a lookup reaches (RFC 5464 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataDepth {
    /// The entry itself.
    Zero,
    /// The entry and its immediate children.
    One,
    /// The entry and everything below it.
    Infinity,
}

/// Limits on one owner's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataLimits {
    /// Largest value accepted, in bytes.
    pub max_value_size: u64,
    /// Most entries the owner may have, server and mailbox entries
    /// together.
    pub max_entries: u64,
}

impl Default for MetadataLimits {
    fn default() -> Self {
        MetadataLimits {
            max_value_size: 32 * 1024,
            max_entries: 1000,
        }
    }
}

/// One entry and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    /// The name as first stored.
    pub name: String,
    /// The value.
    pub value: Vec<u8>,
}

/// What a lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataFound {
    /// The entries within the size limit, by name.
    pub entries: Vec<MetadataEntry>,
    /// The size of the largest value left out for the size limit
    /// (RFC 5464 `LONGENTRIES`); 0 if none was.
    pub longest_skipped: u64,
}

/// Checks an entry name (RFC 5464 §3.2): below `/private/` or `/shared/`,
/// printable ASCII without `*` and `%`, no empty component, no trailing
/// `/`. With `root_ok`, `/private` and `/shared` themselves pass (a lookup
/// may start there).
fn check_name(name: &str, root_ok: bool) -> Result<()> {
    let bad = |why: &str| StoreError::InvalidArgument(format!("metadata entry {name:?} {why}"));
    if name.len() > MAX_ENTRY_NAME {
        return Err(StoreError::Limit {
            what: format!("metadata entry name of {} bytes", name.len()),
            max: MAX_ENTRY_NAME as u64,
        });
    }
    if !name
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'*' && b != b'%')
    {
        return Err(bad("has a character entry names may not have"));
    }
    let lower = name.to_ascii_lowercase();
    let root = lower == "/private" || lower == "/shared";
    if root && !root_ok {
        return Err(bad("names no entry"));
    }
    if !root && !lower.starts_with("/private/") && !lower.starts_with("/shared/") {
        return Err(bad("is not below /private or /shared"));
    }
    if name.ends_with('/') || name.contains("//") {
        return Err(bad("has an empty component"));
    }
    Ok(())
}

/// Whether stored entry `entry` answers a lookup of `asked` at `depth`.
fn within(entry: &str, asked: &str, depth: MetadataDepth) -> bool {
    let (entry, asked) = (entry.to_ascii_lowercase(), asked.to_ascii_lowercase());
    if entry == asked {
        return true;
    }
    let Some(below) = entry
        .strip_prefix(&asked)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return false;
    };
    match depth {
        MetadataDepth::Zero => false,
        MetadataDepth::One => !below.contains('/'),
        MetadataDepth::Infinity => true,
    }
}

/// The id of `mailbox`'s row, or `None` for the server entries.
fn scope(conn: &Connection, mailbox: Option<&str>) -> Result<Option<i64>> {
    match mailbox {
        None => Ok(None),
        Some(name) => {
            let name = names::canonical(name)?;
            Ok(Some(index::mailbox_row(conn, &name)?.id))
        }
    }
}

impl Store {
    /// The entries named by `entries` (and below them, by `depth`) of
    /// `mailbox`, or the server entries when `mailbox` is `None`. With
    /// `max_size`, values larger than it are left out and the largest
    /// such size is reported.
    pub fn get_metadata<S: AsRef<str>>(
        &self,
        mailbox: Option<&str>,
        entries: &[S],
        depth: MetadataDepth,
        max_size: Option<u64>,
    ) -> Result<MetadataFound> {
        for name in entries {
            check_name(name.as_ref(), true)?;
        }
        let conn = self.conn()?;
        let id = scope(&conn, mailbox)?;
        let context = "reading metadata";
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, value FROM metadata WHERE ifnull(mailbox_id, 0) = ?1 ORDER BY name",
            )
            .ctx(context)?;
        let stored = stmt
            .query_map([id.unwrap_or(0)], |r| {
                Ok(MetadataEntry {
                    name: r.get(0)?,
                    value: r.get(1)?,
                })
            })
            .ctx(context)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx(context)?;
        let mut stored = stored;
        if let Some(id) = id {
            let attributes = crate::organize::attributes_of(&conn, id)?;
            if !attributes.is_empty() {
                stored.push(MetadataEntry {
                    name: SPECIAL_USE_ENTRY.to_owned(),
                    value: attributes.join(" ").into_bytes(),
                });
                stored.sort_by_key(|e| e.name.to_ascii_lowercase());
            }
        }
        let mut found = MetadataFound::default();
        for entry in stored {
            if !entries
                .iter()
                .any(|asked| within(&entry.name, asked.as_ref(), depth))
            {
                continue;
            }
            let size = entry.value.len() as u64;
            if max_size.is_some_and(|max| size > max) {
                found.longest_skipped = found.longest_skipped.max(size);
                continue;
            }
            found.entries.push(entry);
        }
        Ok(found)
    }

    /// Sets (a value) or removes (`None`) each of `entries` of `mailbox`,
    /// or of the server when `mailbox` is `None`, in one transaction:
    /// either every change is made or none. A value over
    /// `limits.max_value_size` is [`StoreError::MetadataTooLarge`]; more
    /// entries than `limits.max_entries` afterwards is
    /// [`StoreError::MetadataTooMany`].
    pub fn set_metadata<S: AsRef<str>>(
        &self,
        mailbox: Option<&str>,
        entries: &[(S, Option<Vec<u8>>)],
        limits: &MetadataLimits,
    ) -> Result<()> {
        for (name, value) in entries {
            check_name(name.as_ref(), false)?;
            if let Some(v) = value
                && v.len() as u64 > limits.max_value_size
            {
                return Err(StoreError::MetadataTooLarge {
                    size: v.len() as u64,
                    max: limits.max_value_size,
                });
            }
        }
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let id = scope(&tx, mailbox)?;
        let context = "setting metadata";
        for (name, value) in entries {
            let name = name.as_ref();
            if let Some(id) = id
                && name.eq_ignore_ascii_case(SPECIAL_USE_ENTRY)
            {
                let text = value.as_deref().unwrap_or_default();
                let text = std::str::from_utf8(text).map_err(|_| StoreError::UseAttr {
                    attribute: String::from_utf8_lossy(text).into_owned(),
                })?;
                let given: Vec<&str> = text.split_ascii_whitespace().collect();
                let attributes = crate::organize::canonical_attributes(&given)?;
                crate::organize::store_attributes(&tx, id, &attributes)?;
                continue;
            }
            match value {
                None => {
                    cached_execute(
                        &tx,
                        "DELETE FROM metadata WHERE ifnull(mailbox_id, 0) = ?1 AND name = ?2",
                        params![id.unwrap_or(0), name],
                    )
                    .ctx(context)?;
                }
                Some(value) => {
                    let changed = cached_execute(
                        &tx,
                        "UPDATE metadata SET value = ?3 WHERE ifnull(mailbox_id, 0) = ?1 AND name = ?2",
                        params![id.unwrap_or(0), name, value],
                    )
                    .ctx(context)?;
                    if changed == 0 {
                        cached_execute(
                            &tx,
                            "INSERT INTO metadata (mailbox_id, name, value) VALUES (?1, ?2, ?3)",
                            params![id, name, value],
                        )
                        .ctx(context)?;
                    }
                }
            }
        }
        let count: i64 =
            cached_row(&tx, "SELECT COUNT(*) FROM metadata", [], |r| r.get(0)).ctx(context)?;
        if u64::try_from(count).unwrap_or(u64::MAX) > limits.max_entries {
            // Dropping the transaction undoes every change above.
            return Err(StoreError::MetadataTooMany {
                max: limits.max_entries,
            });
        }
        tx.commit().ctx(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_follow_rfc_5464() {
        for good in ["/private/comment", "/shared/vendor/x/y", "/PRIVATE/Comment"] {
            assert!(check_name(good, false).is_ok(), "{good}");
        }
        for bad in [
            "/private",
            "/other/x",
            "private/x",
            "/private/x/",
            "/private//x",
            "/private/a*",
            "/private/a%",
            "/private/\u{e9}",
            "/private/a\tb",
        ] {
            assert!(check_name(bad, false).is_err(), "{bad}");
        }
        assert!(check_name("/shared", true).is_ok());
        assert!(matches!(
            check_name(&format!("/private/{}", "x".repeat(MAX_ENTRY_NAME)), false),
            Err(StoreError::Limit { .. })
        ));
    }

    #[test]
    fn depth_reaches_children_and_descendants() {
        use MetadataDepth::*;
        assert!(within("/private/a", "/private/a", Zero));
        assert!(within("/Private/A", "/private/a", Zero));
        assert!(!within("/private/a/b", "/private/a", Zero));
        assert!(within("/private/a/b", "/private/a", One));
        assert!(!within("/private/a/b/c", "/private/a", One));
        assert!(within("/private/a/b/c", "/private/a", Infinity));
        assert!(!within("/private/ab", "/private/a", Infinity));
        assert!(within("/private/a", "/private", One));
    }
}

//! Access control lists on mailboxes (IMAP ACL, RFC 4314, RIGHTS=texk).
//!
//! Each mailbox has entries mapping an identifier — a user name,
//! `anyone`, `authenticated`, or one of them behind `-` for negative
//! rights — to [`Rights`]. The store holds one owner's mail and does not
//! know the owner's name: the caller knows it and gives the owner every
//! right itself. Everything here is about the others: a user's rights on a
//! mailbox are the union of the entries of the user's name,
//! `authenticated` and `anyone`, minus the union of the entries of the
//! same identifiers behind `-` (RFC 4314 §2).
//!
//! Identifiers compare exactly (user names as given). Entries belong to
//! the mailbox's row: they follow a RENAME, go with a DELETE, and a
//! mailbox created again under an old name starts with none. RENAME of
//! INBOX makes a new mailbox for INBOX's messages: it starts with no
//! entries (as any new mailbox), and INBOX keeps its own.

mod rights;
mod stamp;
mod table;

pub use rights::Rights;
pub(crate) use stamp::SCHEMA as STAMP_SCHEMA;
pub(crate) use table::SCHEMA;

use crate::Store;
use crate::error::{Result, SqlContext, StoreError};
use crate::index;
use crate::mailbox::begin_write;
use crate::names::{self, INBOX};

/// The longest identifier accepted, in bytes: room for `-` and the
/// longest mail address (254 bytes).
pub const MAX_ACL_IDENTIFIER: usize = 255;

/// One entry of a mailbox's ACL (GETACL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// A user name, `anyone` or `authenticated`; `-` in front for
    /// negative rights.
    pub identifier: String,
    /// The rights the entry grants (or, negative, takes away); never
    /// empty.
    pub rights: Rights,
}

/// How [`Store::set_acl`] changes an identifier's rights (RFC 4314 §3.1:
/// SETACL's rights with a leading `+`, `-` or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclChange {
    /// The identifier's rights become exactly the rights given.
    Replace,
    /// The rights given are added to the identifier's.
    Add,
    /// The rights given are taken from the identifier's.
    Remove,
}

/// Refuses an identifier that can name no one: empty, a bare `-`, longer
/// than [`MAX_ACL_IDENTIFIER`], or with a control character (it would
/// not survive an IMAP response line).
fn check_identifier(identifier: &str) -> Result<()> {
    if identifier.is_empty() || identifier == "-" {
        return Err(StoreError::InvalidArgument(format!(
            "{identifier:?} is not an ACL identifier"
        )));
    }
    if identifier.len() > MAX_ACL_IDENTIFIER {
        return Err(StoreError::Limit {
            what: format!("ACL identifier of {} bytes", identifier.len()),
            max: MAX_ACL_IDENTIFIER as u64,
        });
    }
    if identifier.chars().any(char::is_control) {
        return Err(StoreError::InvalidArgument(format!(
            "ACL identifier {identifier:?} has a control character"
        )));
    }
    Ok(())
}

impl Store {
    /// The ACL of `mailbox` (GETACL): its entries, sorted by identifier.
    /// A missing mailbox is [`StoreError::NotFound`].
    pub fn acl(&self, mailbox: &str) -> Result<Vec<AclEntry>> {
        let name = names::canonical(mailbox)?;
        let mut conn = self.reader()?;
        let tx = crate::txn::Txn::read(&mut conn).ctx("starting a read")?;
        let row = index::mailbox_row(&tx, &name)?;
        table::entries(&tx, row.id)
    }

    /// The ACL stamp of `mailbox`: it moves with every change of the
    /// mailbox's ACL, made by any process (see
    /// [`crate::MailboxCounters::acl_stamp`]). Read after a change made
    /// here, it is what watchers of the owner were told along with the
    /// change, so that the change is not announced again as one made
    /// elsewhere. A missing mailbox is [`StoreError::NotFound`].
    pub fn acl_stamp(&self, mailbox: &str) -> Result<u64> {
        let name = names::canonical(mailbox)?;
        let mut conn = self.reader()?;
        let tx = crate::txn::Txn::read(&mut conn).ctx("starting a read")?;
        let row = index::mailbox_row(&tx, &name)?;
        stamp::of(&tx, row.id)
    }

    /// Changes `identifier`'s rights on `mailbox` (SETACL): `change` says
    /// whether `rights` replace, add to or are taken from what the
    /// identifier has. Returns the identifier's rights afterwards; an
    /// entry left without rights is removed. A missing mailbox is
    /// [`StoreError::NotFound`]; an empty identifier or a bare `-`
    /// [`StoreError::InvalidArgument`].
    pub fn set_acl(
        &self,
        mailbox: &str,
        identifier: &str,
        rights: Rights,
        change: AclChange,
    ) -> Result<Rights> {
        check_identifier(identifier)?;
        let name = names::canonical(mailbox)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let row = index::mailbox_row(&tx, &name)?;
        let now = table::rights_of_identifier(&tx, row.id, identifier)?;
        let new = match change {
            AclChange::Replace => rights,
            AclChange::Add => now.union(rights),
            AclChange::Remove => now.minus(rights),
        };
        table::store(&tx, row.id, identifier, new)?;
        tx.commit()
            .ctx(&format!("committing an ACL change on {name:?}"))?;
        Ok(new)
    }

    /// Removes `identifier`'s entry from `mailbox`'s ACL (DELETEACL); an
    /// identifier without an entry is not an error. A missing mailbox is
    /// [`StoreError::NotFound`].
    pub fn delete_acl(&self, mailbox: &str, identifier: &str) -> Result<()> {
        check_identifier(identifier)?;
        let name = names::canonical(mailbox)?;
        let mut conn = self.conn()?;
        let tx = begin_write(&mut conn)?;
        let row = index::mailbox_row(&tx, &name)?;
        table::remove(&tx, row.id, identifier)?;
        tx.commit()
            .ctx(&format!("committing an ACL change on {name:?}"))
    }

    /// The rights on `mailbox` of `user`, who is not the owner (MYRIGHTS,
    /// and the check of every call a guest makes): the union of the
    /// entries of `user`, `authenticated` and `anyone`, minus the union of
    /// those of `-user`, `-authenticated` and `-anyone`. `None` when there
    /// is no such mailbox (an invalid name included), so the caller can
    /// answer as if it did not exist. One cached query on a read
    /// connection.
    pub fn rights_of(&self, mailbox: &str, user: &str) -> Result<Option<Rights>> {
        let Ok(name) = names::canonical(mailbox) else {
            return Ok(None);
        };
        let conn = self.reader()?;
        table::user_rights(&conn, &name, user)
    }

    /// Every mailbox on which `user`, who is not the owner, has at least
    /// `l` (a LIST by a guest), with the user's rights there: INBOX first,
    /// then by name. One query, whatever the number of mailboxes.
    pub fn mailboxes_visible_to(&self, user: &str) -> Result<Vec<(String, Rights)>> {
        let conn = self.reader()?;
        let mut visible: Vec<(String, Rights)> = table::rights_by_mailbox(&conn, user)?
            .into_iter()
            .filter(|(_, rights)| rights.contains(Rights::LOOKUP))
            .collect();
        visible.sort_by(|a, b| (a.0 != INBOX, &a.0).cmp(&(b.0 != INBOX, &b.0)));
        Ok(visible)
    }

    /// Whether `user`, who is not the owner, holds at least one of `any`
    /// on some mailbox of the owner (a guest's read of what belongs to
    /// the owner as a whole, as the quota of the owner's root).
    pub fn holds_any_of(&self, user: &str, any: Rights) -> Result<bool> {
        let conn = self.reader()?;
        Ok(table::rights_by_mailbox(&conn, user)?
            .iter()
            .any(|(_, rights)| rights.intersects(any)))
    }

    /// Every identifier that holds some positive right on some mailbox of
    /// the owner (not the `-` ones), sorted, `anyone` and `authenticated`
    /// included when they have entries: the master keeps, per user, the
    /// owners who share something with them.
    pub fn grantees(&self) -> Result<Vec<String>> {
        let conn = self.reader()?;
        table::positive_identifiers(&conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_that_name_no_one_are_refused() {
        for bad in ["", "-", "a\nb", "a\0", "\t"] {
            assert!(
                matches!(check_identifier(bad), Err(StoreError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_identifier(&"x".repeat(MAX_ACL_IDENTIFIER + 1)),
            Err(StoreError::Limit { .. })
        ));
        for good in ["bob", "-bob", "anyone", "-anyone", "a@b.example", "--x"] {
            assert!(check_identifier(good).is_ok(), "{good:?}");
        }
        assert!(check_identifier(&"x".repeat(MAX_ACL_IDENTIFIER)).is_ok());
    }

    #[test]
    fn negative_entries_take_away_from_the_positive_ones() {
        let mut e = table::Effective::default();
        e.add("bob", "bob", Rights::parse("lrw").unwrap());
        e.add("bob", "anyone", Rights::parse("i").unwrap());
        e.add("bob", "-anyone", Rights::parse("w").unwrap());
        assert_eq!(e.rights().to_string(), "lri");
        // A user whose own name starts with "-" is not negative to itself.
        let mut e = table::Effective::default();
        e.add("-odd", "-odd", Rights::LOOKUP);
        assert_eq!(e.rights(), Rights::LOOKUP);
    }
}

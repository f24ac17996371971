//! Calls made by a user on another owner's mail (DESIGN §2: a session
//! ticket "allows what ACLs grant on others' mailboxes"): what each
//! request needs of the owner's ACLs (RFC 4314 §4), checked by the gate
//! before any store work runs. The protocol process never decides this.
//!
//! A recipient's deliver ticket is a guest too ([`Actor::Deliverer`]) when
//! a delivery names another owner's mailbox (`bob+shared.alice.Team`):
//! it may only ask whether that mailbox exists and append to it, and only
//! where the owner's ACL grants it 'p' (post). 'i' (insert) is IMAP
//! APPEND's right and does not suffice, as in Dovecot, whose ACL plugin
//! asks for 'p' when saving in a post session (LMTP, LDA, Sieve's
//! fileinto) and for 'i' otherwise.

use mailkeep_store::{Rights, Store, StoreError, Viewer};

/// Who a call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The owner (or an admin ticket): every right on every mailbox.
    Owner,
    /// Another user, by their session ticket: only what the owner's ACLs
    /// grant them.
    Guest(String),
    /// Another user's deliver ticket (a delivery into a shared mailbox):
    /// only a delivery's calls, into a mailbox where the owner's ACLs
    /// grant that user 'p'; never a read.
    Deliverer(String),
}

impl Actor {
    /// The guest's name (a session's or a deliverer's), `None` for the
    /// owner.
    pub(crate) fn guest(&self) -> Option<&str> {
        match self {
            Actor::Owner => None,
            Actor::Guest(user) | Actor::Deliverer(user) => Some(user),
        }
    }

    /// Whose flags the store shows and changes for this actor: a guest
    /// has a `\Seen` of their own on the owner's mailboxes.
    pub(crate) fn viewer(&self) -> Viewer<'_> {
        match self {
            Actor::Owner => Viewer::Owner,
            Actor::Guest(user) | Actor::Deliverer(user) => Viewer::Guest(user),
        }
    }
}

/// What a request needs before a guest may make it.
#[derive(Debug)]
pub(crate) enum GuestNeed {
    /// Nothing a guest may do (subscriptions, special-use, the maildrop,
    /// server metadata: the owner's own).
    OwnerOnly,
    /// These rights on this mailbox.
    Mailbox(String, Rights),
    /// At least one right on this mailbox (MYRIGHTS).
    AnyRight(String),
    /// At least one of these rights on this mailbox, or, with none named,
    /// on some mailbox of the owner (a plugin's read for a guest, e.g.
    /// the quota of the root a shared mailbox is in).
    AnyOf(Option<String>, Rights),
    /// Rights on two mailboxes (COPY: read the source, insert into the
    /// target; RENAME: delete the old name, create under the new parent).
    Both((String, Rights), (String, Rights)),
    /// The right to create children of the parent of `name` (CREATE);
    /// a top-level name has no parent a guest could hold rights on.
    CreateUnder(String),
    /// The handler narrows its own answer to what the guest may see
    /// (ListMailboxes).
    Filtered,
}

/// Why a guest's call is refused, before the store is touched.
#[derive(Debug)]
pub(crate) enum GuestRefusal {
    /// The guest may not see the mailbox (or it does not exist): answered
    /// as a missing mailbox, so that its existence is not revealed.
    Hidden(String),
    /// The guest sees the mailbox but lacks a right the call needs.
    Missing { mailbox: String, need: Rights },
    /// The call is the owner's alone.
    OwnerOnly,
}

/// The rights a flag change needs (RFC 4314 §4, STORE): `\Seen` needs
/// 's', `\Deleted` 't', any other flag or keyword 'w'. Replacing the
/// flags touches all of them.
pub(crate) fn flag_rights<S: AsRef<str>>(flags: &[S], replace: bool) -> Rights {
    if replace {
        return Rights::SEEN
            .union(Rights::DELETE_MESSAGES)
            .union(Rights::WRITE);
    }
    flags.iter().fold(Rights::empty(), |need, flag| {
        let flag = flag.as_ref();
        need.union(if flag.eq_ignore_ascii_case("\\Seen") {
            Rights::SEEN
        } else if flag.eq_ignore_ascii_case("\\Deleted") {
            Rights::DELETE_MESSAGES
        } else {
            Rights::WRITE
        })
    })
}

/// Checks `need` for `guest` against `store`'s ACLs; runs on the owner's
/// store thread. A mailbox that is missing, or on which the guest holds
/// neither 'l' nor every right needed, is [`GuestRefusal::Hidden`].
pub(crate) fn check(
    store: &Store,
    guest: &str,
    need: &GuestNeed,
) -> Result<Result<(), GuestRefusal>, StoreError> {
    match need {
        GuestNeed::OwnerOnly => Ok(Err(GuestRefusal::OwnerOnly)),
        GuestNeed::Filtered => Ok(Ok(())),
        GuestNeed::Mailbox(mailbox, rights) => one(store, guest, mailbox, *rights),
        GuestNeed::AnyRight(mailbox) => Ok(match store.rights_of(mailbox, guest)? {
            Some(have) if !have.is_empty() => Ok(()),
            _ => Err(GuestRefusal::Hidden(mailbox.clone())),
        }),
        GuestNeed::AnyOf(Some(mailbox), any) => Ok(match store.rights_of(mailbox, guest)? {
            Some(have) if have.intersects(*any) => Ok(()),
            _ => Err(GuestRefusal::Hidden(mailbox.clone())),
        }),
        GuestNeed::AnyOf(None, any) => Ok(if store.holds_any_of(guest, *any)? {
            Ok(())
        } else {
            Err(GuestRefusal::OwnerOnly)
        }),
        GuestNeed::Both((a, need_a), (b, need_b)) => {
            if let Err(refusal) = one(store, guest, a, *need_a)? {
                return Ok(Err(refusal));
            }
            one(store, guest, b, *need_b)
        }
        GuestNeed::CreateUnder(name) => match parent_of(name) {
            Some(parent) => one(store, guest, parent, Rights::CREATE),
            None => Ok(Err(GuestRefusal::Missing {
                mailbox: name.clone(),
                need: Rights::CREATE,
            })),
        },
    }
}

/// The parent of a hierarchical mailbox name; `None` at the top level.
pub(crate) fn parent_of(name: &str) -> Option<&str> {
    name.rfind(mailkeep_store::DELIMITER)
        .map(|at| &name[..at])
        .filter(|parent| !parent.is_empty())
}

fn one(
    store: &Store,
    guest: &str,
    mailbox: &str,
    need: Rights,
) -> Result<Result<(), GuestRefusal>, StoreError> {
    let have = store.rights_of(mailbox, guest)?.unwrap_or(Rights::empty());
    if have.contains(need) {
        return Ok(Ok(()));
    }
    // RFC 4314 §6: without 'l' (or the rights asked for) the mailbox is
    // answered as missing.
    if !have.contains(Rights::LOOKUP) {
        return Ok(Err(GuestRefusal::Hidden(mailbox.to_owned())));
    }
    Ok(Err(GuestRefusal::Missing {
        mailbox: mailbox.to_owned(),
        need: need.minus(have),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_changes_need_the_right_of_each_flag() {
        assert_eq!(flag_rights(&["\\Seen"], false), Rights::SEEN);
        assert_eq!(flag_rights(&["\\deleted"], false), Rights::DELETE_MESSAGES);
        assert_eq!(
            flag_rights(&["\\Flagged", "$Junk"], false),
            Rights::WRITE,
            "other flags and keywords need 'w'"
        );
        assert_eq!(
            flag_rights::<&str>(&[], true),
            Rights::SEEN
                .union(Rights::DELETE_MESSAGES)
                .union(Rights::WRITE)
        );
    }

    #[test]
    fn parents_are_the_name_up_to_its_last_delimiter() {
        assert_eq!(parent_of("Team.Reports.2026"), Some("Team.Reports"));
        assert_eq!(parent_of("Team"), None);
        assert_eq!(parent_of(".Team"), None);
    }
}

//! Which owner's mailbox a recipient's `+detail` names: a folder of the
//! recipient's own, or, in the namespaces IMAP shows (RFC 2342, Dovecot's
//! layout), another owner's mailbox: `shared.<owner>.<folder>` or the
//! public account's `Public.<folder>`. A delivery there goes through that
//! owner's storage process with the recipient's deliver ticket, which
//! admits it only where the owner granted the recipient 'p' (post).
//!
//! This is a pure function of the detail, the recipient, the public
//! account and the owners sharing with the recipient; it decides only
//! where to ask, never whether the delivery is allowed.

use mailkeep_frontend::namespaces::{
    DELIMITER, PUBLIC_PREFIX, SHARED_PREFIX, normalize, sharing_owner_of,
};

/// Where a detail points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A folder of the recipient's own, by this name.
    Own(String),
    /// A mailbox of another owner.
    Other {
        /// The owner, whose storage process holds the mailbox.
        owner: String,
        /// Its name in the owner's store.
        mailbox: String,
    },
    /// A name in the shared namespace that is no other owner's mailbox
    /// (`shared.alice` alone, or the recipient's own name): the delivery
    /// falls back to INBOX, for this reason.
    Nowhere(&'static str),
}

/// Whether `detail` is in the shared namespace, so that [`target`] needs
/// the owners who share with the recipient.
pub fn is_shared(detail: &str) -> bool {
    detail.starts_with(SHARED_PREFIX)
}

/// Where `detail` points for `user`. `public_owner` is the public
/// namespace's account (empty: none), `owners` those who share with
/// `user` (as the broker says; only read for a shared name). An owner's
/// name may hold the delimiter (`john.doe`): the longest of `owners`
/// that prefixes the name wins, as in IMAP; when none does (the owner's
/// host did not answer, or the owner shares nothing with the recipient)
/// the first component is taken as the owner, whose storage then says
/// whether the recipient may post there.
pub fn target(user: &str, detail: &str, public_owner: &str, owners: &[String]) -> Target {
    if let Some(rest) = detail.strip_prefix(SHARED_PREFIX) {
        return shared(user, rest, owners);
    }
    if let Some(rest) = detail.strip_prefix(PUBLIC_PREFIX)
        && !public_owner.is_empty()
        && public_owner != user
    {
        if rest.is_empty() {
            return Target::Nowhere("the public namespace's root is no mailbox");
        }
        return Target::Other {
            owner: public_owner.to_owned(),
            mailbox: normalize(rest),
        };
    }
    Target::Own(detail.to_owned())
}

/// `rest` of `shared.<rest>` for `user`.
fn shared(user: &str, rest: &str, owners: &[String]) -> Target {
    // An owner not listed (its host did not answer, or it shares nothing
    // with the recipient) is still asked: the first component.
    let listed = sharing_owner_of(user, rest, owners);
    let (owner, mailbox) = match listed.or_else(|| rest.split_once(DELIMITER)) {
        Some(found) => found,
        None => return Target::Nowhere("a shared name without a mailbox"),
    };
    if owner.is_empty() || mailbox.is_empty() {
        return Target::Nowhere("a shared name without an owner or a mailbox");
    }
    if owner == user {
        return Target::Nowhere("the recipient's own mail is not in the shared namespace");
    }
    Target::Other {
        owner: owner.to_owned(),
        mailbox: normalize(mailbox),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(owner: &str, mailbox: &str) -> Target {
        Target::Other {
            owner: owner.into(),
            mailbox: mailbox.into(),
        }
    }

    #[test]
    fn own_folders_stay_own() {
        assert_eq!(target("bob", "Lists", "", &[]), Target::Own("Lists".into()));
        assert_eq!(
            target("bob", "Lists.Rust", "public", &[]),
            Target::Own("Lists.Rust".into())
        );
        // No public account: a personal folder may be called so.
        assert_eq!(
            target("bob", "Public.News", "", &[]),
            Target::Own("Public.News".into())
        );
        // The public account's own folders are personal to it.
        assert_eq!(
            target("public", "Public.News", "public", &[]),
            Target::Own("Public.News".into())
        );
    }

    #[test]
    fn public_names_are_the_public_accounts() {
        assert_eq!(
            target("bob", "Public.News.Daily", "public", &[]),
            other("public", "News.Daily")
        );
        assert!(matches!(
            target("bob", "Public.", "public", &[]),
            Target::Nowhere(_)
        ));
    }

    #[test]
    fn shared_names_split_at_the_longest_sharing_owner() {
        let owners = ["john".to_owned(), "john.doe".to_owned()];
        assert_eq!(
            target("bob", "shared.alice.Team", "", &[]),
            other("alice", "Team"),
            "no list: the first component"
        );
        assert_eq!(
            target("bob", "shared.john.doe.Team.Sub", "", &owners),
            other("john.doe", "Team.Sub")
        );
        assert_eq!(
            target("bob", "shared.john.Team", "", &owners),
            other("john", "Team")
        );
        assert_eq!(
            target("bob", "shared.carol.Plans", "", &owners),
            other("carol", "Plans"),
            "an owner not listed (a host down) is still asked"
        );
    }

    #[test]
    fn shared_names_without_another_owners_mailbox_go_nowhere() {
        for detail in ["shared.alice", "shared.alice.", "shared..Team", "shared."] {
            assert!(
                matches!(target("bob", detail, "", &[]), Target::Nowhere(_)),
                "{detail}"
            );
        }
        assert!(matches!(
            target("bob", "shared.bob.Team", "", &["bob".into()]),
            Target::Nowhere(_)
        ));
    }
}

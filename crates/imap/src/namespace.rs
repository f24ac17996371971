//! Namespaces (RFC 2342, with Dovecot's layout so that client setups keep
//! working): the personal namespace `""` holds the user's own mailboxes;
//! the shared namespace `shared.` holds what other owners share with the
//! user, each owner's mailbox `M` as `shared.<owner>.M`. `shared` and
//! `shared.<owner>` themselves are containers that cannot be selected.
//!
//! Every command that names a mailbox turns the client's name into a
//! [`MailboxRef`] (whose storage, which mailbox there) here, and calls that
//! owner's storage. Whether the user may do anything there is the owner's
//! storage process's decision (it checks the owner's ACLs for the user);
//! this process only addresses the right owner.

use mailkeep_frontend::StorageError;
use mailkeep_imap_proto::{Code, NamespaceDescr};

use crate::cmd::common::{DELIMITER, normalize};
use crate::errors::{Target, storage_reply};
use crate::reply::Reply;
use crate::session::state::Authed;

pub(crate) use mailkeep_frontend::namespaces::{
    PUBLIC_PREFIX, PUBLIC_ROOT, SHARED_PREFIX, SHARED_ROOT,
};

/// `Public.<name>`: a mailbox of the public namespace's owner.
pub(crate) fn public_name(name: &str) -> String {
    format!("{PUBLIC_PREFIX}{name}")
}

/// A mailbox of some owner: whose storage holds it, and its name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct MailboxRef {
    /// The owner, whose storage process serves the mailbox.
    pub(crate) owner: String,
    /// The name as that owner's storage knows it (UTF-8, `INBOX` in one
    /// spelling).
    pub(crate) name: String,
}

impl MailboxRef {
    /// The name the client sees for this mailbox, as `user` is logged in:
    /// the name itself for the user's own, `shared.<owner>.<name>` for
    /// another owner's.
    pub(crate) fn client_name(&self, user: &str) -> String {
        if self.owner == user {
            self.name.clone()
        } else {
            shared_name(&self.owner, &self.name)
        }
    }
}

/// `shared.<owner>.<name>`.
pub(crate) fn shared_name(owner: &str, name: &str) -> String {
    format!("{SHARED_PREFIX}{owner}{DELIMITER}{name}")
}

/// `shared.<owner>`, the container of an owner's shared mailboxes.
pub(crate) fn owner_container(owner: &str) -> String {
    format!("{SHARED_PREFIX}{owner}")
}

/// What a client's mailbox name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A mailbox (which may or may not exist) of an owner.
    Mailbox(MailboxRef),
    /// `shared` or `shared.<owner>`: a container, no mailbox.
    Container,
    /// A name under `shared.` that names no owner sharing with the user.
    NoOwner,
}

/// Whether `name` is in the shared namespace (and so needs the sharing
/// owners to be resolved).
pub(crate) fn is_shared(name: &str) -> bool {
    name == SHARED_ROOT || name.starts_with(SHARED_PREFIX)
}

/// Whether `name` is in the public namespace.
pub(crate) fn is_public(name: &str) -> bool {
    name == PUBLIC_ROOT || name.starts_with(PUBLIC_PREFIX)
}

/// Resolves a name of the public namespace (owned by `public`); `None`
/// for a name outside it.
pub(crate) fn resolve_public(name: &str, public: &str) -> Option<Resolved> {
    if name == PUBLIC_ROOT {
        return Some(Resolved::Container);
    }
    let rest = name.strip_prefix(PUBLIC_PREFIX)?;
    if rest.is_empty() {
        return Some(Resolved::Container);
    }
    Some(Resolved::Mailbox(MailboxRef {
        owner: public.to_owned(),
        name: normalize(rest),
    }))
}

/// Resolves a client's mailbox name for `user`, given the owners who
/// share with the user (ignored for a personal name). User names may
/// contain the delimiter (`alice@example.com`), so the longest owner that
/// prefixes the name wins.
pub(crate) fn resolve(user: &str, name: &str, owners: &[String]) -> Resolved {
    let Some(rest) = name.strip_prefix(SHARED_PREFIX) else {
        if name == SHARED_ROOT {
            return Resolved::Container;
        }
        return Resolved::Mailbox(MailboxRef {
            owner: user.to_owned(),
            name: normalize(name),
        });
    };
    match mailkeep_frontend::namespaces::sharing_owner_of(user, rest, owners) {
        None => Resolved::NoOwner,
        Some((_, "")) => Resolved::Container,
        Some((owner, mailbox)) => Resolved::Mailbox(MailboxRef {
            owner: owner.to_owned(),
            name: normalize(mailbox),
        }),
    }
}

/// The NAMESPACE answer's public namespace: `(("Public." "."))` when an
/// owner is configured (and is not the user), else none.
pub(crate) fn public_namespace(authed: &Authed) -> Vec<NamespaceDescr> {
    match authed.public_owner() {
        Some(_) => vec![NamespaceDescr {
            prefix: PUBLIC_PREFIX.to_owned(),
            delimiter: Some(DELIMITER),
        }],
        None => Vec::new(),
    }
}

/// The NAMESPACE answer's personal and other users' namespaces:
/// `(("" ".")) (("shared." "."))`.
pub(crate) fn namespaces() -> (Vec<NamespaceDescr>, Vec<NamespaceDescr>) {
    let personal = vec![NamespaceDescr {
        prefix: String::new(),
        delimiter: Some(DELIMITER),
    }];
    let others = vec![NamespaceDescr {
        prefix: SHARED_PREFIX.to_owned(),
        delimiter: Some(DELIMITER),
    }];
    (personal, others)
}

/// Resolves the mailbox names of one command: asks for the sharing owners
/// only for a name in the shared namespace, and at most once.
pub(crate) struct Names<'a> {
    authed: &'a Authed,
    owners: Option<Vec<String>>,
}

impl<'a> Names<'a> {
    /// A resolver for one command of `authed`.
    pub(crate) fn new(authed: &'a Authed) -> Names<'a> {
        Names {
            authed,
            owners: None,
        }
    }

    /// The owners who share with the user, asked once (the user left out).
    pub(crate) async fn owners(&mut self) -> Result<&[String], StorageError> {
        if self.owners.is_none() {
            let user = self.authed.user();
            let mut owners = self.authed.storage.sharing_owners().await?;
            owners.retain(|o| o != user && !o.is_empty());
            owners.sort();
            owners.dedup();
            self.owners = Some(owners);
        }
        Ok(self.owners.as_deref().unwrap_or_default())
    }

    /// What `name` stands for.
    pub(crate) async fn resolve(&mut self, name: &str) -> Result<Resolved, StorageError> {
        let user = self.authed.user().to_owned();
        if let Some(public) = self.authed.public_owner()
            && let Some(resolved) = resolve_public(name, public)
        {
            return Ok(resolved);
        }
        if !is_shared(name) {
            return Ok(resolve(&user, name, &[]));
        }
        let owners = self.owners().await?;
        Ok(resolve(&user, name, owners))
    }

    /// The mailbox `name` stands for, or the NO reply: a container is no
    /// mailbox (`NO [CANNOT]`), an unknown owner's name does not exist
    /// (`NO [NONEXISTENT]`, or `[TRYCREATE]` where `target` is a
    /// destination), and the owners not being known is
    /// `NO [UNAVAILABLE]`.
    pub(crate) async fn mailbox(
        &mut self,
        name: &str,
        target: Target,
    ) -> Result<MailboxRef, Reply> {
        match self.resolve(name).await {
            Ok(Resolved::Mailbox(mailbox)) => Ok(mailbox),
            Ok(Resolved::Container) => {
                Err(Reply::no("That name is a container, not a mailbox").code(Code::Cannot))
            }
            Ok(Resolved::NoOwner) => Err(match target {
                Target::Destination => Reply::no("Mailbox does not exist").code(Code::TryCreate),
                Target::Other => Reply::no("Mailbox does not exist").code(Code::NonExistent),
            }),
            Err(e) => Err(storage_reply(&e, Target::Other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(owner: &str, name: &str) -> Resolved {
        Resolved::Mailbox(MailboxRef {
            owner: owner.into(),
            name: name.into(),
        })
    }

    fn owners(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn personal_names_are_the_users_own() {
        let sharing = owners(&["alice"]);
        assert_eq!(resolve("bob", "INBOX", &sharing), mailbox("bob", "INBOX"));
        assert_eq!(resolve("bob", "inbox", &[]), mailbox("bob", "INBOX"));
        assert_eq!(resolve("bob", "Work.x.", &[]), mailbox("bob", "Work.x"));
        // Only the exact prefix is the shared namespace.
        assert_eq!(
            resolve("bob", "sharedx", &sharing),
            mailbox("bob", "sharedx")
        );
        assert_eq!(
            resolve("bob", "Shared.alice.X", &sharing),
            mailbox("bob", "Shared.alice.X")
        );
        assert!(!is_shared("sharedx"));
        assert!(is_shared("shared"));
        assert!(is_shared("shared.a"));
    }

    #[test]
    fn shared_names_go_to_their_owner() {
        let sharing = owners(&["alice", "carol"]);
        assert_eq!(
            resolve("bob", "shared.alice.Projects", &sharing),
            mailbox("alice", "Projects")
        );
        assert_eq!(
            resolve("bob", "shared.alice.Projects.2026", &sharing),
            mailbox("alice", "Projects.2026")
        );
        assert_eq!(
            resolve("bob", "shared.alice.inbox", &sharing),
            mailbox("alice", "INBOX")
        );
        assert_eq!(resolve("bob", "shared", &sharing), Resolved::Container);
        assert_eq!(
            resolve("bob", "shared.alice", &sharing),
            Resolved::Container
        );
        assert_eq!(
            resolve("bob", "shared.alice.", &sharing),
            Resolved::Container
        );
        assert_eq!(resolve("bob", "shared.dave.X", &sharing), Resolved::NoOwner);
        assert_eq!(resolve("bob", "shared.", &sharing), Resolved::NoOwner);
        // An owner's name must end at a delimiter.
        assert_eq!(
            resolve("bob", "shared.alicex.X", &sharing),
            Resolved::NoOwner
        );
        // The user is never one of the sharing owners.
        assert_eq!(
            resolve("bob", "shared.bob.X", &owners(&["bob"])),
            Resolved::NoOwner
        );
    }

    #[test]
    fn the_longest_owner_wins() {
        let sharing = owners(&["alice", "alice@example.com", "alice@example"]);
        assert_eq!(
            resolve("bob", "shared.alice@example.com.Projects", &sharing),
            mailbox("alice@example.com", "Projects")
        );
        assert_eq!(
            resolve("bob", "shared.alice@example.Projects", &sharing),
            mailbox("alice@example", "Projects")
        );
        assert_eq!(
            resolve("bob", "shared.alice.Projects", &sharing),
            mailbox("alice", "Projects")
        );
        assert_eq!(
            resolve("bob", "shared.alice@example.com", &sharing),
            Resolved::Container
        );
    }

    #[test]
    fn client_names_round_trip() {
        let sharing = owners(&["alice@example.com"]);
        for (owner, name) in [("bob", "INBOX"), ("alice@example.com", "A.B")] {
            let m = MailboxRef {
                owner: owner.into(),
                name: name.into(),
            };
            let shown = m.client_name("bob");
            assert_eq!(resolve("bob", &shown, &sharing), Resolved::Mailbox(m));
        }
        assert_eq!(shared_name("alice", "INBOX"), "shared.alice.INBOX");
        assert_eq!(owner_container("alice"), "shared.alice");
    }
}

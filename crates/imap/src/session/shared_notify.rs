//! NOTIFY (RFC 5465) on other owners' mailboxes: which mailboxes of the
//! shared and public namespaces a NOTIFY SET names, and one Watch stream
//! for each of them at its owner's storage.
//!
//! The user is a guest at every other owner's storage, and a guest may
//! watch only a named mailbox (watching all of an owner's mailboxes is the
//! owner's), so each named mailbox gets its own stream. The owner's storage
//! decides, by its ACLs, which of them the user may watch; one it refuses
//! (no `r` right, or a mailbox the user may not see), or an owner whose
//! storage cannot be reached, is simply not watched: RFC 5465 §6 lets a
//! server skip mailboxes it cannot watch. Nothing here runs for a set that
//! names no mailbox outside the personal namespace, so such a NOTIFY costs
//! what it always did.

use std::collections::{BTreeMap, BTreeSet};

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{NotifyMailboxes, NotifySet};
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, MailboxEvent, WatchRequest};
use tokio_stream::StreamMap;
use tonic::Streaming;

use crate::cmd::common::DELIMITER;
use crate::namespace::{MailboxRef, Names, Resolved, is_public, is_shared, owner_container};
use crate::session::state::Authed;

/// Another owner's mailbox the session watches for NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    /// Whose mailbox, and its name at the owner's storage.
    pub(crate) mailbox: MailboxRef,
    /// Its name as the client sees it (`shared.<owner>.<name>` or
    /// `Public.<name>`), which the NOTIFY groups are matched against.
    pub(crate) shown: String,
}

/// The change streams of the watched mailboxes of other owners, keyed by
/// their place in the list of watched mailboxes. A stream that ends (its
/// owner's storage went away) simply leaves the map.
pub(crate) type SharedEvents = StreamMap<usize, Streaming<MailboxEvent>>;

/// Whether `name` is `root` or below it.
pub(crate) fn within(name: &str, root: &str) -> bool {
    name == root
        || name
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with(DELIMITER))
}

/// The mailboxes of other owners that `set` names by MAILBOXES, SUBTREE
/// or SUBSCRIBED (`subscribed`: the user's subscriptions, client names).
/// PERSONAL and INBOXES are the user's own mailboxes only. A mailbox is
/// named under the name the client sees for it, and only when that name
/// leads back to it (two owners' names can meet, see
/// [`crate::namespace::resolve`]). Owners are asked only for names outside
/// the personal namespace.
pub(crate) async fn named_mailboxes(
    authed: &Authed,
    set: &NotifySet,
    subscribed: &BTreeSet<String>,
) -> Vec<Watched> {
    let elsewhere = |name: &&String| is_shared(name) || is_public(name);
    let mut names = Names::new(authed);
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut found: BTreeSet<MailboxRef> = BTreeSet::new();
    for group in &set.groups {
        match &group.mailboxes {
            NotifyMailboxes::Mailboxes(list) => {
                for name in list.iter().filter(elsewhere) {
                    found.extend(foreign(authed, &mut names, name).await);
                }
            }
            NotifyMailboxes::Subscribed => {
                for name in subscribed.iter().filter(elsewhere) {
                    found.extend(foreign(authed, &mut names, name).await);
                }
            }
            NotifyMailboxes::Subtree(roots) => {
                for root in roots.iter().filter(elsewhere) {
                    let below = subtree(authed, &mut names, &mut listed, root).await;
                    found.extend(below);
                }
            }
            NotifyMailboxes::Selected
            | NotifyMailboxes::SelectedDelayed
            | NotifyMailboxes::Inboxes
            | NotifyMailboxes::Personal => {}
        }
    }
    shown(authed, &mut names, found).await
}

/// The mailboxes of other owners that the client names `subscribed` (new
/// subscriptions, while SUBSCRIBED is asked for) stand for.
pub(crate) async fn subscribed_mailboxes(authed: &Authed, subscribed: &[String]) -> Vec<Watched> {
    let mut names = Names::new(authed);
    let mut found = BTreeSet::new();
    for name in subscribed {
        found.extend(foreign(authed, &mut names, name).await);
    }
    shown(authed, &mut names, found).await
}

/// `found` with the names the client sees for them, each only when that
/// name leads back to it.
async fn shown(
    authed: &Authed,
    names: &mut Names<'_>,
    found: BTreeSet<MailboxRef>,
) -> Vec<Watched> {
    let mut watched = Vec::new();
    for mailbox in found {
        let shown = authed.shown(&mailbox);
        if foreign(authed, names, &shown).await.as_ref() == Some(&mailbox) {
            watched.push(Watched { mailbox, shown });
        }
    }
    watched
}

/// The other owner's mailbox `name` stands for, if it stands for one.
async fn foreign(authed: &Authed, names: &mut Names<'_>, name: &str) -> Option<MailboxRef> {
    match names.resolve(name).await {
        Ok(Resolved::Mailbox(mailbox)) if mailbox.owner != authed.user() => Some(mailbox),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(name, error = %e, "a NOTIFY mailbox's owner is unknown");
            None
        }
    }
}

/// The other owners' mailboxes at or below the client name `root`: each
/// owner whose names can be there is asked (once, through `listed`) for
/// the mailboxes it lists for the user.
async fn subtree(
    authed: &Authed,
    names: &mut Names<'_>,
    listed: &mut BTreeMap<String, Vec<String>>,
    root: &str,
) -> Vec<MailboxRef> {
    let owners: Vec<String> = if is_shared(root) {
        match names.owners().await {
            Ok(owners) => owners
                .iter()
                .filter(|owner| {
                    let container = owner_container(owner);
                    within(&container, root) || within(root, &container)
                })
                .cloned()
                .collect(),
            Err(e) => {
                tracing::debug!(root, error = %e, "sharing owners unknown; NOTIFY skips them");
                Vec::new()
            }
        }
    } else {
        authed
            .public_owner()
            .map(|owner| vec![owner.to_owned()])
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for owner in owners {
        if !listed.contains_key(&owner) {
            let mailboxes = selectable(authed, &owner).await;
            listed.insert(owner.clone(), mailboxes);
        }
        for name in listed.get(&owner).into_iter().flatten() {
            let mailbox = MailboxRef {
                owner: owner.clone(),
                name: name.clone(),
            };
            if within(&authed.shown(&mailbox), root) {
                found.push(mailbox);
            }
        }
    }
    found
}

/// The selectable mailboxes `owner`'s storage lists for the user; none
/// when it cannot be asked.
async fn selectable(authed: &Authed, owner: &str) -> Vec<String> {
    let request = ListMailboxesRequest {
        owner: owner.to_owned(),
    };
    let listing = authed
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().list_mailboxes(request).await }
        })
        .await;
    match listing {
        Ok(listing) => listing
            .mailboxes
            .into_iter()
            .filter(|m| {
                !m.attributes.iter().any(|a| {
                    a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
                })
            })
            .map(|m| m.name)
            .collect(),
        Err(e) => {
            tracing::debug!(owner, error = %e, "an owner's mailboxes are not watched");
            Vec::new()
        }
    }
}

/// Starts a Watch stream for each of `wanted` at its owner's storage, all
/// at once; the ones refused or unreachable are left out.
pub(crate) async fn watch_each(
    authed: &Authed,
    wanted: Vec<Watched>,
) -> Vec<(Watched, Streaming<MailboxEvent>)> {
    let started = futures::future::join_all(wanted.into_iter().map(|watched| async move {
        let owner = watched.mailbox.owner.clone();
        let request = WatchRequest {
            owner: owner.clone(),
            mailbox: watched.mailbox.name.clone(),
        };
        let stream = authed
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                crate::session::watch_call::watch(rpc, request)
            })
            .await;
        (watched, stream)
    }))
    .await;
    started
        .into_iter()
        .filter_map(|(mailbox, stream)| match stream {
            Ok(stream) => Some((mailbox, stream)),
            Err(e) => {
                tracing::debug!(
                    mailbox = %mailbox.shown,
                    error = %e,
                    "a shared mailbox is not watched for NOTIFY"
                );
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn within_a_subtree_ends_at_a_delimiter() {
        assert!(within("shared.alice", "shared"));
        assert!(within("shared.alice.Projects", "shared.alice"));
        assert!(within("shared.alice", "shared.alice"));
        assert!(!within("shared.alicex", "shared.alice"));
        assert!(!within("shared", "shared.alice"));
    }
}

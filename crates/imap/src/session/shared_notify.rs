//! NOTIFY (RFC 5465) on other owners' mailboxes: which owners of the
//! shared and public namespaces a NOTIFY SET covers, one Watch stream of
//! every mailbox of each at its storage, and what the user sees of each
//! owner's mailbox list, kept current by those streams.
//!
//! The user is a guest at every other owner's storage, which shows the
//! guest's stream only what the owner's ACLs let the user see: message
//! events of the mailboxes the user may read, and list events as the user
//! sees the list (a mailbox shared after NOTIFY SET, by a grant or by a
//! create under a shared parent, arrives as created; one unshared as
//! deleted). An owner whose storage cannot be reached is not watched for
//! now (RFC 5465 §6 lets a server skip mailboxes it cannot watch); a
//! stream that ends (the owner's storage went away) is started again, at
//! once and then with growing pauses, and what was missed meanwhile is
//! told as a resync: the list's difference and every named mailbox's
//! STATUS. Nothing here runs for a set that names no mailbox outside the
//! personal namespace, so such a NOTIFY costs what it always did.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::{NotifyMailboxes, NotifySet};
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, MailboxEvent, WatchRequest};
use tokio::time::Instant;
use tokio_stream::{StreamExt, StreamMap};
use tonic::Streaming;

use crate::cmd::common::DELIMITER;
use crate::namespace::{
    MailboxRef, Names, Resolved, is_public, is_shared, owner_container, resolve, resolve_public,
};
use crate::session::state::Authed;

/// How many other owners one session's NOTIFY follows at most: each is a
/// stream (and, in per-user mode, a storage process kept alive), and
/// owners who grant `anyone` could otherwise make the list long.
const MOST_OWNERS_WATCHED: usize = 64;

/// The longest pause between two tries to start an ended stream again.
const MOST_BETWEEN_TRIES: Duration = Duration::from_secs(60);

/// Whether `name` is `root` or below it.
pub(crate) fn within(name: &str, root: &str) -> bool {
    name == root
        || name
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with(DELIMITER))
}

/// Whether `name` is outside the personal namespace.
pub(crate) fn elsewhere(name: &str) -> bool {
    is_shared(name) || is_public(name)
}

/// What happened to the other owners' streams.
#[derive(Debug)]
pub(crate) enum OtherArrival {
    /// An event of `owner`'s stream.
    Event(String, MailboxEvent),
    /// `owner`'s stream ended or is due to be started again.
    Restart(String),
    /// Time to ask again who shares with the user.
    Refresh,
}

/// A change of what the user sees of another owner's mailboxes, found
/// when a stream starts again or an owner is newly watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListDiff {
    /// The mailbox came into view.
    Created(MailboxRef),
    /// The mailbox left the view.
    Deleted(MailboxRef),
}

/// An owner whose stream ended: when to try again, and how often it was.
#[derive(Debug)]
struct Retrying {
    at: Instant,
    tries: u32,
}

/// The watched owners of the shared and public namespaces.
#[derive(Default)]
pub(crate) struct Others {
    /// Each watched owner's mailboxes the user may look up (names at the
    /// owner's storage), kept current by its stream's list events.
    known: BTreeMap<String, BTreeSet<String>>,
    streams: StreamMap<String, Streaming<MailboxEvent>>,
    /// Owners whose stream ended and is not started again yet.
    restarts: BTreeMap<String, Retrying>,
    /// Who shares with the user, as last asked (to resolve shown names).
    sharing: Vec<String>,
    /// When to ask again who shares with the user (so that an owner who
    /// shares with them for the first time after NOTIFY SET is picked
    /// up); `None`: never (no subtree of the shared namespace is
    /// watched).
    refresh_at: Option<Instant>,
}

impl Others {
    /// Starts watching every other owner `set` covers (`subscribed`: the
    /// user's subscriptions, client names).
    pub(crate) async fn start(
        authed: &Authed,
        set: &NotifySet,
        subscribed: &BTreeSet<String>,
    ) -> Others {
        let mut others = Others::default();
        if !names_elsewhere(set, subscribed) {
            return others;
        }
        if subtrees(set).any(|root| is_shared(root)) {
            others.refresh_at = Some(Instant::now() + authed.owners_refresh);
        }
        let mut names = Names::new(authed);
        let wanted = owners_named(authed, &mut names, set, subscribed).await;
        if wanted
            .iter()
            .any(|owner| Some(owner.as_str()) != authed.public_owner())
        {
            // Asked already to find them: no second call.
            others.sharing = names
                .owners()
                .await
                .map(<[String]>::to_vec)
                .unwrap_or_default();
        }
        for owner in wanted {
            others.watch_owner(authed, &owner).await;
        }
        others
    }

    /// Starts watching `owner` unless it is watched (or waits to be
    /// started again); the mailboxes it shows the user as list
    /// differences (all of them are new). An owner whose stream cannot
    /// start is left out.
    async fn watch_owner(&mut self, authed: &Authed, owner: &str) -> Vec<ListDiff> {
        if self.known.contains_key(owner) {
            return Vec::new();
        }
        if self.known.len() >= MOST_OWNERS_WATCHED {
            // RFC 5465 §6 lets a server leave out what it cannot watch.
            tracing::warn!(
                owner,
                most = MOST_OWNERS_WATCHED,
                "NOTIFY watches no more owners for this session"
            );
            return Vec::new();
        }
        match open(authed, owner).await {
            Ok((stream, listed)) => {
                self.streams.insert(owner.to_owned(), stream);
                let diff = listed
                    .iter()
                    .map(|name| ListDiff::Created(mailbox_ref(owner, name)))
                    .collect();
                self.known.insert(owner.to_owned(), listed);
                diff
            }
            Err(e) => {
                tracing::debug!(owner, error = %e, "another owner's mailboxes are not watched for NOTIFY");
                Vec::new()
            }
        }
    }

    /// Starts watching the owners of `names` (client names, newly
    /// subscribed to) that are not watched yet.
    pub(crate) async fn watch_names(&mut self, authed: &Authed, names: &[String]) {
        let mut resolver = Names::new(authed);
        let mut owners = BTreeSet::new();
        for name in names.iter().filter(|n| elsewhere(n)) {
            if let Some(mailbox) = foreign(authed, &mut resolver, name).await {
                owners.insert(mailbox.owner);
            }
        }
        if let Ok(sharing) = resolver.owners().await {
            merge(&mut self.sharing, sharing);
        }
        for owner in owners {
            self.watch_owner(authed, &owner).await;
        }
    }

    /// Asks again who shares with the user, and starts watching the new
    /// owners the set covers; what they show the user, as differences.
    pub(crate) async fn refresh(
        &mut self,
        authed: &Authed,
        set: &NotifySet,
        subscribed: &BTreeSet<String>,
    ) -> Vec<ListDiff> {
        self.refresh_at = Some(Instant::now() + authed.owners_refresh);
        let mut names = Names::new(authed);
        let wanted = owners_named(authed, &mut names, set, subscribed).await;
        if let Ok(sharing) = names.owners().await {
            merge(&mut self.sharing, sharing);
        }
        let mut diff = Vec::new();
        for owner in wanted {
            if !self.restarts.contains_key(&owner) {
                diff.extend(self.watch_owner(authed, &owner).await);
            }
        }
        diff
    }

    /// Starts `owner`'s ended stream again. On success, what changed in
    /// the user's view of the owner's list meanwhile, and `Some` of the
    /// mailboxes seen now (all may have changed); on failure, another try
    /// is planned and `None` returned.
    pub(crate) async fn restart(
        &mut self,
        authed: &Authed,
        owner: &str,
    ) -> Option<(Vec<ListDiff>, Vec<MailboxRef>)> {
        match open(authed, owner).await {
            Ok((stream, listed)) => {
                self.restarts.remove(owner);
                self.streams.insert(owner.to_owned(), stream);
                let before = self.known.insert(owner.to_owned(), listed.clone());
                let diff = difference(owner, &before.unwrap_or_default(), &listed);
                let now = listed.iter().map(|name| mailbox_ref(owner, name)).collect();
                tracing::info!(owner, "another owner's change stream started again");
                Some((diff, now))
            }
            Err(e) => {
                let retrying = self.restarts.entry(owner.to_owned()).or_insert(Retrying {
                    at: Instant::now(),
                    tries: 0,
                });
                retrying.tries = retrying.tries.saturating_add(1);
                let pause =
                    Duration::from_secs(1u64 << retrying.tries.min(6)).min(MOST_BETWEEN_TRIES);
                retrying.at = Instant::now() + pause;
                tracing::debug!(owner, error = %e, ?pause, "another owner's change stream not started again yet");
                None
            }
        }
    }

    /// Re-reads `owner`'s list after lost events (a resync): the
    /// differences from what the user was shown.
    pub(crate) async fn relist(&mut self, authed: &Authed, owner: &str) -> Vec<ListDiff> {
        match list(authed, owner).await {
            Ok(listed) => {
                let before = self.known.insert(owner.to_owned(), listed.clone());
                difference(owner, &before.unwrap_or_default(), &listed)
            }
            Err(e) => {
                tracing::debug!(owner, error = %e, "another owner's list not re-read");
                Vec::new()
            }
        }
    }

    /// The next arrival; never ready when nothing is watched, waits or is
    /// planned. Cancel-safe: an ended stream is recorded before this
    /// returns, so an arrival dropped unread is found again.
    pub(crate) async fn next(&mut self) -> OtherArrival {
        loop {
            let due = self.restarts.iter().min_by_key(|(_, r)| r.at);
            if let Some((owner, retrying)) = due
                && retrying.at <= Instant::now()
            {
                return OtherArrival::Restart(owner.clone());
            }
            let wake = due
                .map(|(_, r)| r.at)
                .into_iter()
                .chain(self.refresh_at)
                .min();
            let timer = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((owner, event)) = self.streams.next(), if !self.streams.is_empty() => {
                    match event {
                        Ok(event) => return OtherArrival::Event(owner, event),
                        Err(e) => {
                            tracing::info!(owner, error = %e, "another owner's change stream ended");
                            self.ended(owner);
                        }
                    }
                }
                () = timer => {
                    if self.refresh_at.is_some_and(|at| at <= Instant::now()) {
                        return OtherArrival::Refresh;
                    }
                }
            }
        }
    }

    /// Records that `owner`'s stream ended (it is started again at once).
    fn ended(&mut self, owner: String) {
        self.streams.remove(&owner);
        self.restarts.entry(owner).or_insert(Retrying {
            at: Instant::now(),
            tries: 0,
        });
    }

    /// Whether anything is watched, waits or is planned (else
    /// [`Others::next`] never returns).
    pub(crate) fn is_idle(&self) -> bool {
        self.streams.is_empty() && self.restarts.is_empty() && self.refresh_at.is_none()
    }

    /// Every mailbox of other owners the user is known to see.
    pub(crate) fn mailboxes(&self) -> impl Iterator<Item = MailboxRef> + '_ {
        self.known
            .iter()
            .flat_map(|(owner, names)| names.iter().map(move |name| mailbox_ref(owner, name)))
    }

    /// Follows a list event of `owner`'s stream in what the user is
    /// known to see.
    pub(crate) fn listed(&mut self, owner: &str, created: Option<&str>, deleted: Option<&str>) {
        let known = self.known.entry(owner.to_owned()).or_default();
        if let Some(name) = deleted {
            known.remove(name);
        }
        if let Some(name) = created {
            known.insert(name.to_owned());
        }
    }

    /// The name the client sees for `mailbox`, when that name leads back
    /// to it (two owners' names can meet, see [`resolve`]).
    pub(crate) fn shown(&self, authed: &Authed, mailbox: &MailboxRef) -> Option<String> {
        let shown = authed.shown(mailbox);
        let resolved = match authed.public_owner() {
            Some(public) if mailbox.owner == public => resolve_public(&shown, public)?,
            _ => {
                let owners: Vec<String> = self
                    .sharing
                    .iter()
                    .chain(self.known.keys())
                    .cloned()
                    .collect();
                resolve(authed.user(), &shown, &owners)
            }
        };
        (resolved == Resolved::Mailbox(mailbox.clone())).then_some(shown)
    }
}

fn mailbox_ref(owner: &str, name: &str) -> MailboxRef {
    MailboxRef {
        owner: owner.to_owned(),
        name: name.to_owned(),
    }
}

/// Adds the owners of `more` missing from `sharing`.
fn merge(sharing: &mut Vec<String>, more: &[String]) {
    for owner in more {
        if !sharing.contains(owner) {
            sharing.push(owner.clone());
        }
    }
}

/// The list differences from `before` to `now` of `owner`'s mailboxes.
fn difference(owner: &str, before: &BTreeSet<String>, now: &BTreeSet<String>) -> Vec<ListDiff> {
    before
        .difference(now)
        .map(|name| ListDiff::Deleted(mailbox_ref(owner, name)))
        .chain(
            now.difference(before)
                .map(|name| ListDiff::Created(mailbox_ref(owner, name))),
        )
        .collect()
}

/// The roots of the set's SUBTREE groups that have events.
fn subtrees(set: &NotifySet) -> impl Iterator<Item = &String> {
    set.groups
        .iter()
        .filter(|g| g.events.as_ref().is_some_and(|e| !e.is_empty()))
        .flat_map(|g| match &g.mailboxes {
            NotifyMailboxes::Subtree(roots) => roots.as_slice(),
            _ => &[],
        })
}

/// Whether `set` can name a mailbox outside the personal namespace.
fn names_elsewhere(set: &NotifySet, subscribed: &BTreeSet<String>) -> bool {
    set.groups
        .iter()
        .filter(|g| g.events.as_ref().is_some_and(|e| !e.is_empty()))
        .any(|g| match &g.mailboxes {
            NotifyMailboxes::Mailboxes(list) => list.iter().any(|n| elsewhere(n)),
            NotifyMailboxes::Subtree(roots) => roots.iter().any(|r| elsewhere(r)),
            NotifyMailboxes::Subscribed => subscribed.iter().any(|n| elsewhere(n)),
            NotifyMailboxes::Selected
            | NotifyMailboxes::SelectedDelayed
            | NotifyMailboxes::Inboxes
            | NotifyMailboxes::Personal => false,
        })
}

/// The other owners whose mailboxes `set` can name by MAILBOXES, SUBTREE
/// or SUBSCRIBED. PERSONAL and INBOXES are the user's own mailboxes only.
async fn owners_named(
    authed: &Authed,
    names: &mut Names<'_>,
    set: &NotifySet,
    subscribed: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut owners = BTreeSet::new();
    for group in set
        .groups
        .iter()
        .filter(|g| g.events.as_ref().is_some_and(|e| !e.is_empty()))
    {
        match &group.mailboxes {
            NotifyMailboxes::Mailboxes(list) => {
                for name in list.iter().filter(|n| elsewhere(n)) {
                    owners.extend(foreign(authed, names, name).await.map(|m| m.owner));
                }
            }
            NotifyMailboxes::Subscribed => {
                for name in subscribed.iter().filter(|n| elsewhere(n)) {
                    owners.extend(foreign(authed, names, name).await.map(|m| m.owner));
                }
            }
            NotifyMailboxes::Subtree(roots) => {
                for root in roots.iter().filter(|r| elsewhere(r)) {
                    owners.extend(subtree_owners(authed, names, root).await);
                }
            }
            NotifyMailboxes::Selected
            | NotifyMailboxes::SelectedDelayed
            | NotifyMailboxes::Inboxes
            | NotifyMailboxes::Personal => {}
        }
    }
    owners
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

/// The other owners whose names can be at or below the client name
/// `root`.
async fn subtree_owners(authed: &Authed, names: &mut Names<'_>, root: &str) -> Vec<String> {
    if !is_shared(root) {
        return authed
            .public_owner()
            .map(|owner| vec![owner.to_owned()])
            .unwrap_or_default();
    }
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
}

/// Opens `owner`'s stream of every mailbox, then lists what the owner
/// shows the user (after the stream, so no change between is missed).
async fn open(
    authed: &Authed,
    owner: &str,
) -> Result<(Streaming<MailboxEvent>, BTreeSet<String>), StorageError> {
    let request = WatchRequest {
        owner: owner.to_owned(),
        mailbox: String::new(),
    };
    let stream = authed
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            crate::session::watch_call::watch(rpc, request)
        })
        .await?;
    let listed = list(authed, owner).await?;
    Ok((stream, listed))
}

/// The mailboxes `owner`'s storage lists for the user.
async fn list(authed: &Authed, owner: &str) -> Result<BTreeSet<String>, StorageError> {
    let request = ListMailboxesRequest {
        owner: owner.to_owned(),
    };
    let listing = authed
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().list_mailboxes(request).await }
        })
        .await?;
    Ok(listing.mailboxes.into_iter().map(|m| m.name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_a_subtree_ends_at_a_delimiter() {
        assert!(within("shared.alice", "shared"));
        assert!(within("shared.alice.Projects", "shared.alice"));
        assert!(within("shared.alice", "shared.alice"));
        assert!(!within("shared.alicex", "shared.alice"));
        assert!(!within("shared", "shared.alice"));
    }

    #[test]
    fn a_list_difference_names_what_came_and_went() {
        let before: BTreeSet<String> = ["A", "B"].map(String::from).into();
        let now: BTreeSet<String> = ["B", "C"].map(String::from).into();
        assert_eq!(
            difference("alice", &before, &now),
            [
                ListDiff::Deleted(mailbox_ref("alice", "A")),
                ListDiff::Created(mailbox_ref("alice", "C")),
            ]
        );
        assert!(difference("alice", &now, &now).is_empty());
    }
}

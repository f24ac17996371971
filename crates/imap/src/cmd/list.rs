//! LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS
//! (RFC 5819), SPECIAL-USE (RFC 6154) and LIST-MYRIGHTS (RFC 8440), and
//! LSUB (RFC 3501 §6.3.9). The user's own mailboxes come from their
//! storage; when a pattern can reach the shared namespace, the mailboxes
//! each sharing owner's storage lists for the user come under
//! `shared.<owner>.` (see `namespace.rs`).

use std::collections::{BTreeMap, BTreeSet};

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{List, ListItem, ListSelect, Lsub, MailboxAttribute, list, lsub};
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, ListSubscriptionsRequest};

use crate::cmd::common::{DELIMITER, my_rights};
use crate::cmd::status::write_status;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{self, MailboxRef, Names, PUBLIC_ROOT, SHARED_ROOT};
use crate::pattern;
use crate::reply::Reply;
use crate::session::state::{Authed, Authenticated};

/// Special-use attributes (RFC 6154 §2).
const SPECIAL_USE: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// A name some storage knows: its attributes, and the mailbox it is
/// (none for the shared namespace's containers).
#[derive(Debug, Default, Clone)]
struct Known {
    attributes: Vec<String>,
    target: Option<MailboxRef>,
}

/// One mailbox of a listing: its attributes and extended data.
#[derive(Debug, Default, Clone)]
struct Listed {
    attributes: Vec<String>,
    /// Whose mailbox it is, for LIST-STATUS and MYRIGHTS.
    target: Option<MailboxRef>,
    /// CHILDINFO ("SUBSCRIBED"): a child matches the selection though this
    /// mailbox does not (RECURSIVEMATCH).
    child_subscribed: bool,
    /// The mailbox exists and can be selected (for LIST-STATUS).
    selectable: bool,
}

impl Command for List {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "LIST",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let mut out = Vec::new();
        if self.patterns.iter().all(String::is_empty) && !self.extended {
            // RFC 9051: an empty pattern asks for the delimiter and root.
            let mut root = ListItem::new("", Some(DELIMITER));
            root.attributes.push(MailboxAttribute::NoSelect);
            list(&mut out, cx.enabled.encoder(), &root);
            cx.out.send(&out).await?;
            return Ok(Done::reply(Reply::ok("List completed.")));
        }
        let found = match listing(&state.authed, &self).await {
            Ok(found) => found,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        for (name, listed) in &found {
            let mut item = ListItem::new(name.clone(), Some(DELIMITER));
            item.attributes = listed.attributes.iter().map(|a| attribute(a)).collect();
            item.child_info_subscribed = listed.child_subscribed;
            let target = listed.target.as_ref().filter(|_| listed.selectable);
            if self.returns.my_rights
                && let Some(target) = target
            {
                item.my_rights = my_rights(&state.authed, target).await;
            }
            list(&mut out, cx.enabled.encoder(), &item);
            if let Some(items) = &self.returns.status
                && let Some(target) = target
            {
                cx.out.send(&out).await?;
                out.clear();
                // RFC 5819 §2: a mailbox whose status cannot be had is
                // listed without it.
                if let Err(reply) = write_status(
                    &cx,
                    &state.authed,
                    state.selected.as_deref(),
                    target,
                    name,
                    items,
                    &mut out,
                )
                .await?
                {
                    tracing::debug!(mailbox = %name, text = %reply.text, "no status for LIST");
                }
            }
        }
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("List completed.")))
    }
}

impl Command for Lsub {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "LSUB",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let pattern = match pattern::checked(&self.reference, std::iter::once(&self.pattern)) {
            Ok(mut patterns) => patterns.pop().unwrap_or_default(),
            Err(limit) => return Ok(Done::reply(limit.reply())),
        };
        let subscribed = match subscriptions(&state.authed).await {
            Ok(names) => names,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let mut found: BTreeMap<String, Vec<MailboxAttribute>> = BTreeMap::new();
        for name in &subscribed {
            if pattern::matches(&pattern, name, DELIMITER) {
                found.insert(name.clone(), Vec::new());
            } else if pattern.ends_with('%') {
                // RFC 3501 §6.3.9: a `%` that matches an unsubscribed parent
                // of a subscribed mailbox lists the parent as \Noselect.
                for parent in pattern::parents(name, DELIMITER) {
                    if pattern::matches(&pattern, parent, DELIMITER) && !subscribed.contains(parent)
                    {
                        found
                            .entry(parent.to_owned())
                            .or_insert(vec![MailboxAttribute::NoSelect]);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (name, attributes) in found {
            let mut item = ListItem::new(name, Some(DELIMITER));
            item.attributes = attributes;
            lsub(&mut out, cx.enabled.encoder(), &item);
        }
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Lsub completed.")))
    }
}

/// The user's subscriptions (kept in their own store, shared names as
/// the client gave them).
async fn subscriptions(authed: &Authed) -> Result<BTreeSet<String>, Reply> {
    let request = ListSubscriptionsRequest {
        owner: authed.user().to_owned(),
    };
    authed
        .call(authed.user(), Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.organize().list_subscriptions(request).await }
        })
        .await
        .map(|r| r.names.into_iter().collect())
        .map_err(|e| storage_reply(&e, Target::Other))
}

/// What a LIST command lists, by name, with attributes.
async fn listing(authed: &Authed, list: &List) -> Result<BTreeMap<String, Listed>, Reply> {
    let patterns =
        pattern::checked(&list.reference, list.patterns.iter()).map_err(|l| l.reply())?;
    // Other owners are asked only when a pattern can reach their names.
    let shared_too = patterns
        .iter()
        .any(|p| pattern::reaches(p, SHARED_ROOT, DELIMITER));
    let public_too = authed.public_owner().is_some()
        && patterns
            .iter()
            .any(|p| pattern::reaches(p, PUBLIC_ROOT, DELIMITER));
    let others = async {
        let (shared, public) = tokio::join!(
            async {
                if shared_too {
                    shared_mailboxes(authed, &patterns).await
                } else {
                    BTreeMap::new()
                }
            },
            async {
                if public_too {
                    public_mailboxes(authed).await
                } else {
                    BTreeMap::new()
                }
            }
        );
        (shared, public)
    };
    let (own, (shared, public)) = tokio::join!(own_mailboxes(authed), others);
    let mut existing = own?;
    existing.extend(shared);
    existing.extend(public);
    let select = &list.select;
    let want_subscribed = select.subscribed || list.returns.subscribed;
    let subscribed = if want_subscribed {
        subscriptions(authed).await?
    } else {
        BTreeSet::new()
    };
    let matches = |name: &str| {
        patterns
            .iter()
            .any(|p| pattern::matches(p, name, DELIMITER))
    };
    let mut found: BTreeMap<String, Listed> = BTreeMap::new();
    // Every name the selection may consider: mailboxes, and subscribed
    // names that no longer exist.
    let mut names: BTreeSet<&str> = existing.keys().map(String::as_str).collect();
    names.extend(subscribed.iter().map(String::as_str));
    for name in names {
        let known = existing.get(name);
        let attributes = known.map(|k| &k.attributes);
        let is_subscribed = subscribed.contains(name);
        let special = attributes.is_some_and(|a| a.iter().any(|x| is_special(x)));
        let chosen = selected_by(select, is_subscribed, special);
        if !matches(name) {
            continue;
        }
        if !chosen {
            continue;
        }
        let mut listed = Listed {
            selectable: attributes.is_some_and(|a| !a.iter().any(|x| x == "\\Noselect")),
            target: known.and_then(|k| k.target.clone()),
            ..Listed::default()
        };
        match attributes {
            Some(attributes) => listed.attributes.extend(attributes.iter().cloned()),
            None => listed.attributes.push("\\NonExistent".into()),
        }
        if is_subscribed && want_subscribed {
            listed.attributes.push("\\Subscribed".into());
        }
        found.insert(name.to_owned(), listed);
    }
    if select.recursive_match && select.subscribed {
        // RFC 5258 §3.5: a parent that matches the pattern but not the
        // selection is listed when a child of it is subscribed.
        for name in &subscribed {
            for parent in pattern::parents(name, DELIMITER) {
                if matches(parent) && !found.contains_key(parent) {
                    let mut listed = Listed {
                        child_subscribed: true,
                        ..Listed::default()
                    };
                    match existing.get(parent) {
                        Some(known) => {
                            listed.selectable = !known.attributes.iter().any(|x| x == "\\Noselect");
                            listed.target = known.target.clone();
                            listed.attributes.extend(known.attributes.iter().cloned());
                        }
                        None => listed.attributes.push("\\NonExistent".into()),
                    }
                    found.insert(parent.to_owned(), listed);
                } else if let Some(listed) = found.get_mut(parent) {
                    listed.child_subscribed = !subscribed.contains(parent);
                }
            }
        }
    }
    Ok(found)
}

/// The user's own mailboxes, by name. A name in the shared namespace is
/// left out: the client's name for it reaches the shared namespace, never
/// this mailbox.
async fn own_mailboxes(authed: &Authed) -> Result<BTreeMap<String, Known>, Reply> {
    let user = authed.user();
    let request = ListMailboxesRequest {
        owner: user.to_owned(),
    };
    let mailboxes = authed
        .call(user, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().list_mailboxes(request).await }
        })
        .await
        .map_err(|e| storage_reply(&e, Target::Other))?
        .mailboxes;
    Ok(mailboxes
        .into_iter()
        .filter(|m| {
            let public = authed.public_owner().is_some() && namespace::is_public(&m.name);
            !namespace::is_shared(&m.name) && !public
        })
        .map(|m| {
            let target = MailboxRef {
                owner: user.to_owned(),
                name: m.name.clone(),
            };
            let known = Known {
                attributes: m.attributes,
                target: Some(target),
            };
            (m.name, known)
        })
        .collect())
}

/// What other owners share with the user, by client name: for each
/// sharing owner whose names a pattern can reach, the mailboxes its
/// storage lists for the user (only those the user may see), under
/// `shared.<owner>.`, with `shared.<owner>` as their container; `shared`
/// itself when some owner shares anything. An owner whose storage cannot
/// be reached is left out.
async fn shared_mailboxes(authed: &Authed, patterns: &[String]) -> BTreeMap<String, Known> {
    let mut names = Names::new(authed);
    let owners = match names.owners().await {
        Ok(owners) => owners.to_vec(),
        Err(e) => {
            tracing::info!(error = %e, "sharing owners unknown; LIST shows none");
            return BTreeMap::new();
        }
    };
    let container = || Known {
        attributes: vec!["\\Noselect".into(), "\\HasChildren".into()],
        target: None,
    };
    let mut found = BTreeMap::new();
    if owners.is_empty() {
        return found;
    }
    let reached: Vec<&String> = owners
        .iter()
        .filter(|owner| {
            let prefix = namespace::owner_container(owner);
            patterns
                .iter()
                .any(|p| pattern::reaches(p, &prefix, DELIMITER))
        })
        .collect();
    let listings = futures::future::join_all(reached.iter().map(|owner| async move {
        let request = ListMailboxesRequest {
            owner: (*owner).clone(),
        };
        let result = authed
            .call(owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().list_mailboxes(request).await }
            })
            .await;
        (*owner, result)
    }))
    .await;
    let mut sharing = reached.is_empty();
    // Which owner's a name is, by the length of the owner's name.
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    for (owner, result) in listings {
        let mailboxes = match result {
            Ok(listing) => listing.mailboxes,
            Err(e) => {
                tracing::info!(owner, error = %e, "a sharing owner's mailboxes are not listed");
                continue;
            }
        };
        if mailboxes.is_empty() {
            continue;
        }
        sharing = true;
        // Owner names may contain the delimiter, so two owners' names can
        // meet (`shared.carol.x.Box` of carol and of carol.x): the longer
        // owner has the name, as the resolver decides.
        let mut put = |name: String, known: Known| {
            if rank.get(&name).is_none_or(|&len| len <= owner.len()) {
                rank.insert(name.clone(), owner.len());
                found.insert(name, known);
            }
        };
        put(namespace::owner_container(owner), container());
        for m in mailboxes {
            let target = MailboxRef {
                owner: owner.clone(),
                name: m.name,
            };
            let known = Known {
                attributes: m.attributes,
                target: Some(target.clone()),
            };
            put(authed.shown(&target), known);
        }
    }
    if sharing {
        found.insert(SHARED_ROOT.to_owned(), container());
    }
    found
}

/// The public namespace: the mailboxes its owner's storage lists for the
/// user (those the ACLs let the user look up), as `Public.<name>`, under
/// the container `Public`; nothing when the owner cannot be reached.
async fn public_mailboxes(authed: &Authed) -> BTreeMap<String, Known> {
    let mut found = BTreeMap::new();
    let Some(owner) = authed.public_owner() else {
        return found;
    };
    let request = ListMailboxesRequest {
        owner: owner.to_owned(),
    };
    let listed = authed
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().list_mailboxes(request).await }
        })
        .await;
    let mailboxes = match listed {
        Ok(listing) => listing.mailboxes,
        Err(e) => {
            tracing::info!(owner, error = %e, "the public namespace is not listed");
            return found;
        }
    };
    if mailboxes.is_empty() {
        return found;
    }
    found.insert(
        PUBLIC_ROOT.to_owned(),
        Known {
            attributes: vec!["\\Noselect".into(), "\\HasChildren".into()],
            target: None,
        },
    );
    for m in mailboxes {
        let target = MailboxRef {
            owner: owner.to_owned(),
            name: m.name,
        };
        found.insert(
            authed.shown(&target),
            Known {
                attributes: m.attributes,
                target: Some(target),
            },
        );
    }
    found
}

/// Whether the selection options choose a mailbox.
fn selected_by(select: &ListSelect, subscribed: bool, special: bool) -> bool {
    (!select.subscribed || subscribed) && (!select.special_use || special)
}

/// The typed form of an attribute storage reports.
fn attribute(name: &str) -> MailboxAttribute {
    if let Some(special) = MailboxAttribute::special_use(name) {
        return special;
    }
    match name.to_ascii_lowercase().as_str() {
        "\\noselect" => MailboxAttribute::NoSelect,
        "\\haschildren" => MailboxAttribute::HasChildren,
        "\\hasnochildren" => MailboxAttribute::HasNoChildren,
        "\\noinferiors" => MailboxAttribute::NoInferiors,
        "\\nonexistent" => MailboxAttribute::NonExistent,
        "\\subscribed" => MailboxAttribute::Subscribed,
        "\\marked" => MailboxAttribute::Marked,
        "\\unmarked" => MailboxAttribute::Unmarked,
        _ => MailboxAttribute::Other(name.trim_start_matches('\\').to_owned()),
    }
}

/// Whether an attribute is a special-use one.
fn is_special(attribute: &str) -> bool {
    SPECIAL_USE
        .iter()
        .any(|s| s.eq_ignore_ascii_case(attribute))
}

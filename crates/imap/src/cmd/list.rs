//! LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS
//! (RFC 5819) and SPECIAL-USE (RFC 6154), and LSUB (RFC 3501 §6.3.9).

use std::collections::{BTreeMap, BTreeSet};

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{List, ListItem, ListSelect, Lsub, MailboxAttribute, list, lsub};
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, ListSubscriptionsRequest};

use crate::cmd::common::{DELIMITER, own_call};
use crate::cmd::status::write_status;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
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

/// One mailbox of a listing: its attributes and extended data.
#[derive(Debug, Default, Clone)]
struct Listed {
    attributes: Vec<String>,
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
            list(&mut out, cx.enabled.encoder(), &item);
            if let Some(items) = &self.returns.status
                && listed.selectable
            {
                cx.out.send(&out).await?;
                out.clear();
                // RFC 5819 §2: a mailbox whose status cannot be had is
                // listed without it.
                if let Err(reply) = write_status(&cx, &state.authed, name, items, &mut out).await? {
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

/// The owner's subscriptions.
async fn subscriptions(authed: &Authed) -> Result<BTreeSet<String>, Reply> {
    let request = ListSubscriptionsRequest {
        owner: authed.owner().to_owned(),
    };
    own_call(authed, Retry::Idempotent, |rpc| {
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
    let request = ListMailboxesRequest {
        owner: authed.owner().to_owned(),
    };
    let mailboxes = own_call(authed, Retry::Idempotent, |rpc| {
        let request = rpc.request(request.clone());
        async move { rpc.storage().list_mailboxes(request).await }
    })
    .await
    .map_err(|e| storage_reply(&e, Target::Other))?
    .mailboxes;
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
    let existing: BTreeMap<&str, &Vec<String>> = mailboxes
        .iter()
        .map(|m| (m.name.as_str(), &m.attributes))
        .collect();
    let mut found: BTreeMap<String, Listed> = BTreeMap::new();
    // Every name the selection may consider: mailboxes, and subscribed
    // names that no longer exist.
    let mut names: BTreeSet<&str> = existing.keys().copied().collect();
    names.extend(subscribed.iter().map(String::as_str));
    for name in names {
        let attributes = existing.get(name);
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
                        Some(attributes) => {
                            listed.selectable = !attributes.iter().any(|x| x == "\\Noselect");
                            listed.attributes.extend(attributes.iter().cloned());
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

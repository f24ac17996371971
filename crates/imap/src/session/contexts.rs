//! Search contexts (RFC 5267 §4): a SEARCH or SORT with RETURN (UPDATE)
//! stays live on the selected mailbox, and whenever the mailbox changes the
//! client is told which messages joined or left the result (`* ESEARCH
//! (TAG ..) ADDTO / REMOVEFROM`), until CANCELUPDATE or the mailbox is
//! closed.

use std::collections::{HashMap, HashSet};

use mailkeep_frontend::{Retry, Storage};
use mailkeep_imap_proto::{Esearch, SequenceSet, esearch};
use mailkeep_storage_rpc::storage::{self as pb, SearchRequest, SortRequest};

use crate::errors::ImapError;
use crate::io::Output;
use crate::session::mailbox::Mailbox;

/// The most live contexts one selected mailbox keeps; a further UPDATE is
/// answered NOUPDATE.
pub(crate) const MAX_CONTEXTS: usize = 8;

/// What a context re-runs.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    /// SEARCH: the key program; results are unordered (position 0).
    Search(Vec<pb::SearchKey>, String),
    /// SORT: criteria and key program; results are ordered.
    Sort(Vec<pb::SortCriterion>, Vec<pb::SearchKey>, String),
}

/// A live search result.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The tag of the command that made it (ESEARCH's correlator).
    pub(crate) tag: String,
    /// UID SEARCH/SORT: numbers are UIDs.
    pub(crate) uid: bool,
    /// What to run again.
    pub(crate) query: Query,
    /// The current result, as UIDs, in result order.
    pub(crate) uids: Vec<u32>,
}

/// Re-runs every context of `mailbox` and sends what changed. Called
/// after the mailbox's changes were reported, so sequence numbers are the
/// client's current ones; expunged messages are not reported (the client
/// drops them from its contexts with the EXPUNGE itself).
pub(crate) async fn refresh(
    mailbox: &Mailbox,
    storage: &Storage,
    out: &Output,
) -> Result<(), ImapError> {
    let contexts = mailbox.contexts();
    if contexts.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for context in contexts {
        let Some(now) = run(mailbox, storage, &context.query).await else {
            continue;
        };
        let update = {
            let view = mailbox.view();
            let visible: Vec<u32> = now
                .into_iter()
                .filter(|&u| view.seq_of(u).is_some())
                .collect();
            let number = |u: u32| if context.uid { Some(u) } else { view.seq_of(u) };
            let (add_to, remove_from) =
                diff(&context, &visible, number, |u| view.seq_of(u).is_some());
            mailbox.set_context_result(&context.tag, visible);
            (add_to, remove_from)
        };
        let (add_to, remove_from) = update;
        if add_to.is_empty() && remove_from.is_empty() {
            continue;
        }
        esearch(
            &mut bytes,
            &Esearch {
                tag: Some(context.tag.clone()),
                uid: context.uid,
                add_to,
                remove_from,
                ..Esearch::default()
            },
        );
    }
    if !bytes.is_empty() {
        out.send(&bytes).await?;
    }
    Ok(())
}

/// ADDTO or REMOVEFROM data: (position, numbers) pairs.
type Positioned = Vec<(u32, SequenceSet)>;

/// The ADDTO and REMOVEFROM data between the context's old result and
/// `now`. SEARCH contexts use position 0 and one set each; SORT contexts
/// name each message with its position: removals from the last, then
/// additions from the first, so every position is right when applied in
/// order.
fn diff(
    context: &Context,
    now: &[u32],
    number: impl Fn(u32) -> Option<u32>,
    still_there: impl Fn(u32) -> bool,
) -> (Positioned, Positioned) {
    let old: HashSet<u32> = context.uids.iter().copied().collect();
    let new: HashSet<u32> = now.iter().copied().collect();
    // Expunged messages leave with their EXPUNGE, not here.
    let removed: Vec<u32> = context
        .uids
        .iter()
        .copied()
        .filter(|u| !new.contains(u) && still_there(*u))
        .collect();
    let added: Vec<u32> = now.iter().copied().filter(|u| !old.contains(u)).collect();
    match context.query {
        Query::Search(..) => {
            let set = |uids: &[u32]| {
                let numbers: Vec<u32> = uids.iter().filter_map(|&u| number(u)).collect();
                if numbers.is_empty() {
                    Vec::new()
                } else {
                    vec![(0, SequenceSet::from_numbers(numbers))]
                }
            };
            (set(&added), set(&removed))
        }
        Query::Sort(..) => {
            let mut remove_from = Vec::new();
            // Each removed message's position among those still there.
            // Removed from the last, none is moved by the ones before it:
            // its position is the one it has in the old result.
            let kept: HashMap<u32, usize> = context
                .uids
                .iter()
                .copied()
                .filter(|u| still_there(*u))
                .enumerate()
                .map(|(i, u)| (u, i))
                .collect();
            for u in removed.iter().rev() {
                if let (Some(&i), Some(n)) = (kept.get(u), number(*u)) {
                    remove_from.push((position(i), SequenceSet::from_numbers([n])));
                }
            }
            let mut add_to = Vec::new();
            for (i, u) in now.iter().enumerate() {
                if !old.contains(u)
                    && let Some(n) = number(*u)
                {
                    add_to.push((position(i), SequenceSet::from_numbers([n])));
                }
            }
            (add_to, remove_from)
        }
    }
}

/// A 1-based position.
fn position(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Runs a context's query again; `None` when storage could not answer
/// (the context is left as it was, to be tried at the next change).
async fn run(mailbox: &Mailbox, storage: &Storage, query: &Query) -> Option<Vec<u32>> {
    let owner = mailbox.owner().to_owned();
    let (name, uidvalidity) = (mailbox.name(), mailbox.uidvalidity);
    let result = match query {
        Query::Search(program, charset) => {
            let request = SearchRequest {
                owner: owner.clone(),
                mailbox: name,
                uidvalidity,
                program: program.clone(),
                charset: charset.clone(),
            };
            storage
                .call(&owner, Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.search().search(request).await }
                })
                .await
                .map(|r| r.uids)
        }
        Query::Sort(criteria, program, charset) => {
            let request = SortRequest {
                owner: owner.clone(),
                mailbox: name,
                uidvalidity,
                criteria: criteria.clone(),
                program: program.clone(),
                charset: charset.clone(),
            };
            storage
                .call(&owner, Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.search().sort(request).await }
                })
                .await
                .map(|r| r.uids)
        }
    };
    match result {
        Ok(uids) => Some(uids),
        Err(e) => {
            tracing::warn!(error = %e, "a search context could not be updated");
            None
        }
    }
}

//! How search results go back to the client: `* SEARCH` (IMAP4rev1
//! without RETURN), or `* ESEARCH` with the asked-for parts (RFC 4731;
//! IMAP4rev2 always), and SAVE into `$` (RFC 5182).

use mailkeep_imap_proto::{Code, Esearch, SearchReturn, SequenceSet, esearch, search_response};

use crate::cmd::Cx;
use crate::session::contexts::{Context, Query};
use crate::session::mailbox::Mailbox;

/// What storage found.
pub(crate) struct Found {
    /// Matching UIDs, ascending (or in sorted order for SORT).
    pub(crate) uids: Vec<u32>,
    /// The highest MODSEQ of the matches, when the criteria used MODSEQ.
    pub(crate) highest_modseq: Option<u64>,
}

/// Writes the results of a SEARCH (`command` names it for `* SEARCH`;
/// SORT has its own plain form) and saves them when asked.
/// The visible UIDs of `found`, in its order (what a live context keeps).
pub(crate) fn visible(mailbox: &Mailbox, found: &[u32]) -> Vec<u32> {
    let view = mailbox.view();
    found
        .iter()
        .copied()
        .filter(|&u| view.seq_of(u).is_some())
        .collect()
}

/// Keeps a SEARCH/SORT with RETURN (UPDATE) live (RFC 5267 §4); the
/// reply's NOUPDATE code when the mailbox keeps as many as it can.
pub(crate) fn keep_context(
    mailbox: &Mailbox,
    tag: &str,
    uid: bool,
    returns: Option<&[SearchReturn]>,
    query: Query,
    found: &[u32],
) -> Option<Code> {
    if !returns.is_some_and(|r| r.contains(&SearchReturn::Update)) {
        return None;
    }
    let context = Context {
        tag: tag.to_owned(),
        uid,
        query,
        uids: visible(mailbox, found),
    };
    (!mailbox.add_context(context)).then(|| Code::NoUpdate(tag.to_owned()))
}

pub(crate) fn write_results(
    out: &mut Vec<u8>,
    cx: &Cx,
    mailbox: &Mailbox,
    found: &Found,
    uid: bool,
    returns: Option<&[SearchReturn]>,
    command: &str,
) {
    let mut view = mailbox.view();
    // Messages this session no longer sees (expunged meanwhile, or new and
    // not yet announced) are left out.
    let numbers: Vec<u32> = found
        .uids
        .iter()
        .filter_map(|&u| {
            let seq = view.seq_of(u)?;
            Some(if uid { u } else { seq })
        })
        .collect();
    let visible_uids: Vec<u32> = found
        .uids
        .iter()
        .copied()
        .filter(|&u| view.seq_of(u).is_some())
        .collect();
    let returns = match returns {
        None if !cx.enabled.rev2 => {
            if command == "SORT" {
                mailkeep_imap_proto::sort_response(out, &numbers, found.highest_modseq);
            } else {
                search_response(out, &numbers, found.highest_modseq);
            }
            return;
        }
        None => &[SearchReturn::All][..],
        Some([]) => &[SearchReturn::All][..],
        Some(returns) => returns,
    };
    let mut data = Esearch {
        tag: Some(cx.tag.clone()),
        uid,
        modseq: found.highest_modseq.filter(|_| !numbers.is_empty()),
        ..Esearch::default()
    };
    // ESORT (RFC 5267 §3.2): MIN and MAX are the first and last in sort
    // order, and ALL keeps that order; SEARCH's results are ascending.
    let sorting = command == "SORT";
    let mut ascending = numbers.clone();
    ascending.sort_unstable();
    let (first, last) = if sorting {
        (numbers.first(), numbers.last())
    } else {
        (ascending.first(), ascending.last())
    };
    for r in returns {
        match r {
            SearchReturn::Min => data.min = first.copied(),
            SearchReturn::Max => data.max = last.copied(),
            SearchReturn::Count => {
                data.count = Some(u32::try_from(numbers.len()).unwrap_or(u32::MAX));
            }
            SearchReturn::All if !numbers.is_empty() => {
                data.all = Some(if sorting {
                    SequenceSet::in_order(numbers.iter().copied())
                } else {
                    SequenceSet::from_numbers(numbers.iter().copied())
                });
            }
            SearchReturn::All => {}
            SearchReturn::Save => view.saved = Some(visible_uids.clone()),
            SearchReturn::Partial(range) => {
                data.partial = Some((*range, partial(&numbers, *range)));
            }
            SearchReturn::Context | SearchReturn::Update => {}
        }
    }
    // UPDATE with no other result option (RFC 5267 §4.2): the initial
    // result comes as the context's first ADDTO.
    let gives_result = returns.iter().any(|r| {
        matches!(
            r,
            SearchReturn::Min
                | SearchReturn::Max
                | SearchReturn::All
                | SearchReturn::Count
                | SearchReturn::Partial(_)
        )
    });
    if returns.contains(&SearchReturn::Update) && !gives_result && !numbers.is_empty() {
        data.add_to = vec![if sorting {
            (1, SequenceSet::in_order(numbers.iter().copied()))
        } else {
            (0, SequenceSet::from_numbers(numbers.iter().copied()))
        }];
    }
    let only_save = returns.iter().all(|r| *r == SearchReturn::Save);
    drop(view);
    if !only_save {
        esearch(out, &data);
    }
}

/// The results a PARTIAL range names (RFC 9394: 1-based positions, or
/// counted from the end with negative ones).
fn partial(numbers: &[u32], range: mailkeep_imap_proto::PartialRange) -> Option<SequenceSet> {
    use mailkeep_imap_proto::PartialRange;
    let len = numbers.len();
    let (from, to) = match range {
        PartialRange::First(a, b) => (a as usize, b as usize),
        PartialRange::Last(a, b) => {
            let (a, b) = (a as usize, b as usize);
            (len.saturating_sub(b) + 1, len.saturating_sub(a) + 1)
        }
    };
    let from = from.max(1);
    let to = to.min(len);
    if from > to {
        return None;
    }
    Some(SequenceSet::from_numbers(
        numbers[from - 1..to].iter().copied(),
    ))
}

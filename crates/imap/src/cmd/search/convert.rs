//! SEARCH keys in their RPC form: sequence sets (and `$`) become UID sets
//! through the session's view, so the storage process only sees UIDs.

use mailkeep_imap_proto::{SearchDate, SearchKey};
use mailkeep_storage_rpc::storage::{
    self as pb, SearchAnd, SearchFlagKey, SearchHeader, SearchNot, SearchOr, SearchUidSet,
    search_key::Key,
};

use crate::cmd::common::{ranges, set_reply};
use crate::reply::Reply;
use crate::view::View;

fn flag(k: SearchFlagKey) -> pb::SearchKey {
    pb::SearchKey {
        key: Some(Key::Flag(k as i32)),
    }
}

fn date(d: SearchDate) -> pb::SearchDate {
    pb::SearchDate {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

fn wrap(key: Key) -> pb::SearchKey {
    pb::SearchKey { key: Some(key) }
}

/// The RPC form of `key`: the key tree in prefix order (storage's search
/// program), with sequence sets resolved to UIDs by `view`.
pub(crate) fn to_rpc(key: &SearchKey, view: &View) -> Result<Vec<pb::SearchKey>, Reply> {
    let mut program = Vec::new();
    push(key, view, &mut program)?;
    Ok(program)
}

/// Appends `key` in prefix order (the parser bounds the nesting, so the
/// recursion is bounded).
fn push(key: &SearchKey, view: &View, program: &mut Vec<pb::SearchKey>) -> Result<(), Reply> {
    use SearchKey as S;
    match key {
        S::Not(inner) => {
            program.push(wrap(Key::Not(SearchNot {})));
            push(inner, view, program)
        }
        S::Or(a, b) => {
            program.push(wrap(Key::Or(SearchOr {})));
            push(a, view, program)?;
            push(b, view, program)
        }
        S::And(keys) => {
            program.push(wrap(Key::And(SearchAnd {
                count: u32::try_from(keys.len()).unwrap_or(u32::MAX),
            })));
            keys.iter().try_for_each(|k| push(k, view, program))
        }
        // `\Recent` is the session's (RFC 3501 §6.4.4): NEW is RECENT
        // UNSEEN, OLD is NOT RECENT.
        S::New => {
            program.push(wrap(Key::And(SearchAnd { count: 2 })));
            program.push(recent(view));
            program.push(flag(SearchFlagKey::Unseen));
            Ok(())
        }
        S::Old => {
            program.push(wrap(Key::Not(SearchNot {})));
            program.push(recent(view));
            Ok(())
        }
        leaf => {
            program.push(to_leaf(leaf, view)?);
            Ok(())
        }
    }
}

/// The messages recent in this session (none in IMAP4rev2), as a UID
/// set.
fn recent(view: &View) -> pb::SearchKey {
    wrap(Key::Uid(SearchUidSet {
        ranges: ranges(&view.recent_uids()),
    }))
}

/// The RPC form of a key that is not an operator.
fn to_leaf(key: &SearchKey, view: &View) -> Result<pb::SearchKey, Reply> {
    use SearchFlagKey as F;
    use SearchKey as S;
    Ok(match key {
        // Every message has a save date.
        S::All | S::SaveDateSupported => flag(F::All),
        S::Recent => recent(view),
        S::EmailId(id) => wrap(Key::Emailid(id.clone())),
        S::ThreadId(id) => wrap(Key::Threadid(id.clone())),
        S::Answered => flag(F::Answered),
        S::Deleted => flag(F::Deleted),
        S::Draft => flag(F::Draft),
        S::Flagged => flag(F::Flagged),
        S::Seen => flag(F::Seen),
        S::Unanswered => flag(F::Unanswered),
        S::Undeleted => flag(F::Undeleted),
        S::Undraft => flag(F::Undraft),
        S::Unflagged => flag(F::Unflagged),
        S::Unseen => flag(F::Unseen),
        S::Keyword(k) => wrap(Key::Keyword(k.clone())),
        S::Unkeyword(k) => wrap(Key::Unkeyword(k.clone())),
        S::Bcc(s) => wrap(Key::Bcc(s.clone())),
        S::Cc(s) => wrap(Key::Cc(s.clone())),
        S::From(s) => wrap(Key::From(s.clone())),
        S::To(s) => wrap(Key::To(s.clone())),
        S::Subject(s) => wrap(Key::Subject(s.clone())),
        S::Body(s) => wrap(Key::Body(s.clone())),
        S::Text(s) => wrap(Key::Text(s.clone())),
        S::Header(field, value) => wrap(Key::Header(SearchHeader {
            field: field.clone(),
            value: value.clone(),
        })),
        S::Before(d) => wrap(Key::Before(date(*d))),
        S::On(d) => wrap(Key::On(date(*d))),
        S::Since(d) => wrap(Key::Since(date(*d))),
        S::SentBefore(d) => wrap(Key::SentBefore(date(*d))),
        S::SentOn(d) => wrap(Key::SentOn(date(*d))),
        S::SentSince(d) => wrap(Key::SentSince(date(*d))),
        S::SavedBefore(d) => wrap(Key::SavedBefore(date(*d))),
        S::SavedOn(d) => wrap(Key::SavedOn(date(*d))),
        S::SavedSince(d) => wrap(Key::SavedSince(date(*d))),
        S::Larger(n) => wrap(Key::Larger(*n)),
        S::Smaller(n) => wrap(Key::Smaller(*n)),
        S::Older(n) => wrap(Key::Older(*n)),
        S::Younger(n) => wrap(Key::Younger(*n)),
        S::ModSeq { modseq, .. } => wrap(Key::Modseq(*modseq)),
        S::Uid(set) | S::Sequence(set) => {
            let uids = view
                .resolve(set, matches!(key, S::Uid(_)))
                .map_err(set_reply)?;
            wrap(Key::Uid(SearchUidSet {
                ranges: ranges(&uids),
            }))
        }
        S::Not(_) | S::Or(..) | S::And(_) | S::New | S::Old => {
            return Err(Reply::bad("Internal error: operator as a leaf"));
        }
    })
}

/// Whether a key names messages by sequence number (including `$`, which
/// a client may use in place of one).
pub(crate) fn uses_sequence_numbers(key: &SearchKey) -> bool {
    match key {
        SearchKey::Sequence(_) => true,
        SearchKey::Not(k) => uses_sequence_numbers(k),
        SearchKey::Or(a, b) => uses_sequence_numbers(a) || uses_sequence_numbers(b),
        SearchKey::And(keys) => keys.iter().any(uses_sequence_numbers),
        _ => false,
    }
}

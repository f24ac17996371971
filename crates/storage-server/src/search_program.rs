//! A search program from the storage RPC (a key tree in prefix order, see
//! search.proto) as the store's key tree, and the request checks that come
//! with it: the CHARSET and the nesting limit. Refusals carry their
//! ErrorReason: BAD_CHARSET, LIMIT, or INVALID_ARGUMENT for a malformed
//! program.

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::search_key::Key as PbKey;
use mailkeep_store::{SearchKey, UidRange};
use tonic::Status;

/// Deepest nesting of operators (NOT, OR, AND) accepted. IMAP parsers stop
/// near 50 levels; this leaves room, and bounds the recursion here and in
/// the store's evaluation.
pub(crate) const MAX_DEPTH: usize = 100;

/// Search charsets accepted: the strings arrive as UTF-8 whatever the
/// client named, and these two name nothing else (RFC 9051 §6.4.4).
const CHARSETS: [&str; 2] = ["US-ASCII", "UTF-8"];

fn malformed(what: impl Into<String>) -> Status {
    errors::status(ErrorReason::InvalidArgument, what)
}

/// Refuses a CHARSET other than none, US-ASCII and UTF-8 (BADCHARSET).
pub(crate) fn check_charset(charset: &str) -> Result<(), Status> {
    if charset.is_empty() || CHARSETS.iter().any(|c| c.eq_ignore_ascii_case(charset)) {
        return Ok(());
    }
    Err(errors::status(
        ErrorReason::BadCharset,
        format!("search charset {charset:?} is not supported; US-ASCII and UTF-8 are"),
    ))
}

/// The store's key for `program`: the AND of the keys it lists one after
/// another (each a whole tree), ALL when it is empty.
pub(crate) fn key_of_program(program: Vec<pb::SearchKey>) -> Result<SearchKey, Status> {
    let mut nodes = program.into_iter();
    let mut keys = Vec::new();
    while nodes.len() > 0 {
        keys.push(next_key(&mut nodes, 0)?);
    }
    Ok(match keys.len() {
        0 => SearchKey::All,
        1 => keys.remove(0),
        _ => SearchKey::And(keys),
    })
}

/// The next whole key of the program; `depth` operators enclose it.
fn next_key(
    nodes: &mut std::vec::IntoIter<pb::SearchKey>,
    depth: usize,
) -> Result<SearchKey, Status> {
    let node = nodes
        .next()
        .ok_or_else(|| malformed("search program ends where an operand is missing"))?;
    let key = node
        .key
        .ok_or_else(|| malformed("empty search key in the program"))?;
    if matches!(key, PbKey::Not(_) | PbKey::Or(_) | PbKey::And(_)) && depth >= MAX_DEPTH {
        return Err(errors::status(
            ErrorReason::Limit,
            format!("search keys nested more than {MAX_DEPTH} deep"),
        ));
    }
    Ok(match key {
        PbKey::Not(_) => SearchKey::Not(Box::new(next_key(nodes, depth + 1)?)),
        PbKey::Or(_) => {
            let a = next_key(nodes, depth + 1)?;
            let b = next_key(nodes, depth + 1)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        PbKey::And(and) => {
            let count = usize::try_from(and.count).unwrap_or(usize::MAX);
            if count > nodes.len() {
                return Err(malformed(format!(
                    "search AND of {count} keys with only {} left in the program",
                    nodes.len()
                )));
            }
            let mut keys = Vec::with_capacity(count);
            for _ in 0..count {
                keys.push(next_key(nodes, depth + 1)?);
            }
            SearchKey::And(keys)
        }
        leaf => leaf_key(leaf)?,
    })
}

fn date(d: pb::SearchDate) -> Result<time::Date, Status> {
    let month = u8::try_from(d.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| malformed(format!("bad month {}", d.month)))?;
    let day = u8::try_from(d.day).map_err(|_| malformed("bad day"))?;
    time::Date::from_calendar_date(d.year, month, day)
        .map_err(|e| malformed(format!("bad search date: {e}")))
}

/// A key that is not an operator.
fn leaf_key(key: PbKey) -> Result<SearchKey, Status> {
    use pb::SearchFlagKey as F;
    Ok(match key {
        PbKey::Flag(f) => match F::try_from(f).unwrap_or(F::Unspecified) {
            F::All => SearchKey::All,
            F::Answered => SearchKey::Answered,
            F::Deleted => SearchKey::Deleted,
            F::Draft => SearchKey::Draft,
            F::Flagged => SearchKey::Flagged,
            F::Seen => SearchKey::Seen,
            F::Unanswered => SearchKey::Unanswered,
            F::Undeleted => SearchKey::Undeleted,
            F::Undraft => SearchKey::Undraft,
            F::Unflagged => SearchKey::Unflagged,
            F::Unseen => SearchKey::Unseen,
            F::Unspecified => return Err(malformed("unknown flag key")),
        },
        PbKey::Keyword(s) => SearchKey::Keyword(s),
        PbKey::Unkeyword(s) => SearchKey::Unkeyword(s),
        PbKey::Bcc(s) => SearchKey::Bcc(s),
        PbKey::Cc(s) => SearchKey::Cc(s),
        PbKey::From(s) => SearchKey::From(s),
        PbKey::To(s) => SearchKey::To(s),
        PbKey::Subject(s) => SearchKey::Subject(s),
        PbKey::Header(h) => SearchKey::Header(h.field, h.value),
        PbKey::Body(s) => SearchKey::Body(s),
        PbKey::Text(s) => SearchKey::Text(s),
        PbKey::Before(d) => SearchKey::Before(date(d)?),
        PbKey::On(d) => SearchKey::On(date(d)?),
        PbKey::Since(d) => SearchKey::Since(date(d)?),
        PbKey::SentBefore(d) => SearchKey::SentBefore(date(d)?),
        PbKey::SentOn(d) => SearchKey::SentOn(date(d)?),
        PbKey::SentSince(d) => SearchKey::SentSince(date(d)?),
        PbKey::SavedBefore(d) => SearchKey::SavedBefore(date(d)?),
        PbKey::SavedOn(d) => SearchKey::SavedOn(date(d)?),
        PbKey::SavedSince(d) => SearchKey::SavedSince(date(d)?),
        PbKey::Larger(n) => SearchKey::Larger(n),
        PbKey::Smaller(n) => SearchKey::Smaller(n),
        PbKey::Uid(set) => SearchKey::Uid(
            set.ranges
                .iter()
                .map(|r| UidRange::new(r.first, r.last))
                .collect(),
        ),
        PbKey::Modseq(n) => SearchKey::ModSeq(n),
        PbKey::Older(n) => SearchKey::Older(n),
        PbKey::Younger(n) => SearchKey::Younger(n),
        PbKey::Emailid(id) => SearchKey::EmailId(id),
        PbKey::Threadid(id) => SearchKey::ThreadId(id),
        PbKey::Not(_) | PbKey::Or(_) | PbKey::And(_) => {
            return Err(malformed("operator where a key was expected"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailkeep_storage_rpc::errors::reason_of;

    fn k(key: PbKey) -> pb::SearchKey {
        pb::SearchKey { key: Some(key) }
    }

    fn flag(f: pb::SearchFlagKey) -> pb::SearchKey {
        k(PbKey::Flag(f as i32))
    }

    #[test]
    fn a_prefix_program_becomes_the_key_tree() {
        // AND(NOT SEEN, OR(TEXT x, SINCE 2024-02-29)), then FLAGGED: an
        // implicit AND of the two top-level keys.
        let program = vec![
            k(PbKey::And(pb::SearchAnd { count: 2 })),
            k(PbKey::Not(pb::SearchNot {})),
            flag(pb::SearchFlagKey::Seen),
            k(PbKey::Or(pb::SearchOr {})),
            k(PbKey::Text("x".into())),
            k(PbKey::Since(pb::SearchDate {
                year: 2024,
                month: 2,
                day: 29,
            })),
            flag(pb::SearchFlagKey::Flagged),
        ];
        let date = time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap();
        assert_eq!(
            key_of_program(program).unwrap(),
            SearchKey::And(vec![
                SearchKey::And(vec![
                    SearchKey::Not(Box::new(SearchKey::Seen)),
                    SearchKey::Or(
                        Box::new(SearchKey::Text("x".into())),
                        Box::new(SearchKey::Since(date))
                    ),
                ]),
                SearchKey::Flagged,
            ])
        );
        assert_eq!(key_of_program(Vec::new()).unwrap(), SearchKey::All);
    }

    #[test]
    fn malformed_programs_are_invalid_arguments() {
        let bad = [
            vec![k(PbKey::On(pb::SearchDate {
                year: 2023,
                month: 2,
                day: 29,
            }))],
            vec![pb::SearchKey { key: None }],
            vec![k(PbKey::Flag(0))],
            vec![k(PbKey::Or(pb::SearchOr {})), flag(pb::SearchFlagKey::Seen)],
            vec![k(PbKey::And(pb::SearchAnd { count: u32::MAX }))],
            vec![k(PbKey::Not(pb::SearchNot {}))],
        ];
        for program in bad {
            let e = key_of_program(program.clone()).unwrap_err();
            assert_eq!(reason_of(&e), ErrorReason::InvalidArgument, "{program:?}");
        }
    }

    /// `depth` ORs, each with the next OR as its first operand.
    fn nested_ors(depth: usize) -> Vec<pb::SearchKey> {
        let mut program = Vec::new();
        for _ in 0..depth {
            program.push(k(PbKey::Or(pb::SearchOr {})));
        }
        program.push(flag(pb::SearchFlagKey::Seen));
        for _ in 0..depth {
            program.push(flag(pb::SearchFlagKey::Draft));
        }
        program
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted_and_beyond_it_refused_as_limit() {
        assert!(key_of_program(nested_ors(64)).is_ok());
        assert!(key_of_program(nested_ors(MAX_DEPTH)).is_ok());
        let e = key_of_program(nested_ors(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(reason_of(&e), ErrorReason::Limit);
    }

    #[test]
    fn only_us_ascii_and_utf8_are_search_charsets() {
        for ok in ["", "utf-8", "US-ASCII"] {
            assert!(check_charset(ok).is_ok(), "{ok}");
        }
        let e = check_charset("ISO-8859-1").unwrap_err();
        assert_eq!(reason_of(&e), ErrorReason::BadCharset);
    }
}

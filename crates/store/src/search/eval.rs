//! Evaluating a key tree against one message: first from the index row
//! alone (three-valued: `None` = needs the file), then, only for messages
//! still undecided, against the message's decoded text.

use time::Date;

use super::criteria::SearchKey;
use super::text::{MessageText, fold};
use crate::flags::{ANSWERED, DELETED, DRAFT, FLAGGED, SEEN};
use crate::index::MessageMeta;

/// Days since 1970-01-01 of a calendar date.
pub(crate) fn epoch_day(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - 2_440_588
}

/// The day (since the epoch) of the internal date in its own zone.
fn internal_day(m: &MessageMeta) -> i64 {
    (m.internal_date + i64::from(m.internal_date_offset_minutes) * 60).div_euclid(86_400)
}

fn has_flag(m: &MessageMeta, bit: u8) -> bool {
    m.flags.system & bit != 0
}

fn has_keyword(m: &MessageMeta, name: &str) -> bool {
    m.flags
        .keywords
        .iter()
        .any(|k| k.eq_ignore_ascii_case(name))
}

fn uid_in(uid: u32, ranges: &[crate::UidRange], max_uid: u32) -> bool {
    ranges.iter().any(|r| {
        let fix = |v: u32| if v == u32::MAX { max_uid } else { v };
        let (a, b) = (fix(r.first), fix(r.last));
        (a.min(b)..=a.max(b)).contains(&uid)
    })
}

/// What the index row tells: `Some(answer)`, or `None` if the key needs
/// the message file. `now` is seconds since the epoch; `max_uid` resolves `*`.
pub(crate) fn eval_meta(k: &SearchKey, m: &MessageMeta, now: i64, max_uid: u32) -> Option<bool> {
    use SearchKey as K;
    let day = |d: &Date| epoch_day(*d);
    Some(match k {
        K::All => true,
        K::Answered => has_flag(m, ANSWERED),
        K::Deleted => has_flag(m, DELETED),
        K::Draft => has_flag(m, DRAFT),
        K::Flagged => has_flag(m, FLAGGED),
        K::Seen => has_flag(m, SEEN),
        K::Unanswered => !has_flag(m, ANSWERED),
        K::Undeleted => !has_flag(m, DELETED),
        K::Undraft => !has_flag(m, DRAFT),
        K::Unflagged => !has_flag(m, FLAGGED),
        K::Unseen => !has_flag(m, SEEN),
        K::Keyword(w) => has_keyword(m, w),
        K::Unkeyword(w) => !has_keyword(m, w),
        K::Before(d) => internal_day(m) < day(d),
        K::On(d) => internal_day(m) == day(d),
        K::Since(d) => internal_day(m) >= day(d),
        K::SavedBefore(d) => m.save_date.div_euclid(86_400) < day(d),
        K::SavedOn(d) => m.save_date.div_euclid(86_400) == day(d),
        K::SavedSince(d) => m.save_date.div_euclid(86_400) >= day(d),
        K::Larger(n) => m.size > *n,
        K::Smaller(n) => m.size < *n,
        K::Uid(set) => uid_in(m.uid, set, max_uid),
        K::ModSeq(n) => m.modseq >= *n,
        K::Older(s) => now.saturating_sub(m.internal_date) > i64::try_from(*s).unwrap_or(i64::MAX),
        K::Younger(s) => {
            now.saturating_sub(m.internal_date) <= i64::try_from(*s).unwrap_or(i64::MAX)
        }
        K::EmailId(id) => m.email_id == *id,
        K::ThreadId(id) => !m.thread_id.is_empty() && m.thread_id == *id,
        K::Not(inner) => !eval_meta(inner, m, now, max_uid)?,
        K::Or(a, b) => {
            let (x, y) = (eval_meta(a, m, now, max_uid), eval_meta(b, m, now, max_uid));
            match (x, y) {
                (Some(true), _) | (_, Some(true)) => true,
                (Some(false), Some(false)) => false,
                _ => return None,
            }
        }
        K::And(keys) => {
            let mut unknown = false;
            for key in keys {
                match eval_meta(key, m, now, max_uid) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => unknown = true,
                }
            }
            if unknown {
                return None;
            }
            true
        }
        K::Bcc(_)
        | K::Cc(_)
        | K::From(_)
        | K::To(_)
        | K::Subject(_)
        | K::Header(..)
        | K::Body(_)
        | K::Text(_)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_) => return None,
    })
}

/// The full answer, opening the text only for keys that need it (and
/// short-circuiting so cheap keys are tried first within AND/OR).
pub(crate) fn eval_full(
    k: &SearchKey,
    m: &MessageMeta,
    t: &mut MessageText<'_>,
    now: i64,
    max_uid: u32,
) -> bool {
    use SearchKey as K;
    if let Some(answer) = eval_meta(k, m, now, max_uid) {
        return answer;
    }
    let sent_day = |t: &mut MessageText<'_>| {
        t.sent_date()
            .map(|(_, day)| day)
            .unwrap_or_else(|| internal_day(m))
    };
    match k {
        K::Bcc(s) => t.header_contains("bcc", &fold(s)),
        K::Cc(s) => t.header_contains("cc", &fold(s)),
        K::From(s) => t.header_contains("from", &fold(s)),
        K::To(s) => t.header_contains("to", &fold(s)),
        K::Subject(s) => t.header_contains("subject", &fold(s)),
        K::Header(name, s) => t.header_contains(&name.to_ascii_lowercase(), &fold(s)),
        K::Body(s) => t.body().contains(&fold(s)),
        K::Text(s) => {
            let s = fold(s);
            t.any_header_contains(&s) || t.part_headers().contains(&s) || t.body().contains(&s)
        }
        K::SentBefore(d) => sent_day(t) < epoch_day(*d),
        K::SentOn(d) => sent_day(t) == epoch_day(*d),
        K::SentSince(d) => sent_day(t) >= epoch_day(*d),
        K::Not(inner) => !eval_full(inner, m, t, now, max_uid),
        K::Or(a, b) => eval_full(a, m, t, now, max_uid) || eval_full(b, m, t, now, max_uid),
        K::And(keys) => {
            // Cheap keys first: a false one decides without the file.
            if keys
                .iter()
                .any(|key| eval_meta(key, m, now, max_uid) == Some(false))
            {
                return false;
            }
            keys.iter().all(|key| eval_full(key, m, t, now, max_uid))
        }
        _ => false,
    }
}

//! The search key tree: every RFC 9051 §6.4.4 key plus MODSEQ (RFC 7162),
//! OLDER/YOUNGER (RFC 5032), SAVEDBEFORE/SAVEDON/SAVEDSINCE (RFC 8514) and
//! EMAILID/THREADID (RFC 8474).
//! Sequence numbers are resolved to UIDs by the caller, so sets are UID sets.

use time::Date;

use crate::UidRange;

/// One search key; a tree of them is a whole SEARCH program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Every message.
    All,
    /// `\Answered` set.
    Answered,
    /// `\Deleted` set.
    Deleted,
    /// `\Draft` set.
    Draft,
    /// `\Flagged` set.
    Flagged,
    /// `\Seen` set.
    Seen,
    /// `\Answered` not set.
    Unanswered,
    /// `\Deleted` not set.
    Undeleted,
    /// `\Draft` not set.
    Undraft,
    /// `\Flagged` not set.
    Unflagged,
    /// `\Seen` not set.
    Unseen,
    /// The keyword is set (compared case-insensitively).
    Keyword(String),
    /// The keyword is not set.
    Unkeyword(String),
    /// Bcc contains the string.
    Bcc(String),
    /// Cc contains the string.
    Cc(String),
    /// From contains the string.
    From(String),
    /// To contains the string.
    To(String),
    /// Subject contains the string.
    Subject(String),
    /// A header field (name, case-insensitive) contains the string; an
    /// empty string matches every message having the field.
    Header(String, String),
    /// The decoded body text contains the string.
    Body(String),
    /// The decoded header or body text contains the string.
    Text(String),
    /// Internal date (in its own zone) earlier than the date.
    Before(Date),
    /// Internal date (in its own zone) on the date.
    On(Date),
    /// Internal date (in its own zone) on or after the date.
    Since(Date),
    /// Date: header's date earlier than the date.
    SentBefore(Date),
    /// Date: header's date on the date.
    SentOn(Date),
    /// Date: header's date on or after the date.
    SentSince(Date),
    /// Save date (UTC) earlier than the date (RFC 8514).
    SavedBefore(Date),
    /// Save date (UTC) on the date (RFC 8514).
    SavedOn(Date),
    /// Save date (UTC) on or after the date (RFC 8514).
    SavedSince(Date),
    /// Size larger than the number of octets.
    Larger(u64),
    /// Size smaller than the number of octets.
    Smaller(u64),
    /// UID in the set.
    Uid(Vec<UidRange>),
    /// MODSEQ at least the value (RFC 7162; entry names are ignored).
    ModSeq(u64),
    /// Internal date more than this many seconds ago (RFC 5032).
    Older(u64),
    /// Internal date at most this many seconds ago (RFC 5032).
    Younger(u64),
    /// The message's EMAILID is this one (RFC 8474).
    EmailId(String),
    /// The message's THREADID is this one (RFC 8474); a message without a
    /// thread matches none.
    ThreadId(String),
    /// The key does not match.
    Not(Box<SearchKey>),
    /// Either key matches.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// Every key matches (a parenthesised list; empty matches all).
    And(Vec<SearchKey>),
}

impl SearchKey {
    /// Whether evaluating this key may need the message file (text keys),
    /// as opposed to the index row alone.
    pub fn needs_file(&self) -> bool {
        self.has(&|k| {
            matches!(
                k,
                SearchKey::Bcc(_)
                    | SearchKey::Cc(_)
                    | SearchKey::From(_)
                    | SearchKey::To(_)
                    | SearchKey::Subject(_)
                    | SearchKey::Header(..)
                    | SearchKey::Body(_)
                    | SearchKey::Text(_)
                    | SearchKey::SentBefore(_)
                    | SearchKey::SentOn(_)
                    | SearchKey::SentSince(_)
            )
        })
    }

    /// Whether evaluating this key may need every part's header fields
    /// (TEXT), not only the text of the parts that hold text.
    pub fn needs_part_headers(&self) -> bool {
        self.has(&|k| matches!(k, SearchKey::Text(_)))
    }

    /// Whether evaluating this key may need more of the message file than
    /// its top-level header (BODY, TEXT).
    pub fn needs_body(&self) -> bool {
        self.has(&|k| matches!(k, SearchKey::Body(_) | SearchKey::Text(_)))
    }

    /// Whether this key, or one inside it (NOT, OR, a list), is one that
    /// `is` picks.
    fn has(&self, is: &impl Fn(&SearchKey) -> bool) -> bool {
        match self {
            SearchKey::Not(k) => k.has(is),
            SearchKey::Or(a, b) => a.has(is) || b.has(is),
            SearchKey::And(keys) => keys.iter().any(|k| k.has(is)),
            leaf => is(leaf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SearchKey as K;

    #[test]
    fn only_body_and_text_keys_need_more_than_the_header() {
        let header_keys = K::And(vec![
            K::Subject("a".into()),
            K::Not(Box::new(K::From("b".into()))),
            K::Or(
                Box::new(K::Header("X-A".into(), "c".into())),
                Box::new(K::Larger(0)),
            ),
        ]);
        assert!(header_keys.needs_file());
        assert!(!header_keys.needs_body());
        for body in [K::Body("x".into()), K::Text("x".into())] {
            let nested = K::Or(
                Box::new(K::Subject("a".into())),
                Box::new(K::Not(Box::new(body))),
            );
            assert!(nested.needs_body());
        }
        assert!(!K::And(vec![]).needs_body());
        assert!(!K::Body("x".into()).needs_part_headers());
        assert!(K::Not(Box::new(K::Text("x".into()))).needs_part_headers());
    }
}

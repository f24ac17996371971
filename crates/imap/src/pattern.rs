//! LIST wildcard matching: `*` matches any characters, `%` any characters
//! but the hierarchy delimiter (RFC 9051 §6.3.9), and the limits on what a
//! client may ask to match: matching costs pattern length × name length
//! for every mailbox, so a pattern of tens of thousands of characters would
//! hold a worker for a long time.

use mailkeep_imap_proto::Code;

use crate::reply::Reply;

/// Longest LIST or LSUB pattern accepted, reference included, in bytes:
/// four times the longest mailbox name the store accepts.
pub(crate) const MAX_PATTERN_LEN: usize = 1024;

/// Most wildcards in one pattern, after runs such as `**` or `%*` are
/// collapsed into one.
pub(crate) const MAX_WILDCARDS: usize = 32;

/// Most patterns in one LIST command (RFC 5258 allows a list).
pub(crate) const MAX_PATTERNS: usize = 32;

/// A LIST or LSUB request over one of the limits. The client gets
/// `NO [LIMIT]` (RFC 5530) naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatternLimit {
    /// A pattern (reference included) is longer than [`MAX_PATTERN_LEN`].
    #[error("LIST pattern of {len} bytes: the limit is {MAX_PATTERN_LEN}")]
    Length {
        /// Its length.
        len: usize,
    },
    /// A pattern has more than [`MAX_WILDCARDS`] wildcards.
    #[error("LIST pattern with {count} wildcards: the limit is {MAX_WILDCARDS}")]
    Wildcards {
        /// How many it has, runs collapsed.
        count: usize,
    },
    /// More than [`MAX_PATTERNS`] patterns.
    #[error("{count} LIST patterns: the limit is {MAX_PATTERNS}")]
    Patterns {
        /// How many were given.
        count: usize,
    },
}

impl PatternLimit {
    /// The tagged reply: `NO [LIMIT] ...`.
    pub(crate) fn reply(&self) -> Reply {
        Reply::no(self.to_string()).code(Code::Limit)
    }
}

/// The patterns of a LIST or LSUB, joined with the reference and
/// simplified, or the limit they are over.
pub(crate) fn checked<'a>(
    reference: &str,
    patterns: impl ExactSizeIterator<Item = &'a String>,
) -> Result<Vec<String>, PatternLimit> {
    if patterns.len() > MAX_PATTERNS {
        return Err(PatternLimit::Patterns {
            count: patterns.len(),
        });
    }
    patterns
        .map(|pattern| {
            let joined = canonical(reference, pattern);
            if joined.len() > MAX_PATTERN_LEN {
                return Err(PatternLimit::Length { len: joined.len() });
            }
            let simple = simplify(&joined);
            let count = simple.chars().filter(|c| matches!(c, '*' | '%')).count();
            if count > MAX_WILDCARDS {
                return Err(PatternLimit::Wildcards { count });
            }
            Ok(simple)
        })
        .collect()
}

/// Joins a LIST reference and pattern into one canonical pattern.
pub(crate) fn canonical(reference: &str, pattern: &str) -> String {
    format!("{reference}{pattern}")
}

/// Whether `name` matches `pattern`. `INBOX` is matched case-insensitively
/// (also as the first level of its children).
pub(crate) fn matches(pattern: &str, name: &str, delimiter: char) -> bool {
    let pattern = inbox_upper(pattern, name);
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n, delimiter)
}

/// Upper-cases a pattern's leading `inbox` when the name is INBOX or one of
/// its children, so that `inbox`, `Inbox.%`... match.
fn inbox_upper(pattern: &str, name: &str) -> String {
    let inbox_name = name == "INBOX" || name.starts_with("INBOX");
    match pattern.get(..5) {
        Some(head) if inbox_name && head.eq_ignore_ascii_case("INBOX") => {
            format!("INBOX{}", &pattern[5..])
        }
        _ => pattern.to_string(),
    }
}

/// Wildcard match by dynamic programming over (pattern, name) suffixes:
/// O(pattern × name) whatever the pattern, so a hostile one cannot blow up.
fn match_from(p: &[char], n: &[char], delimiter: char) -> bool {
    // next[j]: p[i+1..] matches n[j..]; cur[j]: p[i..] matches n[j..].
    let mut next = vec![false; n.len() + 1];
    next[n.len()] = true;
    for &pc in p.iter().rev() {
        let mut cur = vec![false; n.len() + 1];
        for j in (0..=n.len()).rev() {
            cur[j] = match pc {
                '*' => next[j] || (j < n.len() && cur[j + 1]),
                '%' => next[j] || (j < n.len() && n[j] != delimiter && cur[j + 1]),
                c => j < n.len() && n[j] == c && next[j + 1],
            };
        }
        next = cur;
    }
    next[0]
}

/// Whether `pattern` can match `prefix` or any name that starts with it
/// (`*`, `shared.%` and `sh*` can reach `shared.alice`; `%` and `INBOX*`
/// cannot): LIST asks other owners' storage only when this holds. Walks
/// the pattern's positions over the prefix's characters, O(pattern ×
/// prefix).
pub(crate) fn reaches(pattern: &str, prefix: &str, delimiter: char) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    // A wildcard matches nothing too: stepping over it costs no character.
    let close = |states: &mut Vec<bool>| {
        for i in 0..p.len() {
            if states[i] && matches!(p[i], '*' | '%') {
                states[i + 1] = true;
            }
        }
    };
    let mut states = vec![false; p.len() + 1];
    states[0] = true;
    close(&mut states);
    for c in prefix.chars() {
        let mut next = vec![false; p.len() + 1];
        for i in 0..p.len() {
            if !states[i] {
                continue;
            }
            match p[i] {
                '*' => next[i] = true,
                '%' if c != delimiter => next[i] = true,
                '%' => {}
                literal if literal == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.contains(&true) {
            return false;
        }
        states = next;
    }
    // Any pattern position left can go on to match some longer name.
    states.contains(&true)
}

/// Collapses runs of consecutive wildcards (`**`, `*%`, `%*`) so that the
/// backtracking stays polynomial.
pub(crate) fn simplify(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match (out.chars().last(), c) {
            (Some('*'), '*' | '%') => {}
            (Some('%'), '*') => {
                out.pop();
                out.push('*');
            }
            (Some('%'), '%') => {}
            _ => out.push(c),
        }
    }
    out
}

/// The parents of `name` (`a`, `a.b` for `a.b.c`).
pub(crate) fn parents(name: &str, delimiter: char) -> Vec<&str> {
    name.match_indices(delimiter)
        .map(|(i, _)| &name[..i])
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_within_the_limits_are_joined_and_simplified() {
        let patterns = ["a**b".to_owned(), "%".to_owned()];
        assert_eq!(
            checked("x.", patterns.iter()),
            Ok(vec!["x.a*b".to_owned(), "x.%".to_owned()])
        );
        let longest = "a".repeat(MAX_PATTERN_LEN - 2);
        assert!(checked("x.", [longest].iter()).is_ok());
        let wild = "a%".repeat(MAX_WILDCARDS);
        assert!(checked("", [wild].iter()).is_ok());
    }

    #[test]
    fn an_over_long_pattern_is_refused_reference_included() {
        let pattern = "a".repeat(MAX_PATTERN_LEN);
        assert_eq!(
            checked("x", [pattern].iter()),
            Err(PatternLimit::Length {
                len: MAX_PATTERN_LEN + 1
            })
        );
        // Even one that would collapse to a single wildcard.
        let stars = "*".repeat(65_000);
        assert!(matches!(
            checked("", [stars].iter()),
            Err(PatternLimit::Length { .. })
        ));
    }

    #[test]
    fn too_many_wildcards_or_patterns_are_refused() {
        let wild = "a%".repeat(MAX_WILDCARDS + 1);
        assert_eq!(
            checked("", [wild].iter()),
            Err(PatternLimit::Wildcards {
                count: MAX_WILDCARDS + 1
            })
        );
        let many = vec!["%".to_owned(); MAX_PATTERNS + 1];
        assert_eq!(
            checked("", many.iter()),
            Err(PatternLimit::Patterns {
                count: MAX_PATTERNS + 1
            })
        );
        let reply = PatternLimit::Patterns { count: 33 }.reply();
        assert_eq!(reply.code, Some(Code::Limit));
        assert_eq!(reply.kind, mailkeep_imap_proto::StatusKind::No);
    }

    #[test]
    fn star_matches_everything() {
        assert!(matches("*", "INBOX", '.'));
        assert!(matches("*", "a.b.c", '.'));
        assert!(matches("a*", "a.b.c", '.'));
        assert!(!matches("b*", "a.b.c", '.'));
    }

    #[test]
    fn percent_stops_at_delimiter() {
        assert!(matches("%", "a", '.'));
        assert!(!matches("%", "a.b", '.'));
        assert!(matches("a.%", "a.b", '.'));
        assert!(!matches("a.%", "a.b.c", '.'));
        assert!(matches("%.%.c", "a.b.c", '.'));
    }

    #[test]
    fn literal_and_mixed() {
        assert!(matches("Sent", "Sent", '.'));
        assert!(!matches("Sent", "sent", '.'));
        assert!(matches("S*t", "Sent", '.'));
        assert!(matches("a.*", "a.b.c", '.'));
        assert!(!matches("a.*", "a", '.'));
        assert!(matches("", "", '.'));
        assert!(!matches("", "a", '.'));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(matches("inbox", "INBOX", '.'));
        assert!(matches("Inbox.%", "INBOX.foo", '.'));
        assert!(!matches("inboxes", "INBOX", '.'));
    }

    #[test]
    fn simplify_collapses_wildcards() {
        assert_eq!(simplify("a**%*b"), "a*b");
        assert_eq!(simplify("%%"), "%");
        assert_eq!(simplify("%*"), "*");
        assert!(!matches(
            &simplify("***********************x"),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaay",
            '.'
        ));
        // Alternating wildcards stay fast on long names.
        let hostile = "*a".repeat(200) + "b";
        assert!(!matches(&hostile, &"a".repeat(2000), '.'));
    }

    #[test]
    fn what_a_pattern_can_reach() {
        for pattern in ["*", "shared.%", "sh*", "%.alice.*", "shared", "s%d", "*e"] {
            assert!(reaches(pattern, "shared", '.'), "{pattern}");
        }
        for pattern in ["INBOX*", "x%", "sharedx", "shared.b%", "shared.x"] {
            assert!(!reaches(pattern, "shared.al", '.'), "{pattern}");
        }
        // `%` reaches the container but stops at its delimiter.
        assert!(reaches("%", "shared", '.'));
        assert!(!reaches("%", "shared.alice", '.'));
        assert!(reaches("shared.%", "shared.alice", '.'));
        assert!(!reaches("shared.%", "shared.alice.b", '.'));
        assert!(reaches("shared.%.%", "shared.alice.b", '.'));
        assert!(reaches("", "", '.'));
        assert!(!reaches("", "s", '.'));
    }

    #[test]
    fn parents_of_names() {
        assert_eq!(parents("a.b.c", '.'), vec!["a", "a.b"]);
        assert!(parents("a", '.').is_empty());
    }

    #[test]
    fn canonical_concatenates() {
        assert_eq!(canonical("a.", "%"), "a.%");
        assert_eq!(canonical("", "*"), "*");
    }
}

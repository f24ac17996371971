//! LIST wildcard matching: `*` matches any characters, `%` any characters
//! but the hierarchy delimiter (RFC 9051 §6.3.9).

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

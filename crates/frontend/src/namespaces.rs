//! The mailbox namespaces every protocol process names mailboxes in (RFC
//! 2342, in Dovecot's layout so that client setups keep working): the
//! personal namespace holds the user's own mailboxes; the shared namespace
//! holds each other owner's mailbox `M` as `shared.<owner>.M`; the public
//! namespace holds the public account's as `Public.M`. IMAP shows them;
//! LMTP's `+detail` and `mailkeep deliver -m` address them. Only the names
//! live here: whether a user may do anything with another owner's mailbox
//! is that owner's storage process's decision.

/// The hierarchy delimiter (Maildir++, as Dovecot's).
pub const DELIMITER: char = '.';

/// The shared namespace's root, a container.
pub const SHARED_ROOT: &str = "shared";

/// The shared namespace's prefix (root and delimiter).
pub const SHARED_PREFIX: &str = "shared.";

/// The public namespace's root, a container (when an owner is configured).
pub const PUBLIC_ROOT: &str = "Public";

/// The public namespace's prefix (root and delimiter).
pub const PUBLIC_PREFIX: &str = "Public.";

/// A mailbox name as storage wants it: `INBOX` in any case is `INBOX`, and
/// a trailing delimiter is dropped.
pub fn normalize(name: &str) -> String {
    let name = name.strip_suffix(DELIMITER).unwrap_or(name);
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name.to_string()
    }
}

/// Splits `rest` (a shared name without its `shared.` prefix) into the
/// owner and what follows it, for `user`: `owners` are those sharing with
/// the user (others than the user count). Owner names may hold the
/// delimiter (`john.doe`), so the longest owner that prefixes the name,
/// followed by the delimiter or by nothing, wins. The mailbox part is
/// empty for `shared.<owner>` itself (a container); `None`: no such owner.
pub fn sharing_owner_of<'a>(
    user: &str,
    rest: &'a str,
    owners: &'a [String],
) -> Option<(&'a str, &'a str)> {
    let mut best: Option<(&str, &str)> = None;
    for owner in owners.iter().filter(|o| !o.is_empty() && *o != user) {
        let Some(after) = rest.strip_prefix(owner.as_str()) else {
            continue;
        };
        let mailbox = if after.is_empty() {
            ""
        } else if let Some(m) = after.strip_prefix(DELIMITER) {
            m
        } else {
            continue;
        };
        if best.is_none_or(|(o, _)| owner.len() > o.len()) {
            best = Some((owner, mailbox));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_sharing_owner_other_than_the_user_wins() {
        let owners = ["john".to_owned(), "john.doe".to_owned(), "bob".to_owned()];
        assert_eq!(
            sharing_owner_of("bob", "john.doe.Team.Sub", &owners),
            Some(("john.doe", "Team.Sub"))
        );
        assert_eq!(
            sharing_owner_of("bob", "john.Team", &owners),
            Some(("john", "Team"))
        );
        assert_eq!(
            sharing_owner_of("bob", "john.doe", &owners),
            Some(("john.doe", ""))
        );
        assert_eq!(sharing_owner_of("bob", "johnny.X", &owners), None);
        assert_eq!(sharing_owner_of("bob", "bob.Team", &owners), None);
        assert_eq!(sharing_owner_of("bob", "carol.Plans", &owners), None);
    }

    #[test]
    fn inbox_is_one_spelling_and_a_trailing_delimiter_goes() {
        assert_eq!(normalize("inbox"), "INBOX");
        assert_eq!(normalize("Work.x."), "Work.x");
        assert_eq!(normalize("Inboxes"), "Inboxes");
    }
}

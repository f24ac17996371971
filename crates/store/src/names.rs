//! Mailbox names: validation, the canonical form (INBOX is
//! case-insensitive), and the Maildir++ directory each name maps to.

use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// The hierarchy delimiter of mailbox names (Maildir++ uses `.`).
pub const DELIMITER: char = '.';

/// The name of the inbox.
pub const INBOX: &str = "INBOX";

/// The longest mailbox name accepted, in bytes: a Maildir++ folder is one
/// directory named `.` and the whole name, and a directory name has at
/// most 255 bytes (NAME_MAX).
pub const MAX_NAME_LEN: usize = 254;

/// Validates `name` and returns its canonical form: `INBOX` (any case) as a
/// whole name or as the first component becomes `INBOX`.
pub fn canonical(name: &str) -> Result<String> {
    let bad = |reason| StoreError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    check_length(name)?;
    if name.contains('/') {
        return Err(bad("contains '/'"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains a control character or NUL"));
    }
    if name.starts_with(DELIMITER) || name.ends_with(DELIMITER) {
        return Err(bad("starts or ends with the hierarchy delimiter '.'"));
    }
    if name.split(DELIMITER).any(str::is_empty) {
        return Err(bad("has an empty hierarchy component"));
    }
    let mut parts = name.splitn(2, DELIMITER);
    let first = parts.next().unwrap_or_default();
    if first.eq_ignore_ascii_case(INBOX) {
        return Ok(match parts.next() {
            Some(rest) => format!("{INBOX}{DELIMITER}{rest}"),
            None => INBOX.to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// Refuses names longer than [`MAX_NAME_LEN`] with [`StoreError::Limit`].
pub(crate) fn check_length(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(StoreError::Limit {
            what: format!("mailbox name of {} bytes", name.len()),
            max: MAX_NAME_LEN as u64,
        });
    }
    Ok(())
}

/// The directory of the canonical mailbox `name` under the Maildir root:
/// the root itself for INBOX, `.<name>` for every other mailbox.
pub fn mailbox_dir(root: &Path, name: &str) -> PathBuf {
    if name == INBOX {
        root.to_path_buf()
    } else {
        root.join(format!("{DELIMITER}{name}"))
    }
}

/// Whether canonical `child` lies below canonical `parent` in the hierarchy.
pub fn is_descendant(child: &str, parent: &str) -> bool {
    child.len() > parent.len() + 1
        && child.starts_with(parent)
        && child[parent.len()..].starts_with(DELIMITER)
}

/// The ancestors of canonical `name`, nearest last: `a.b.c` → `a`, `a.b`.
pub fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonical("inbox").unwrap(), "INBOX");
        assert_eq!(canonical("Inbox.Sent").unwrap(), "INBOX.Sent");
        assert_eq!(canonical("Work.Projects").unwrap(), "Work.Projects");
        for bad in ["", ".a", "a.", "a..b", "a/b", "a\0b", "a\tb"] {
            assert!(
                matches!(canonical(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_name_longer_than_a_folder_name_may_be_is_over_the_limit() {
        assert!(canonical(&"x".repeat(MAX_NAME_LEN)).is_ok());
        for long in ["x".repeat(MAX_NAME_LEN + 1), "x".repeat(1000)] {
            assert!(
                matches!(canonical(&long), Err(StoreError::Limit { max, .. }) if max == 254),
                "{} bytes",
                long.len()
            );
        }
    }

    #[test]
    fn hierarchy() {
        assert!(is_descendant("a.b", "a"));
        assert!(!is_descendant("ab", "a"));
        assert!(!is_descendant("a", "a"));
        assert_eq!(ancestors("a.b.c").collect::<Vec<_>>(), ["a", "a.b"]);
        assert_eq!(
            mailbox_dir(Path::new("/m"), "Work.Projects"),
            Path::new("/m/.Work.Projects")
        );
        assert_eq!(mailbox_dir(Path::new("/m"), "INBOX"), Path::new("/m"));
    }
}

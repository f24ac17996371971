//! Who shares with whom: for each owner, the identifiers their mailbox
//! ACLs grant something (reported by the owner's storage process after
//! every ACL change), so that the broker can tell a user's protocol
//! process which owners to ask for the shared namespace. A hint only:
//! each owner's storage process decides by its ACLs what a user sees, so a
//! stale or wrong entry costs one lookup and reveals nothing. Kept in
//! memory and in one root-only file under the data directory, rewritten
//! on each change (ACL changes are rare).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Identifiers that stand for every user (RFC 4314 §2).
const EVERYONE: [&str; 2] = ["anyone", "authenticated"];

/// The owners' grantees, and where they are kept.
pub struct Shares {
    path: PathBuf,
    grants: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl Shares {
    /// The list kept in `path` (empty when the file does not exist yet;
    /// lines that cannot be read are skipped with a warning).
    pub fn load(path: &Path) -> Shares {
        let grants = match std::fs::read_to_string(path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e,
                    "list of shared mailboxes unreadable; starting empty");
                BTreeMap::new()
            }
        };
        Shares {
            path: path.to_owned(),
            grants: Mutex::new(grants),
        }
    }

    /// Records that `owner`'s ACLs now grant something to exactly
    /// `grantees`, and saves the list when it changed.
    pub fn set(&self, owner: &str, grantees: Vec<String>) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if apply(&mut grants, owner, grantees)
            && let Err(e) = save(&self.path, &grants)
        {
            tracing::warn!(path = %self.path.display(), error = %e,
                "list of shared mailboxes not saved (kept in memory)");
        }
    }

    /// The owners whose ACLs grant something to `user`, to "anyone" or to
    /// "authenticated" (never `user` themselves).
    pub fn owners_sharing_with(&self, user: &str) -> Vec<String> {
        let grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        grants
            .iter()
            .filter(|(owner, grantees)| {
                owner.as_str() != user
                    && (grantees.contains(user) || EVERYONE.iter().any(|e| grantees.contains(*e)))
            })
            .map(|(owner, _)| owner.clone())
            .collect()
    }
}

/// Records `owner`'s grantees in the list file while no master runs
/// (`mailkeep admin acl`, which opened `file` as root, read and write,
/// before it became the owner's uid): the master reads it when it starts.
pub fn update_file(
    file: &mut std::fs::File,
    owner: &str,
    grantees: Vec<String>,
) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.rewind()?;
    file.read_to_string(&mut text)?;
    let mut grants = parse(&text);
    apply(&mut grants, owner, grantees);
    file.rewind()?;
    file.set_len(0)?;
    file.write_all(render(&grants).as_bytes())?;
    file.sync_all()
}

fn parse(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut grants = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(owner) = fields.next().filter(|o| !o.is_empty()) else {
            continue;
        };
        let grantees: BTreeSet<String> = fields
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        if !grantees.is_empty() {
            grants.insert(owner.to_owned(), grantees);
        }
    }
    grants
}

/// Sets `owner`'s grantees in `grants`; returns whether anything changed.
fn apply(
    grants: &mut BTreeMap<String, BTreeSet<String>>,
    owner: &str,
    grantees: Vec<String>,
) -> bool {
    if owner.is_empty() || owner.contains(['\t', '\n']) {
        return false;
    }
    let grantees: BTreeSet<String> = grantees
        .into_iter()
        .filter(|g| !g.is_empty() && !g.contains(['\t', '\n']) && g != owner)
        .collect();
    if grantees.is_empty() {
        grants.remove(owner).is_some()
    } else {
        grants.insert(owner.to_owned(), grantees.clone()) != Some(grantees)
    }
}

fn render(grants: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut text = String::new();
    for (owner, grantees) in grants {
        text.push_str(owner);
        for grantee in grantees {
            text.push('\t');
            text.push_str(grantee);
        }
        text.push('\n');
    }
    text
}

/// Writes the list next to `path` and renames it into place, readable by
/// root only.
fn save(path: &Path, grants: &BTreeMap<String, BTreeSet<String>>) -> std::io::Result<()> {
    let text = render(grants);
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_found_by_grantee_and_by_everyone_and_the_list_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shares");
        let shares = Shares::load(&path);
        shares.set("alice", vec!["bob".into(), "alice".into()]);
        shares.set("carol", vec!["anyone".into()]);
        shares.set("dave", vec!["erin".into()]);
        assert_eq!(shares.owners_sharing_with("bob"), ["alice", "carol"]);
        assert_eq!(
            shares.owners_sharing_with("carol"),
            Vec::<String>::new(),
            "an owner's own grant to anyone is not a share with themselves"
        );
        assert_eq!(
            shares.owners_sharing_with("alice"),
            ["carol"],
            "the owner's own name is never a grantee"
        );
        let again = Shares::load(&path);
        assert_eq!(again.owners_sharing_with("erin"), ["carol", "dave"]);
        // Withdrawing every grant removes the owner.
        again.set("dave", Vec::new());
        assert_eq!(Shares::load(&path).owners_sharing_with("erin"), ["carol"]);
    }
}

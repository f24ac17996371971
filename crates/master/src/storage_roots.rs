//! Where a storage process may touch files (its Landlock rules): the
//! directories that hold the homes and Maildirs it may be asked to serve.
//! A per-user process serves one owner, whose home and Maildir it names
//! itself; a per-uid or shared process is sent more owners as they
//! attach, so it gets the base of new homes and the parent directory of
//! every home and Maildir the users file names when it starts. An account
//! added later with a home outside all of these is sent to a new storage
//! process of its key, started for it (`StorageTable::pick` checks each
//! process's `reach`; documented in SECURITY.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use mailkeep_config::{Config, StorageMode};

/// The `--confine-to` directories of a storage process started now.
pub fn storage_roots(config: &Config) -> Vec<PathBuf> {
    if config.storage.mode == StorageMode::PerUser {
        return Vec::new();
    }
    let mut roots = BTreeSet::new();
    roots.insert(config.home_base());
    // An unreadable users file names no home: the process then serves
    // homes below the base only (and says so when an owner's is not).
    if let Ok(users) = mailkeep_auth::userdb::PasswdFile::load(config.users_file()) {
        for entry in users.entries() {
            let places = [entry.home.clone(), entry.maildir().ok().flatten()];
            for place in places.into_iter().flatten() {
                if let Some(parent) = place.parent().filter(|p| p.is_absolute()) {
                    roots.insert(parent.to_owned());
                }
            }
        }
    }
    roots.into_iter().collect()
}

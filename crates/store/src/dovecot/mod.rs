//! Reading what Dovecot left in a Maildir (`dovecot-uidlist`,
//! `dovecot-keywords`, `subscriptions`) and importing it into a new index,
//! so that clients keep their UIDs, keywords and subscriptions after a
//! migration (issue 3, item 8).

mod import;
mod keywords;
mod subscriptions;
mod uidlist;

pub(crate) use import::import_if_dovecot;
pub use keywords::{keyword_letters, read_keywords};
pub use subscriptions::read_subscriptions;
pub use uidlist::{UIDLIST_FILE, UidList};

use std::io;
use std::path::Path;

use crate::error::{Result, StoreError};

/// Reads a small text file; `Ok(None)` when it does not exist. Bytes that
/// are not UTF-8 are replaced rather than refused: one odd file name must
/// not make the whole mailbox unreadable.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

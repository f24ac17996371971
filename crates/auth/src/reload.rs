//! A passwd-file that follows edits: every use `stat`s the file and reads it
//! again only when its inode, size or modification time changed (or it
//! changed in the last two seconds, when a stamp proves nothing), so
//! `mailkeep user add` takes effect without a restart and a lookup costs one
//! `stat` otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::AuthError;
use crate::userdb::{FileStamp, PasswdFile, UserEntry};

/// A passwd-file path and the last version read from it.
#[derive(Debug)]
pub struct WatchedPasswdFile {
    path: PathBuf,
    current: Mutex<Option<Arc<PasswdFile>>>,
}

impl WatchedPasswdFile {
    /// Watches `path`; nothing is read until the first use, so a missing
    /// file is reported per lookup (and fixed by creating it) rather than
    /// at start-up.
    pub fn new(path: impl Into<PathBuf>) -> WatchedPasswdFile {
        WatchedPasswdFile {
            path: path.into(),
            current: Mutex::new(None),
        }
    }

    /// The watched path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file as it is now: the cached parse if the file is unchanged,
    /// else a fresh one. An unreadable or malformed file is an error (the
    /// old version is not used: it may hold a deleted user or an old
    /// password).
    pub fn current(&self) -> Result<Arc<PasswdFile>, AuthError> {
        let meta =
            fs::metadata(&self.path).map_err(|e| AuthError::io("inspecting", &self.path, e))?;
        let stamp = FileStamp::of(&meta);
        // A panic elsewhere cannot leave the cache half-written (it is one
        // Option assignment), so a poisoned lock is safe to reuse.
        let mut slot = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = slot.as_ref()
            && cached.stamp == Some(stamp)
        {
            return Ok(Arc::clone(cached));
        }
        *slot = None;
        let fresh = Arc::new(PasswdFile::load(&self.path)?);
        // A file changed a moment ago is read again next time: a rewrite
        // in place within the same tick of its clock would keep its stamp.
        if fresh.stamp.is_some_and(|stamp| stamp.is_settled()) {
            *slot = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    /// The cached parse, if the file is unchanged since it was read: one
    /// `stat` and never a read, so a login may look here on the async
    /// thread (a `stat` of a local file costs what a clock read does),
    /// where reading a large file could hold up every other login.
    /// `None` when nothing is cached, the file changed or it cannot be
    /// inspected: [`WatchedPasswdFile::current`] then reads it, off the
    /// async thread, and reports what went wrong.
    pub fn cached_if_unchanged(&self) -> Option<Arc<PasswdFile>> {
        let stamp = FileStamp::of(&fs::metadata(&self.path).ok()?);
        let slot = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|cached| cached.stamp == Some(stamp))
            .map(Arc::clone)
    }

    /// Looks `name` up in the current version of the file.
    pub fn lookup(&self, name: &str) -> Result<Option<UserEntry>, AuthError> {
        Ok(self.current()?.lookup(name).cloned())
    }
}

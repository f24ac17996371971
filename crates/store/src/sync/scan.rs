//! Reading a mailbox folder's `cur/` and `new/`: a cheap stamp (the two
//! directory mtimes, two stats) to tell whether anything changed, and the
//! full listing when it did.

use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use crate::error::{Result, StoreError};

/// What a folder's `cur/` and `new/` looked like: when equal to the stamp
/// stored at the last sync, nothing was added, removed or renamed since (a
/// directory's mtime changes with every entry added, removed or renamed;
/// stamps too recent to trust are not stored, see the sync).
///
/// This runs before nearly every call, so it must not read the
/// directories: no entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `cur/` mtime in nanoseconds since the epoch.
    pub cur_mtime_ns: i64,
    /// `new/` mtime in nanoseconds since the epoch.
    pub new_mtime_ns: i64,
}

/// One file found in `cur/` or `new/`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its file name.
    pub name: String,
    /// Its mtime, seconds since the epoch.
    pub mtime: i64,
    /// Its size in bytes.
    pub size: u64,
}

fn mtime_ns(dir: &Path) -> Result<i64> {
    let meta =
        fs::metadata(dir).map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
    let t = meta
        .modified()
        .map_err(|e| StoreError::io(format!("reading mtime of {}", dir.display()), e))?;
    Ok(t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0))
}

/// The stamp of the folder `dir` (a Maildir with `cur/` and `new/`).
pub fn stamp(dir: &Path) -> Result<Stamp> {
    let (cur, new) = (dir.join("cur"), dir.join("new"));
    Ok(Stamp {
        cur_mtime_ns: mtime_ns(&cur)?,
        new_mtime_ns: mtime_ns(&new)?,
    })
}

/// The names of the files in `sub` (skipping dot files and anything the
/// directory itself says is not a regular file), unsorted, without a
/// `stat` per file: a rescan of an unchanged folder of 50,000 messages
/// needs only the names. Use [`entry`] for the files that turn out new.
pub fn names(sub: &Path) -> Result<Vec<String>> {
    let entries =
        fs::read_dir(sub).map_err(|e| StoreError::io(format!("listing {}", sub.display()), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("listing {}", sub.display()), e))?;
        // d_type from the directory; a filesystem that does not give it
        // says "unknown" here, which is let through (checked by `entry`).
        if entry
            .file_type()
            .is_ok_and(|t| t.is_dir() || t.is_symlink())
        {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %sub.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if !name.starts_with('.') {
            out.push(name);
        }
    }
    Ok(out)
}

/// The mtime and size of the file `name` in `sub`; `None` if it vanished
/// meanwhile or is not a regular file.
pub fn entry(sub: &Path, name: &str) -> Result<Option<Entry>> {
    let path = sub.join(name);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some(Entry {
        name: name.to_owned(),
        mtime: mtime_secs(&meta),
        size: meta.len(),
    }))
}

fn mtime_secs(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Sorts entries into delivery order: by mtime, then name.
pub fn sort_by_delivery(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)));
}

/// Every regular file in `sub` (skipping dot files), sorted by mtime then
/// name (delivery order). A file that vanishes while listed is skipped.
pub fn list(sub: &Path) -> Result<Vec<Entry>> {
    let entries =
        fs::read_dir(sub).map_err(|e| StoreError::io(format!("listing {}", sub.display()), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("listing {}", sub.display()), e))?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %sub.display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(StoreError::io(
                    format!("reading {}", entry.path().display()),
                    e,
                ));
            }
        };
        if !meta.is_file() {
            continue;
        }
        out.push(Entry {
            name,
            mtime: mtime_secs(&meta),
            size: meta.len(),
        });
    }
    sort_by_delivery(&mut out);
    Ok(out)
}

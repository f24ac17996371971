//! Maildir++ on disk: directories with explicit modes, directory fsync, and
//! unique message file names.

use std::fs::{self, DirBuilder, File, Permissions};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Result, StoreError};

/// Mode of every directory the store creates: the owner's alone.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the store creates.
pub const FILE_MODE: u32 = 0o600;

/// The marker file Maildir++ puts in every folder except the root.
const FOLDER_MARKER: &str = "maildirfolder";

/// Creates `dir` (and missing parents) with mode 0700, set explicitly so
/// the umask does not matter. An existing directory is left as it is.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| StoreError::io(format!("creating directory {}", dir.display()), e))?;
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(|e| StoreError::io(format!("setting mode of {}", dir.display()), e))
}

/// Makes `dir` a Maildir: `cur/`, `new/` and `tmp/` in it; with
/// `folder`, also the Maildir++ `maildirfolder` marker.
pub fn ensure_maildir(dir: &Path, folder: bool) -> Result<()> {
    ensure_dir(dir)?;
    for sub in ["cur", "new", "tmp"] {
        ensure_dir(&dir.join(sub))?;
    }
    if folder {
        let marker = dir.join(FOLDER_MARKER);
        if !marker.exists() {
            create_private_file(&marker, false)?;
        }
    }
    Ok(())
}

/// Creates a new file at `path` (failing if it exists) with mode 0600 set
/// explicitly, open for writing.
pub fn create_private_file(path: &Path, exclusive: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).mode(FILE_MODE);
    if exclusive {
        options.create_new(true);
    } else {
        options.create(true);
    }
    let file = options
        .open(path)
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| StoreError::io(format!("setting mode of {}", path.display()), e))?;
    Ok(file)
}

/// Whether `path` names a file (a symlink itself), asked for its inode
/// alone: a stat that reads a file's times makes its next change take a
/// fine-grained time (Linux's multigrain timestamps), which moves the
/// file system's coarse clock, so the next WAL write dirties the WAL's
/// inode and the `fdatasync` that acknowledges an append writes it too.
pub(crate) fn present(path: &Path) -> bool {
    use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
    statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::INO).is_ok()
}

/// Files in `tmp/` older than this are leftovers of crashed appends
/// (the Maildir convention is 36 hours).
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(36 * 3600);

/// The prefix of a deleted mailbox's folder while its files are removed.
pub const DELETED_PREFIX: &str = "mailkeep-deleted.";

/// Removes what crashes left in the root's `tmp/`: appends older than 36
/// hours and folders of deleted mailboxes. Failures are logged only: a
/// leftover costs space, not correctness.
pub fn clean_tmp(root: &Path) {
    let tmp = root.join("tmp");
    let Ok(entries) = fs::read_dir(&tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let deleted_folder = entry
            .file_name()
            .to_string_lossy()
            .starts_with(DELETED_PREFIX);
        let result = if deleted_folder {
            fs::remove_dir_all(&path)
        } else {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP);
            if !stale {
                continue;
            }
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => tracing::info!(path = %path.display(), "removed a leftover in tmp/"),
            Err(e) => tracing::warn!(path = %path.display(), error = %e,
                "leftover in tmp/ could not be removed"),
        }
    }
}

/// Flushes a directory's entries (after a rename into it) to disk.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("fsync of directory {}", dir.display()), e))
}

/// This host's name made safe for Maildir file names: `/` `:` `,` and
/// anything not printable ASCII are escaped as `\ooo` (octal), as Maildir
/// writers do.
pub fn sanitized_hostname() -> String {
    let raw = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_graphic() && !matches!(c, '/' | ':' | ',' | '\\') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:03o}"));
            }
        }
    }
    if out.is_empty() {
        "localhost".to_owned()
    } else {
        out
    }
}

/// Counter making names unique within this process (the `Q` field).
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// A new unique base name `<secs>.M<usecs>P<pid>Q<n>.<host>`; the final
/// name adds `,S=<size>,W=<vsize>:2,<letters>`.
pub fn unique_base(host: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        host
    )
}

/// The name a message file has in `cur/`.
pub fn final_name(base: &str, size: u64, vsize: u64, letters: &str) -> String {
    format!("{base},S={size},W={vsize}:2,{letters}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let a = unique_base("h");
        let b = unique_base("h");
        assert_ne!(a, b);
        let name = final_name(&a, 10, 12, "FS");
        assert!(name.ends_with(",S=10,W=12:2,FS"));
        let host = sanitized_hostname();
        assert!(!host.contains('/') && !host.contains(':') && !host.is_empty());
    }
}

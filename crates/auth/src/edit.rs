//! Editing the passwd-file for `mailkeep user add|passwd|del|list`.
//!
//! Every edit reads the whole file, changes one line and writes the result
//! to a temporary file in the same directory (mode 0600, fsync'd), which is
//! then renamed over the original: readers see the old or the new file,
//! never half of one. Comments, blank lines and other users' lines are kept
//! byte for byte. Concurrent edits are serialised with an advisory lock on
//! `<file>.lock` so that two `user add` runs cannot lose one another's line.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::AuthError;
use crate::scheme::PasswordScheme;
use crate::userdb::{PasswdFile, UserEntry, lookup_key, parse_line, validate_name};

/// The mode of the passwd-file and of the temporary file it is written as.
const FILE_MODE: u32 = 0o600;

/// Adds user `name` with `password` (stored as `{ARGON2ID}`), `uid`, `gid`
/// and `home`. Refuses an invalid name or one that exists already. Creates
/// the file (mode 0600) if it does not exist.
pub fn add_user(
    path: &Path,
    name: &str,
    password: &str,
    uid: u32,
    gid: u32,
    home: &Path,
) -> Result<(), AuthError> {
    add_user_with_scheme(
        path,
        name,
        password,
        PasswordScheme::default(),
        uid,
        gid,
        home,
    )
}

/// [`add_user`] storing the password in `scheme` (e.g. SCRAM-SHA-256, so
/// that the account can log in with SCRAM).
pub fn add_user_with_scheme(
    path: &Path,
    name: &str,
    password: &str,
    scheme: PasswordScheme,
    uid: u32,
    gid: u32,
    home: &Path,
) -> Result<(), AuthError> {
    validate_name(name)?;
    check_password(password)?;
    let home_text = home.to_str().ok_or(AuthError::BadField {
        field: "home directory",
        reason: "not valid UTF-8",
    })?;
    check_field("home directory", home_text)?;
    let hashed = scheme.hash(password)?;
    edit(path, |lines| {
        if find_user(path, lines, name)?.is_some() {
            return Err(AuthError::DuplicateUser {
                name: name.to_owned(),
                path: path.to_owned(),
            });
        }
        lines.push(format!("{name}:{hashed}:{uid}:{gid}::{home_text}::"));
        Ok(())
    })
}

/// Replaces the password of user `name` (stored as `{ARGON2ID}`), keeping
/// every other field of the line as it was.
pub fn set_password(path: &Path, name: &str, password: &str) -> Result<(), AuthError> {
    set_password_with_scheme(path, name, password, PasswordScheme::default())
}

/// [`set_password`] storing the password in `scheme`.
pub fn set_password_with_scheme(
    path: &Path,
    name: &str,
    password: &str,
    scheme: PasswordScheme,
) -> Result<(), AuthError> {
    check_password(password)?;
    let hashed = scheme.hash(password)?;
    edit(path, |lines| {
        let index = find_user(path, lines, name)?.ok_or_else(|| AuthError::NoSuchUser {
            name: name.to_owned(),
            path: path.to_owned(),
        })?;
        let line = lines.get_mut(index).ok_or_else(|| AuthError::NoSuchUser {
            name: name.to_owned(),
            path: path.to_owned(),
        })?;
        // user:password[:rest]; the name was found on this line, so the
        // first ':' exists (parse_line requires two fields).
        let mut fields = line.splitn(3, ':');
        let user = fields.next().unwrap_or_default();
        let _old = fields.next();
        let rebuilt = match fields.next() {
            Some(rest) => format!("{user}:{hashed}:{rest}"),
            None => format!("{user}:{hashed}"),
        };
        *line = rebuilt;
        Ok(())
    })
}

/// Removes user `name`'s line.
pub fn delete_user(path: &Path, name: &str) -> Result<(), AuthError> {
    edit(path, |lines| {
        let index = find_user(path, lines, name)?.ok_or_else(|| AuthError::NoSuchUser {
            name: name.to_owned(),
            path: path.to_owned(),
        })?;
        lines.remove(index);
        Ok(())
    })
}

/// Every user in the file, in file order; an empty list if the file does
/// not exist yet.
pub fn list_users(path: &Path) -> Result<Vec<UserEntry>, AuthError> {
    match PasswdFile::load(path) {
        Ok(file) => Ok(file.entries().to_vec()),
        Err(AuthError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Refuses an empty password: PLAIN logins need at least one character
/// (RFC 4616), so such a user could never log in.
fn check_password(password: &str) -> Result<(), AuthError> {
    if password.is_empty() {
        return Err(AuthError::BadField {
            field: "password",
            reason: "empty",
        });
    }
    Ok(())
}

/// Refuses a value that would break the line format.
fn check_field(field: &'static str, value: &str) -> Result<(), AuthError> {
    if value.contains(':') {
        return Err(AuthError::BadField {
            field,
            reason: "contains ':'",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(AuthError::BadField {
            field,
            reason: "contains a control character",
        });
    }
    Ok(())
}

/// The index of `name`'s line; fails on a malformed line, so an edit never
/// rewrites a file it does not understand.
fn find_user(path: &Path, lines: &[String], name: &str) -> Result<Option<usize>, AuthError> {
    let mut found = None;
    for (index, line) in lines.iter().enumerate() {
        let entry = parse_line(line).map_err(|reason| AuthError::Parse {
            path: path.to_owned(),
            line: index + 1,
            reason,
        })?;
        if found.is_none() && entry.is_some_and(|e| lookup_key(&e.name) == lookup_key(name)) {
            found = Some(index);
        }
    }
    Ok(found)
}

/// Locks, reads the file as lines (none if it is missing), applies
/// `change`, and writes the result back atomically.
fn edit(
    path: &Path,
    change: impl FnOnce(&mut Vec<String>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    let lock_path = sibling(path, ".lock", false);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(FILE_MODE)
        .open(&lock_path)
        .map_err(|e| AuthError::io("opening lock file", &lock_path, e))?;
    lock.lock()
        .map_err(|e| AuthError::io("locking", &lock_path, e))?;

    let (text, owner) = match fs::read_to_string(path) {
        Ok(text) => {
            let meta = fs::metadata(path).map_err(|e| AuthError::io("inspecting", path, e))?;
            (text, Some((meta.uid(), meta.gid(), meta.mode())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (String::new(), None),
        Err(e) => return Err(AuthError::io("reading", path, e)),
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    change(&mut lines)?;
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    write_atomically(path, out.as_bytes(), owner)
    // `lock` is released when dropped here.
}

/// Writes `contents` to a fresh 0600 file next to `path`, fsyncs it,
/// gives it the old file's owner and group-read bit when we can (root:auth
/// 0640 when auth runs as its own user), renames it over `path` and fsyncs
/// the directory so the rename survives a crash. Never readable by others.
fn write_atomically(
    path: &Path,
    contents: &[u8],
    owner: Option<(u32, u32, u32)>,
) -> Result<(), AuthError> {
    let temp = sibling(path, ".tmp", true);
    let result = (|| {
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(FILE_MODE)
            .open(&temp)
            .map_err(|e| AuthError::io("creating", &temp, e))?;
        file.write_all(contents)
            .map_err(|e| AuthError::io("writing", &temp, e))?;
        if let Some((uid, gid, mode)) = owner {
            keep_owner(&file, &temp, uid, gid);
            if mode & 0o040 != 0 {
                file.set_permissions(fs::Permissions::from_mode(FILE_MODE | 0o040))
                    .map_err(|e| AuthError::io("setting the mode of", &temp, e))?;
            }
        }
        file.sync_all()
            .map_err(|e| AuthError::io("syncing", &temp, e))?;
        fs::rename(&temp, path).map_err(|e| AuthError::io("renaming into", path, e))
    })();
    if result.is_err() {
        // Best effort: the temporary file is useless now.
        let _ = fs::remove_file(&temp);
        return result;
    }
    let dir = parent_dir(path);
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuthError::io("syncing directory", dir, e))
}

/// Gives the new file the owner the old one had (root editing a file that
/// belongs to the auth user). Failing that is only logged: a non-root
/// editor can only create files it owns, which is the right outcome then.
fn keep_owner(file: &File, temp: &Path, uid: u32, gid: u32) {
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(_) => return,
    };
    if (meta.uid(), meta.gid()) == (uid, gid) {
        return;
    }
    if let Err(e) = std::os::unix::fs::fchown(file, Some(uid), Some(gid)) {
        tracing::warn!(path = %temp.display(), uid, gid, error = %e, "could not keep the passwd-file's owner");
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `<dir>/.<name><suffix>[.<random>]` (hidden, same directory so the rename
/// stays on one file system), or `<path><suffix>` for the lock file.
fn sibling(path: &Path, suffix: &str, unique: bool) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "passwd".to_owned());
    if unique {
        let tag: u64 = rand::random();
        parent_dir(path).join(format!(".{name}{suffix}.{}.{tag:016x}", std::process::id()))
    } else {
        parent_dir(path).join(format!("{name}{suffix}"))
    }
}

#[cfg(test)]
#[path = "tests/edit.rs"]
mod tests;

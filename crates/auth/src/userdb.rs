//! The passwd-file in Dovecot's format, as passdb and userdb:
//!
//! ```text
//! user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
//! ```
//!
//! Only `user` and the password are required (a passdb-only line); `uid`,
//! `gid` and `home` are optional and empty fields count as absent, so they
//! are `Option`s here: whoever needs them (the master, to start a storage
//! process) decides what an absent value means. `gecos` and `shell` are
//! ignored, as Dovecot does. `extra_fields` is a space-separated list of
//! `key=value` (a bare `key` has the value `""`). Blank lines and lines
//! starting with `#` are ignored.
//!
//! This module holds the password only as the stored hash string: it is
//! shared with the master, which looks owners up here and never verifies
//! passwords.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::AuthError;

/// The longest user name [`validate_name`] accepts, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// One user's line of the passwd-file.
#[derive(Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// The canonical user name (first field).
    pub name: String,
    /// The stored password with its `{SCHEME}` prefix, e.g.
    /// `{ARGON2ID}$argon2id$v=19$...`; empty when the line has none (such a
    /// user can never log in with a password).
    pub password: String,
    /// The UID mail is owned by; `None` when the field is absent or empty.
    pub uid: Option<u32>,
    /// The GID; `None` when the field is absent or empty.
    pub gid: Option<u32>,
    /// The home directory; `None` when the field is absent or empty.
    pub home: Option<PathBuf>,
    /// The extra fields, in file order (`key=value`; a bare `key` gives `""`).
    pub extra: Vec<(String, String)>,
}

impl std::fmt::Debug for UserEntry {
    // The hash is left out so that logging an entry never spreads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("home", &self.home)
            .field("extra", &self.extra)
            .finish()
    }
}

impl UserEntry {
    /// The value of extra field `key`, if the line has it.
    pub fn extra_field(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The Maildir root named by the entry's mail location, so that a
    /// Dovecot users file and mail tree work unchanged: the extra field
    /// `userdb_mail` (a passwd-file serving as passdb and userdb) or `mail`
    /// (a userdb-only file), in Dovecot's syntax `maildir:PATH[:KEY=VALUE]`.
    /// A leading `~` in PATH is the home; `%u` `%n` `%d` `%h` (and their
    /// `%{user}` forms) and `%%` are expanded as Dovecot does. Options
    /// that only place Dovecot's own index files (INDEX, INDEXPVT, CONTROL,
    /// VOLATILEDIR) are ignored; `LAYOUT=maildir++` is the only layout.
    /// `Ok(None)`: the entry names no location (mail is in
    /// `<home>/Maildir`).
    pub fn maildir(&self) -> Result<Option<PathBuf>, MailLocationError> {
        let Some(location) = self
            .extra_field("userdb_mail")
            .or_else(|| self.extra_field("mail"))
        else {
            return Ok(None);
        };
        let fail = |reason: String| MailLocationError {
            user: self.name.clone(),
            location: location.to_owned(),
            reason,
        };
        let (format, rest) = location
            .split_once(':')
            .ok_or_else(|| fail("names no format: expected maildir:PATH".into()))?;
        if !format.eq_ignore_ascii_case("maildir") {
            return Err(fail(format!(
                "format {format:?} is not served: mailkeep reads Maildir"
            )));
        }
        let mut parts = rest.split(':');
        let path = parts.next().unwrap_or_default();
        for option in parts {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            match key.to_ascii_uppercase().as_str() {
                "INDEX" | "INDEXPVT" | "CONTROL" | "VOLATILEDIR" => {}
                "LAYOUT" if value.eq_ignore_ascii_case("maildir++") => {}
                _ => return Err(fail(format!("option {option:?} is not supported"))),
            }
        }
        let path = self.expand_mail_path(path).map_err(fail)?;
        if !path.is_absolute() {
            return Err(fail("is not an absolute path (nor starts with ~)".into()));
        }
        Ok(Some(path))
    }

    /// `path` with `~` and the `%` variables of a Dovecot mail location
    /// replaced.
    fn expand_mail_path(&self, path: &str) -> Result<PathBuf, String> {
        if path.is_empty() {
            return Err("has an empty path".into());
        }
        let home = || {
            self.home
                .as_ref()
                .map(|h| h.display().to_string())
                .ok_or_else(|| "uses the home (~ or %h), but the entry has none".to_owned())
        };
        let (user_part, domain) = self.name.split_once('@').unwrap_or((&self.name, ""));
        let mut out = String::with_capacity(path.len());
        let mut rest = path;
        if rest == "~" || rest.starts_with("~/") {
            out.push_str(&home()?);
            rest = &rest[1..];
        }
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (variable, len) = match after.strip_prefix('{') {
                Some(long) => {
                    let end = long
                        .find('}')
                        .ok_or_else(|| format!("has an unclosed %{{ in {path:?}"))?;
                    (&long[..end], end + 2)
                }
                None => (after.get(..1).unwrap_or_default(), 1),
            };
            match variable {
                "u" | "user" => out.push_str(&self.name),
                "n" | "username" => out.push_str(user_part),
                "d" | "domain" => out.push_str(domain),
                "h" | "home" => out.push_str(&home()?),
                "%" => out.push('%'),
                other => return Err(format!("uses the unknown variable %{other}")),
            }
            rest = &after[len.min(after.len())..];
        }
        out.push_str(rest);
        Ok(PathBuf::from(out))
    }
}

/// A users-file entry whose mail location cannot be served (see
/// [`UserEntry::maildir`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user {user:?}: mail location {location:?} {reason}")]
pub struct MailLocationError {
    /// The user.
    pub user: String,
    /// The location as the entry gives it.
    pub location: String,
    /// What is wrong with it.
    pub reason: String,
}

/// What identifies one version of the file on disk, so a cheap `stat`
/// tells whether it must be read again (an atomic rewrite changes the inode,
/// an in-place edit the size or modification time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    pub(crate) fn of(meta: &fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// Whether the file was last changed long enough ago that a change in
    /// place since could not have kept this stamp: file times advance in
    /// coarse steps (a few milliseconds), so a same-size rewrite just after
    /// the read can leave size and time as they were.
    pub(crate) fn is_settled(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(i64::MAX, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        now.saturating_sub(self.mtime) >= SETTLED_SECS
    }
}

/// How old a file's last change must be before a parse of it is kept.
const SETTLED_SECS: i64 = 2;

/// The key an account name is looked up by: the name with the domain
/// after its last `@` in lower case (domains are case-insensitive; the
/// local part is not), so that `alice@Example.ORG` in the file is reached
/// as `alice@example.org` and two spellings of one account conflict.
pub(crate) fn lookup_key(name: &str) -> std::borrow::Cow<'_, str> {
    match name.rsplit_once('@') {
        Some((local, domain)) if domain.bytes().any(|b| b.is_ascii_uppercase()) => {
            std::borrow::Cow::Owned(format!("{local}@{}", domain.to_ascii_lowercase()))
        }
        _ => std::borrow::Cow::Borrowed(name),
    }
}

/// A parsed passwd-file: its users, looked up by name (the domain in any
/// case, see [`lookup_key`]).
#[derive(Debug, Clone)]
pub struct PasswdFile {
    path: PathBuf,
    entries: Vec<UserEntry>,
    by_name: HashMap<String, usize>,
    pub(crate) stamp: Option<FileStamp>,
}

impl PasswdFile {
    /// Reads and parses the file at `path`. A malformed line fails the whole
    /// load with an error naming the line, rather than silently dropping a
    /// user or keeping stale credentials.
    pub fn load(path: impl AsRef<Path>) -> Result<PasswdFile, AuthError> {
        let path = path.as_ref();
        let mut file = fs::File::open(path).map_err(|e| AuthError::io("opening", path, e))?;
        // The stamp comes from the open file, so it describes what is read.
        let meta = file
            .metadata()
            .map_err(|e| AuthError::io("inspecting", path, e))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| AuthError::io("reading", path, e))?;
        let mut parsed = PasswdFile::parse(&text, path)?;
        parsed.stamp = Some(FileStamp::of(&meta));
        Ok(parsed)
    }

    /// Parses passwd-file contents; `path` is only used in error messages.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<PasswdFile, AuthError> {
        let path = path.as_ref();
        let mut entries = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let entry = parse_line(line).map_err(|reason| AuthError::Parse {
                path: path.to_owned(),
                line: number,
                reason,
            })?;
            let Some(entry) = entry else { continue };
            let key = lookup_key(&entry.name).into_owned();
            if let Some(first) = first_line.get(&key) {
                return Err(AuthError::Parse {
                    path: path.to_owned(),
                    line: number,
                    reason: format!("user {:?} already defined on line {first}", entry.name),
                });
            }
            first_line.insert(key.clone(), number);
            by_name.insert(key, entries.len());
            entries.push(entry);
        }
        Ok(PasswdFile {
            path: path.to_owned(),
            entries,
            by_name,
            stamp: None,
        })
    }

    /// The user named `name` (its domain in any case), if any.
    pub fn lookup(&self, name: &str) -> Option<&UserEntry> {
        self.by_name
            .get(lookup_key(name).as_ref())
            .and_then(|&i| self.entries.get(i))
    }

    /// Every user, in file order.
    pub fn entries(&self) -> &[UserEntry] {
        &self.entries
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Parses one line: `Ok(None)` for blank and comment lines, `Err(reason)`
/// for a malformed one.
pub(crate) fn parse_line(line: &str) -> Result<Option<UserEntry>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    // Extra fields may themselves contain ':' (e.g. `userdb_mail=maildir:~/Maildir`).
    let fields: Vec<&str> = line.splitn(8, ':').collect();
    if fields.len() < 2 {
        return Err("too few fields: need at least user:password".to_owned());
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let name = field(0);
    if name.is_empty() {
        return Err("empty user name".to_owned());
    }
    let uid = parse_id(field(2), "uid")?;
    let gid = parse_id(field(3), "gid")?;
    let home = match field(5) {
        "" => None,
        h => Some(PathBuf::from(h)),
    };
    let extra = field(7)
        .split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.to_owned(), String::new()),
        })
        .collect();
    Ok(Some(UserEntry {
        name: name.to_owned(),
        password: field(1).to_owned(),
        uid,
        gid,
        home,
        extra,
    }))
}

fn parse_id(text: &str, what: &str) -> Result<Option<u32>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u32>()
        .map(Some)
        .map_err(|_| format!("{what} {text:?} is not a number"))
}

/// Checks that `name` may be written to the passwd-file as a user name:
/// not empty, at most [`MAX_NAME_LEN`] bytes, and no `:`, `/`, whitespace or
/// control characters (which would break the line format, paths derived
/// from the name, or the logs).
pub fn validate_name(name: &str) -> Result<(), AuthError> {
    let bad = |reason| {
        Err(AuthError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 64 bytes");
    }
    if name.contains(':') {
        return bad("contains ':'");
    }
    if name.contains('/') {
        return bad("contains '/'");
    }
    if name.chars().any(char::is_whitespace) {
        return bad("contains whitespace");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if name.starts_with('#') {
        return bad("starts with '#' (a comment line)");
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests/userdb.rs"]
mod tests;

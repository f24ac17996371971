//! Making an owner's home as root without being redirected: the path is
//! walked one component at a time from `/` with `openat(O_NOFOLLOW)`,
//! missing directories are made with `mkdirat` relative to their parent's
//! descriptor, and the home is chowned and chmodded through its own
//! descriptor. A symbolic link is followed only where it lies in a
//! directory that nobody but root (or the server's own user) can write: an
//! administrator's link (`/var/vmail` → `/srv/vmail`) works, while one
//! planted by a mail uid in a directory it owns (`/var/vmail/example.com/bob`
//! → `/etc`) stops the walk, so root never makes, chowns or chmods anything
//! through it.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::MasterError;

/// Mode of directories made on the way to a home.
const PARENT_MODE: u32 = 0o755;
/// Mode of a home: its owner's alone.
const HOME_MODE: u32 = 0o700;

/// Makes an owner's home directory if it is missing: mode 0700, owned by
/// the owner (when `privileged`), so the storage process (running as the
/// owner) can fill it; missing parents are made mode 0755. An existing
/// home is left as it is. Fails, making nothing further, where the path
/// leads through a symbolic link in a directory others can write.
pub fn ensure_home(home: &Path, uid: u32, gid: u32, privileged: bool) -> Result<(), MasterError> {
    let (Some(parent), Some(name)) = (home.parent(), home.file_name()) else {
        return Err(MasterError::Setup(format!(
            "home {} names no directory",
            home.display()
        )));
    };
    let (mut dir, mut walked) = start(home)?;
    for component in parent.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(MasterError::Setup(format!(
                    "home {} contains `..`",
                    home.display()
                )));
            }
            Component::Normal(part) => {
                walked.push(part);
                dir = match enter(&dir, part, &walked)? {
                    Some(next) => next,
                    None => make(&dir, part, PARENT_MODE, None, &walked)?,
                };
            }
        }
    }
    if enter(&dir, name, home)?.is_none() {
        let owner = privileged.then_some((uid, gid));
        make(&dir, name, HOME_MODE, owner, home)?;
    }
    Ok(())
}

/// The directory a walk starts from: `/` for an absolute path, else the
/// working directory.
fn start(home: &Path) -> Result<(OwnedFd, PathBuf), MasterError> {
    let from = if home.is_absolute() { "/" } else { "." };
    let fd = rustix::fs::openat(
        CWD,
        from,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_error(format!("opening {from}"), e))?;
    Ok((fd, PathBuf::from(from)))
}

/// Opens the directory `name` in `dir` without following a symbolic link
/// (unless `dir` is trusted); `None` if it does not exist.
fn enter(dir: &OwnedFd, name: &OsStr, shown: &Path) -> Result<Option<OwnedFd>, MasterError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
            let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_error(format!("checking {}", shown.display()), e))?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
                return Err(io_error(
                    format!("{} is not a directory", shown.display()),
                    e,
                ));
            }
            if !trusted(dir)? {
                return Err(MasterError::Setup(format!(
                    "{} is a symbolic link in a directory that others than root can write; \
                     not following it to make a home",
                    shown.display()
                )));
            }
            rustix::fs::openat(dir, name, flags, Mode::empty())
                .map(Some)
                .map_err(|e| io_error(format!("following the link {}", shown.display()), e))
        }
        Err(e) => Err(io_error(format!("opening {}", shown.display()), e)),
    }
}

/// Makes the directory `name` in `dir` with `mode` (and, if given, owner),
/// setting both through the new directory's own descriptor.
fn make(
    dir: &OwnedFd,
    name: &OsStr,
    mode: u32,
    owner: Option<(u32, u32)>,
    shown: &Path,
) -> Result<OwnedFd, MasterError> {
    let mode = Mode::from_raw_mode(mode);
    match rustix::fs::mkdirat(dir, name, mode) {
        // Made meanwhile by another start of the same home: use it.
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(io_error(format!("creating {}", shown.display()), e)),
    }
    let made = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_error(format!("opening the new {}", shown.display()), e))?;
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(
            &made,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(|e| io_error(format!("chown {} to {uid}:{gid}", shown.display()), e))?;
    }
    // mkdirat's mode passed through the umask; the mode is meant exactly.
    rustix::fs::fchmod(&made, mode)
        .map_err(|e| io_error(format!("setting the mode of {}", shown.display()), e))?;
    Ok(made)
}

/// Whether only root or this server's user can change what `dir` holds:
/// owned by one of them and writable by neither group nor others.
fn trusted(dir: impl AsFd) -> Result<bool, MasterError> {
    let stat = rustix::fs::fstat(dir).map_err(|e| io_error("checking a directory", e))?;
    let owner_ok = stat.st_uid == 0 || stat.st_uid == rustix::process::geteuid().as_raw();
    Ok(owner_ok && stat.st_mode & 0o022 == 0)
}

fn io_error(context: impl Into<String>, e: Errno) -> MasterError {
    MasterError::io(context.into(), std::io::Error::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    const OTHER: u32 = 5000;

    fn root() -> bool {
        rustix::process::geteuid().is_root()
    }

    fn base() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).expect("stat").mode() & 0o7777
    }

    /// Missing parents are made 0755 and the home 0700 (and, as root,
    /// owned by the owner); an existing home is left alone.
    #[test]
    fn a_missing_home_is_made_with_its_parents() {
        let dir = base();
        let home = dir.path().join("example.com").join("alice");
        ensure_home(&home, OTHER, OTHER, root()).expect("ensure_home");
        assert_eq!(mode(&dir.path().join("example.com")), 0o755);
        assert_eq!(mode(&home), 0o700);
        if root() {
            let meta = fs::metadata(&home).expect("stat");
            assert_eq!((meta.uid(), meta.gid()), (OTHER, OTHER));
        }
        fs::set_permissions(&home, fs::Permissions::from_mode(0o750)).expect("chmod");
        ensure_home(&home, OTHER, OTHER, root()).expect("again");
        assert_eq!(mode(&home), 0o750, "an existing home is not touched");
    }

    /// A mail uid that owns the domain directory plants `bob` → a directory
    /// elsewhere, and `dom` → the same: making bob's home, or a home under
    /// `dom`, fails, and the target is neither chowned, chmodded nor given
    /// a new directory.
    #[test]
    fn a_symlink_planted_in_a_user_writable_parent_is_not_followed() {
        let dir = base();
        let target = dir.path().join("elsewhere");
        fs::create_dir(&target).expect("target");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o751)).expect("chmod");
        let domain = dir.path().join("example.com");
        fs::create_dir(&domain).expect("domain");
        // Writable by the mail uid: others-writable when not root (we own
        // it), owned by the mail uid when root.
        if root() {
            nix::unistd::chown(
                &domain,
                Some(nix::unistd::Uid::from_raw(OTHER)),
                Some(nix::unistd::Gid::from_raw(OTHER)),
            )
            .expect("chown");
        } else {
            fs::set_permissions(&domain, fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        symlink(&target, domain.join("bob")).expect("planting bob");
        symlink(&target, domain.join("sub")).expect("planting sub");

        let err = ensure_home(&domain.join("bob"), OTHER, OTHER, root())
            .expect_err("bob's home through a planted link");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = ensure_home(&domain.join("sub").join("carol"), OTHER, OTHER, root())
            .expect_err("a home under a planted link");
        assert!(err.to_string().contains("symbolic link"), "{err}");

        assert_eq!(mode(&target), 0o751, "the target's mode changed");
        let meta = fs::metadata(&target).expect("stat");
        assert_eq!(
            meta.uid(),
            rustix::process::geteuid().as_raw(),
            "the target was chowned"
        );
        assert_eq!(
            fs::read_dir(&target).expect("read").count(),
            0,
            "something was made in the target"
        );
    }

    /// A link in a directory only the server's user can write (an
    /// administrator's `/var/vmail` → `/srv/vmail`) is followed.
    #[test]
    fn a_symlink_in_a_trusted_directory_is_followed() {
        let dir = base();
        let real = dir.path().join("real");
        fs::create_dir(&real).expect("real");
        symlink(&real, dir.path().join("vmail")).expect("link");
        ensure_home(&dir.path().join("vmail").join("dave"), OTHER, OTHER, root())
            .expect("through the administrator's link");
        assert_eq!(mode(&real.join("dave")), 0o700);
    }

    /// A file where a directory of the path should be is an error, not
    /// replaced or followed.
    #[test]
    fn a_file_in_the_path_is_refused() {
        let dir = base();
        fs::write(dir.path().join("file"), b"x").expect("file");
        let err = ensure_home(&dir.path().join("file").join("erin"), OTHER, OTHER, false)
            .expect_err("through a file");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}

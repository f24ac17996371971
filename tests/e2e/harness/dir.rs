//! The test's own directory: data, config and logs of its servers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A private temporary directory for one test, mode 0755 so that the
/// storage processes (uid 5000) can traverse it to their homes under
/// `data/home`. Removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// Makes a fresh directory.
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("mailkeep-e2e-")
            .tempdir()
            .expect("creating a temporary directory");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 of the temporary directory");
        // Every ancestor must be searchable by others too.
        for a in dir.path().ancestors().skip(1) {
            let mode = fs::metadata(a).map(|m| m.permissions().mode()).unwrap_or(0);
            assert!(
                mode & 0o001 != 0,
                "{} (an ancestor of the test directory) is not searchable by others; \
                 set TMPDIR to a directory that is",
                a.display()
            );
        }
        TestDir { dir }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/data`, the server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// `<data_dir>/home/<user>`: where `user add` puts an account's home.
    pub fn home(&self, user: &str) -> PathBuf {
        self.data_dir().join("home").join(user)
    }

    /// `<home>/Maildir`.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// `<data_dir>/keys/host.key`, this host's ticket signing key.
    pub fn key_file(&self) -> PathBuf {
        self.data_dir().join("keys").join("host.key")
    }

    /// `<data_dir>/empty`, the chroot of protocol processes.
    pub fn chroot_dir(&self) -> PathBuf {
        self.data_dir().join("empty")
    }

    /// `<data_dir>/users`.
    pub fn users_file(&self) -> PathBuf {
        self.data_dir().join("users")
    }
}

/// Every file (not directory) under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("reading a directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

//! A small tmpfs for tests of a full disk (root only): mounted on a
//! directory, filled to the last byte on demand, detached when dropped so
//! that the temporary directory under it can go even after a failure.
//! Shared by the store's tests and the end-to-end tests (`#[path]`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// A mounted tmpfs.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on `dir` (created if missing), owned by
    /// `owner` (a uid and gid) when given.
    pub fn mount(dir: &Path, bytes: u64, owner: Option<u32>) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("creating the mount point");
        let options = format!("size={bytes},mode=0700");
        nix::mount::mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(options.as_str()),
        )
        .expect("mounting a tmpfs");
        let disk = Tmpfs {
            dir: dir.to_owned(),
        };
        if let Some(id) = owner {
            let uid = Some(nix::unistd::Uid::from_raw(id));
            let gid = Some(nix::unistd::Gid::from_raw(id));
            nix::unistd::chown(&disk.dir, uid, gid).expect("chown of the tmpfs");
        }
        disk
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Grows it to `bytes` (as an administrator gives a full disk room).
    #[allow(dead_code)]
    pub fn grow(&self, bytes: u64) {
        let options = format!("size={bytes}");
        nix::mount::mount(
            None::<&str>,
            &self.dir,
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT,
            Some(options.as_str()),
        )
        .expect("growing the tmpfs");
    }

    /// Takes every byte left, with a file of its own; returns its path.
    pub fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("creating the filler");
        let chunk = vec![0u8; 64 * 1024];
        // Bounded: the disks of these tests are a few MiB.
        for _ in 0..1024 {
            if file.write_all(&chunk).is_err() {
                break;
            }
        }
        for _ in 0..chunk.len() {
            if file.write_all(&[0]).is_err() {
                break;
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

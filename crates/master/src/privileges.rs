//! Dropping privileges: what every child runs before any code that handles
//! network input or mail. Uses only the process-wide calls (setresuid and
//! friends), which is right for a process that is about to become one user
//! for good.

use std::path::Path;

use nix::unistd::{Gid, Uid};

use crate::MasterError;

/// Whom a child becomes.
#[derive(Debug, Clone)]
pub struct DropTo {
    /// The uid to run as.
    pub uid: u32,
    /// The gid to run as (the only group).
    pub gid: u32,
    /// An empty directory to chroot into, for protocol processes.
    pub chroot: Option<std::path::PathBuf>,
}

/// Whether this process runs as root, and so can and must drop privileges.
pub fn running_as_root() -> bool {
    Uid::effective().is_root()
}

/// Becomes `to` for good: chroot (if asked) and chdir to "/", setgroups to
/// the one gid, setresgid, setresuid, then `PR_SET_NO_NEW_PRIVS`, and checks
/// that root cannot be regained. Run as root; as another user only the
/// no-new-privs step applies (the caller has warned that privilege
/// separation is off).
pub fn drop_privileges(to: &DropTo) -> Result<(), MasterError> {
    if running_as_root() {
        if let Some(dir) = &to.chroot {
            check_empty_root_owned(dir)?;
            nix::unistd::chroot(dir)
                .map_err(|e| MasterError::io(format!("chroot to {}", dir.display()), e))?;
            nix::unistd::chdir("/").map_err(|e| MasterError::io("chdir / after chroot", e))?;
        }
        let gid = Gid::from_raw(to.gid);
        let uid = Uid::from_raw(to.uid);
        nix::unistd::setgroups(&[gid]).map_err(|e| MasterError::io("setgroups", e))?;
        nix::unistd::setresgid(gid, gid, gid)
            .map_err(|e| MasterError::io(format!("setresgid {}", to.gid), e))?;
        nix::unistd::setresuid(uid, uid, uid)
            .map_err(|e| MasterError::io(format!("setresuid {}", to.uid), e))?;
        if to.uid != 0 && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(MasterError::Setup(
                "could regain root after dropping privileges; refusing to run".into(),
            ));
        }
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| MasterError::io("PR_SET_NO_NEW_PRIVS", e))?;
    // Credentials changed, which cleared any parent-death signal: set it now
    // so a child never outlives the master.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .map_err(|e| MasterError::io("PR_SET_PDEATHSIG", e))?;
    if nix::unistd::getppid().as_raw() == 1 {
        return Err(MasterError::Setup("the master is gone; exiting".into()));
    }
    Ok(())
}

/// Limits for protocol processes: no core dumps (they hold passwords in
/// memory for a moment). File writes need no limit: the chroot is empty and
/// root-owned, and RLIMIT_FSIZE would kill the process with SIGXFSZ when
/// its inherited stderr is a log file.
pub fn limit_protocol_process() -> Result<(), MasterError> {
    use nix::sys::resource::{Resource, setrlimit};
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| MasterError::io("setrlimit CORE", e))?;
    Ok(())
}

/// Raises this process's open-file limit to its hard limit, for itself and
/// the children it starts: an imap process holds a descriptor per client,
/// a storage process several per open index, and the usual soft limit of
/// 1024 would cap a server at a few hundred users. Logged, never fatal.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(soft, hard, error = %e, "open-file limit not raised");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "open-file limit unknown"),
    }
}

/// Refuses a chroot directory that is not empty or not owned by root: a
/// writable or populated chroot would give a compromised process files to
/// use.
pub fn check_empty_root_owned(dir: &Path) -> Result<(), MasterError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| MasterError::io(format!("chroot dir {}", dir.display()), e))?;
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(MasterError::Setup(format!(
            "chroot dir {} must be owned by root and not group/other writable",
            dir.display()
        )));
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| MasterError::io(format!("reading chroot dir {}", dir.display()), e))?;
    if entries.next().is_some() {
        return Err(MasterError::Setup(format!(
            "chroot dir {} must be empty",
            dir.display()
        )));
    }
    Ok(())
}

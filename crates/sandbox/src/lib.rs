//! Confinement for the protocol processes (imap, and pop3 and lmtp when
//! they exist) and the cluster's gateway and relay: after such a process
//! has adopted its descriptors (listeners, broker and control channels,
//! TLS material) and dropped its privileges, [`confine_protocol_process`]
//! leaves it able to do little but talk on what it holds (DESIGN §1, "they
//! can open no file and no socket path"):
//!
//! * a seccomp filter that allows a fixed list of system calls (memory,
//!   threads, time, polling, and I/O on descriptors it already holds) and
//!   fails every other one with `EPERM`: no `open`/`openat`, no `execve`,
//!   no `ptrace`, no `mount`, no path-based call at all, no `socket` (but
//!   TCP for the relay, whose job is reaching other hosts' gateways);
//! * an empty Landlock ruleset that handles every file-system right the
//!   kernel knows (and TCP bind/connect, and the signal and abstract-socket
//!   scopes), so the file system is closed a second time, by another
//!   mechanism, where the kernel has Landlock. Best effort: a kernel
//!   without it gets a log line.
//!
//! Neither needs privileges (both need `no_new_privs`, set first), so the
//! confinement holds also when mailkeep runs without root and every process
//! is the same user: a bug in IMAP parsing still cannot open the mail files
//! of the very uid it runs as.
//!
//! Auth and the storage processes are confined the same way, with
//! [`Allowances`] that let them read (auth) or change (storage) files
//! beneath the directories they are given, and nowhere else.
//!
//! This crate opens no file but the directories it is given (as `O_PATH`
//! handles for the Landlock rules) and holds no state; it has no `unsafe`.

#![forbid(unsafe_code)]

mod landlock_rules;
mod syscalls;

pub use landlock_rules::LandlockOutcome;

/// What a confined process may do beyond talking on the descriptors it
/// holds. The default is a protocol process's: nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowances {
    /// Directories beneath which files may still be opened for reading
    /// and directories listed, and nothing else (auth: the directory of its
    /// users file, which `mailkeep user add` replaces by a rename). Seccomp
    /// lets `open`/`openat` through only without a write flag; Landlock
    /// grants read access beneath these directories only.
    pub read_dirs: Vec<std::path::PathBuf>,
    /// Directories beneath which files and directories may be made, read,
    /// written, renamed and removed (storage: the homes it serves). Seccomp
    /// lets the file-system calls a store makes through; Landlock grants
    /// every file right but executing and making devices, pipes, sockets
    /// and symbolic links, beneath these directories only.
    pub write_dirs: Vec<std::path::PathBuf>,
    /// Changing the calling thread's own credentials and capabilities:
    /// `setfsuid` and `setfsgid` to any id but 0 (not `setgroups`),
    /// `capget`/`capset`, and the `prctl`s that drop capabilities
    /// (shared-mode storage, whose worker threads take their owner's
    /// file-system credentials).
    pub switch_credentials: bool,
    /// Create TCP sockets and connect them: the relay, which reaches
    /// other hosts' storage gateways for this host's sessions. Off (every
    /// protocol process, the gateway), `socket()` fails whatever its
    /// family.
    pub outbound_tcp: bool,
    /// With `outbound_tcp`: the only TCP ports `connect()` may reach (the
    /// cluster's gateways), enforced by Landlock where the kernel handles
    /// TCP (ABI 4, Linux 6.7 and later); empty: any port.
    pub tcp_ports: Vec<u16>,
}

/// What [`confine_protocol_process`] put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confinement {
    /// How far the kernel enforces the Landlock ruleset.
    pub landlock: LandlockOutcome,
}

/// Why the process could not be confined. The caller must not go on to
/// serve clients.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The seccomp filter could not be built for this architecture.
    #[error("building the seccomp filter for {arch}: {message}")]
    Filter {
        /// The target architecture.
        arch: &'static str,
        /// What seccompiler said.
        message: String,
    },
    /// The kernel refused the seccomp filter.
    #[error("installing the seccomp filter: {0}")]
    Install(String),
    /// The Landlock ruleset could not be made or applied (other than for
    /// lack of kernel support, which is not an error).
    #[error("applying the Landlock ruleset: {0}")]
    Landlock(String),
}

/// Forbids the calling thread, and every thread it starts later, to change
/// its credentials or capabilities again (`setuid`, `setfsuid`,
/// `setgroups`, `capset` and the like fail with `EPERM`), on top of the
/// filter the process is under: for a shared-mode storage worker once it
/// took its owner's file-system credentials, which its real uid (the
/// process's) would otherwise let it set back to that uid.
pub fn lock_thread_credentials() -> Result<(), SandboxError> {
    let program = syscalls::credential_lock()?;
    seccompiler::apply_filter(&program).map_err(|e| SandboxError::Install(e.to_string()))
}

/// Confines the calling process for good: `no_new_privs`, then the
/// Landlock ruleset, then the seccomp filter (on every thread of the
/// process, and every thread and child it makes later). Call it after the
/// last file is read and before any client input is.
pub fn confine_protocol_process(allow: &Allowances) -> Result<Confinement, SandboxError> {
    // Landlock first: its own system calls are not on the seccomp list.
    let landlock = landlock_rules::restrict_self(allow)?;
    match landlock {
        LandlockOutcome::Full => {}
        LandlockOutcome::Partial => tracing::info!(
            "Landlock is only partly enforced by this kernel (an older ABI); \
             seccomp still closes the file system"
        ),
        LandlockOutcome::Unsupported => tracing::warn!(
            "Landlock is not available in this kernel; the protocol process is confined by \
             seccomp alone"
        ),
    }
    let program = syscalls::protocol_filter(allow, std::process::id())?;
    seccompiler::apply_filter_all_threads(&program)
        .map_err(|e| SandboxError::Install(e.to_string()))?;
    Ok(Confinement { landlock })
}

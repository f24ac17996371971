//! The seccomp allowlist of a protocol process. Everything not listed
//! fails with `EPERM`, so a system call added to the kernel later is closed
//! until someone adds it here. The list is what a tokio runtime serving
//! clients over inherited sockets needs (found by tracing a running imap
//! process through logins, TLS, STARTTLS, COMPRESS, IDLE, APPEND and
//! certificate reloads), nothing more.

// System call numbers are `c_long` and ioctl requests `c_ulong` or `c_int`
// depending on the target; the conversions are to the filter's types and
// are no-ops only on some targets.
#![allow(clippy::useless_conversion, clippy::unnecessary_cast)]

use std::collections::BTreeMap;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use crate::{Allowances, SandboxError};

/// Calls allowed whatever their arguments.
const ALWAYS: &[libc::c_long] = &[
    // I/O on descriptors the process holds.
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_close,
    libc::SYS_fcntl,
    libc::SYS_fstat,
    libc::SYS_lseek,
    libc::SYS_dup,
    libc::SYS_dup3,
    // Sockets it holds: accepting on its listeners, talking to clients,
    // the broker, auth and storage (descriptors passed with SCM_RIGHTS).
    libc::SYS_accept4,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_recvmsg,
    libc::SYS_sendmsg,
    libc::SYS_shutdown,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    // Polling (tokio's reactor and its waker).
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_ppoll,
    // Memory (mmap and mprotect are below: never executable).
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    // Threads.
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // Signals of its own.
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    // Time.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    // Who it is, and randomness (TLS, SCRAM nonces, hash seeds).
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_uname,
    libc::SYS_getrandom,
];

/// The older forms x86_64 still has and its libc still uses.
#[cfg(target_arch = "x86_64")]
const ALWAYS_LEGACY: &[libc::c_long] = &[libc::SYS_accept, libc::SYS_epoll_wait, libc::SYS_poll];

#[cfg(not(target_arch = "x86_64"))]
const ALWAYS_LEGACY: &[libc::c_long] = &[];

/// Reading files beneath the directories allowed (the flags of an open
/// are checked below: no writing, creating or truncating).
const READ_FILES: &[libc::c_long] = &[
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_getdents64,
    libc::SYS_pread64,
];

/// What a store does with the files of its Maildirs and SQLite indexes
/// (opening with any flags is allowed apart from these).
const CHANGE_FILES: &[libc::c_long] = &[
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    // The append journal's flusher makes many message files durable with
    // one flush of their file system (no more than fsync of each gives).
    libc::SYS_syncfs,
    // A message whose bytes are only in the append journal, served from
    // memory while its file cannot be written (a full disk).
    libc::SYS_memfd_create,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_fadvise64,
    libc::SYS_flock,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_utimensat,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchown,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_readlinkat,
    libc::SYS_getcwd,
    libc::SYS_fstatfs,
    libc::SYS_statfs,
    libc::SYS_umask,
    // Telling watchers of other processes' commits and of mail dropped
    // into the Maildir (inotify on directories beneath the homes; the
    // events are read from the inotify descriptor with `read`).
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
];

/// The older forms of [`CHANGE_FILES`] and [`READ_FILES`] on x86_64.
#[cfg(target_arch = "x86_64")]
const CHANGE_FILES_LEGACY: &[libc::c_long] = &[
    libc::SYS_mkdir,
    libc::SYS_rmdir,
    libc::SYS_unlink,
    libc::SYS_rename,
    libc::SYS_link,
    libc::SYS_access,
    libc::SYS_readlink,
    libc::SYS_chmod,
];

#[cfg(not(target_arch = "x86_64"))]
const CHANGE_FILES_LEGACY: &[libc::c_long] = &[];

#[cfg(target_arch = "x86_64")]
const READ_FILES_LEGACY: &[libc::c_long] = &[libc::SYS_stat, libc::SYS_lstat];

#[cfg(not(target_arch = "x86_64"))]
const READ_FILES_LEGACY: &[libc::c_long] = &[];

/// A thread changing its own credentials and dropping capabilities, then
/// adding a filter of its own (which can only forbid more). `setfsuid` and
/// `setfsgid` are allowed apart from these, with any id but root's; not
/// `setgroups`, whose list a filter cannot see (it could hold group 0).
const SWITCH_CREDENTIALS: &[libc::c_long] =
    &[libc::SYS_capget, libc::SYS_capset, libc::SYS_seccomp];

/// Every call that changes a thread's credentials or capabilities.
const CREDENTIAL_CHANGES: &[libc::c_long] = &[
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_setgroups,
    libc::SYS_capset,
];

/// A filter that fails [`CREDENTIAL_CHANGES`] with `EPERM` and lets
/// everything else through to the filters below it.
pub(crate) fn credential_lock() -> Result<BpfProgram, SandboxError> {
    let arch = std::env::consts::ARCH;
    let build = || -> Result<BpfProgram, BackendError> {
        let rules = CREDENTIAL_CHANGES
            .iter()
            .map(|&call| (i64::from(call), Vec::new()))
            .collect();
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            TargetArch::try_from(arch)?,
        )?;
        BpfProgram::try_from(filter)
    };
    build().map_err(|e| SandboxError::Filter {
        arch,
        message: e.to_string(),
    })
}

/// The filter for a protocol process whose pid is `pid`.
pub(crate) fn protocol_filter(allow: &Allowances, pid: u32) -> Result<BpfProgram, SandboxError> {
    let arch = std::env::consts::ARCH;
    build(allow, pid, arch).map_err(|e| SandboxError::Filter {
        arch,
        message: e.to_string(),
    })
}

fn build(allow: &Allowances, pid: u32, arch: &str) -> Result<BpfProgram, BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &call in ALWAYS.iter().chain(ALWAYS_LEGACY) {
        rules.insert(call.into(), Vec::new());
    }
    // Memory, but never executable: no code the process did not start with.
    let not_exec = || when(2, Op::MaskedEq(libc::PROT_EXEC as u64), 0);
    rules.insert(
        libc::SYS_mmap.into(),
        vec![SeccompRule::new(vec![not_exec()?])?],
    );
    rules.insert(
        libc::SYS_mprotect.into(),
        vec![SeccompRule::new(vec![not_exec()?])?],
    );
    // Thread names (set by each new thread itself) and nothing else of
    // prctl, but dropping capabilities where credentials are switched.
    let mut prctls = vec![libc::PR_SET_NAME as u64, libc::PR_GET_NAME as u64];
    if allow.switch_credentials {
        for &call in SWITCH_CREDENTIALS {
            rules.insert(call.into(), Vec::new());
        }
        // A file-system uid or gid of 0 is never taken, even by a thread
        // that holds CAP_SETUID/CAP_SETGID: the process serves no root file.
        let not_root = || -> Result<Vec<SeccompRule>, BackendError> {
            Ok(vec![SeccompRule::new(vec![when(0, Op::Ne, 0)?])?])
        };
        rules.insert(libc::SYS_setfsuid.into(), not_root()?);
        rules.insert(libc::SYS_setfsgid.into(), not_root()?);
        prctls.extend([
            libc::PR_CAPBSET_READ as u64,
            libc::PR_CAPBSET_DROP as u64,
            libc::PR_CAP_AMBIENT as u64,
            // Set already; installing a filter sets it again.
            libc::PR_SET_NO_NEW_PRIVS as u64,
        ]);
    }
    rules.insert(libc::SYS_prctl.into(), one_of(0, &prctls)?);
    let reads = !allow.read_dirs.is_empty();
    let changes = !allow.write_dirs.is_empty();
    if reads || changes {
        for &call in READ_FILES.iter().chain(READ_FILES_LEGACY) {
            rules.insert(call.into(), Vec::new());
        }
    }
    if changes {
        for &call in CHANGE_FILES.iter().chain(CHANGE_FILES_LEGACY) {
            rules.insert(call.into(), Vec::new());
        }
        rules.insert(libc::SYS_openat.into(), Vec::new());
        #[cfg(target_arch = "x86_64")]
        rules.insert(libc::SYS_open.into(), Vec::new());
    } else if reads {
        // Read-only opens: no access mode but O_RDONLY, no creating, no
        // truncating (Landlock says where; this says how).
        let write_flags = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC) as u64;
        let read_only = |arg| -> Result<Vec<SeccompRule>, BackendError> {
            Ok(vec![SeccompRule::new(vec![when(
                arg,
                Op::MaskedEq(write_flags),
                libc::O_RDONLY as u64,
            )?])?])
        };
        rules.insert(libc::SYS_openat.into(), read_only(2)?);
        #[cfg(target_arch = "x86_64")]
        rules.insert(libc::SYS_open.into(), read_only(1)?);
    }
    // Non-blocking and close-on-exec switches; TCGETS answers "is this a
    // terminal" (no, for every descriptor it holds). No other ioctl: not
    // TIOCSTI on an inherited terminal, nothing on devices.
    rules.insert(
        libc::SYS_ioctl.into(),
        one_of(
            1,
            &[
                libc::FIONBIO as u64,
                libc::FIOCLEX as u64,
                libc::FIONCLEX as u64,
                libc::TCGETS as u64,
            ],
        )?,
    );
    // Signals to its own threads only (abort, thread wake-ups); no kill().
    rules.insert(libc::SYS_tgkill.into(), one_of(0, &[u64::from(pid)])?);
    // A connected pair of UNIX stream sockets reaches nothing outside the
    // process (tokio's signal driver makes one when the runtime starts).
    // Not datagram: sendto() with an address would reach any socket path
    // (/dev/log, a journal) from such a socket.
    let stream = || when(1, Op::MaskedEq(0xf), libc::SOCK_STREAM as u64);
    rules.insert(
        libc::SYS_socketpair.into(),
        vec![SeccompRule::new(vec![
            when(0, Op::Eq, libc::AF_UNIX as u64)?,
            stream()?,
        ])?],
    );
    // Reading its own resource limits (thread stacks), never setting any.
    rules.insert(
        libc::SYS_prlimit64.into(),
        vec![SeccompRule::new(vec![
            when64(0, Op::Eq, 0)?,
            when64(2, Op::Eq, 0)?,
        ])?],
    );
    if allow.outbound_tcp {
        // The relay's TCP to other hosts' gateways: stream sockets of the
        // two IP families (the type may carry SOCK_NONBLOCK and SOCK_CLOEXEC).
        rules.insert(
            libc::SYS_socket.into(),
            vec![
                SeccompRule::new(vec![when(0, Op::Eq, libc::AF_INET as u64)?, stream()?])?,
                SeccompRule::new(vec![when(0, Op::Eq, libc::AF_INET6 as u64)?, stream()?])?,
            ],
        );
        rules.insert(libc::SYS_connect.into(), Vec::new());
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        TargetArch::try_from(arch)?,
    )?;
    BpfProgram::try_from(filter)
}

/// A condition on the low 32 bits of argument `arg` (an int or flags).
fn when(arg: u8, op: Op, value: u64) -> Result<SeccompCondition, BackendError> {
    SeccompCondition::new(arg, Len::Dword, op, value)
}

/// A condition on all 64 bits of argument `arg` (a pointer or pid).
fn when64(arg: u8, op: Op, value: u64) -> Result<SeccompCondition, BackendError> {
    SeccompCondition::new(arg, Len::Qword, op, value)
}

/// Rules allowing the call when argument `arg` is one of `values`.
fn one_of(arg: u8, values: &[u64]) -> Result<Vec<SeccompRule>, BackendError> {
    values
        .iter()
        .map(|&value| SeccompRule::new(vec![when(arg, Op::Eq, value)?]))
        .collect()
}

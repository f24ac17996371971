//! Starting children: re-executing our own binary with a role and the
//! descriptors it needs at fixed numbers, with a clean environment.

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use command_fds::{CommandFdExt, FdMapping};
use mailkeep_storage_rpc::quiet_stream::QuietStream;

use crate::MasterError;
use crate::child_output::{OutputPipe, relay};

/// What to start.
pub struct ChildSpec {
    /// The role name (`imap`, `auth`, `storage`).
    pub role: &'static str,
    /// Arguments after `role <name>`.
    pub args: Vec<String>,
    /// Descriptors to pass, with the number each gets in the child.
    pub fds: Vec<(OwnedFd, RawFd)>,
}

/// Our own executable, resolved once at start so that children run the
/// same binary even if the file is replaced meanwhile.
pub fn own_executable() -> Result<PathBuf, MasterError> {
    std::env::current_exe().map_err(|e| MasterError::io("finding our own executable", e))
}

/// Starts a child. Its environment is cleared except for logging settings
/// and glibc's allocator settings (see [`MALLOC_TUNABLES`] and
/// [`malloc_tunables`]);
/// it gets exactly the descriptors in `spec`, stdin from /dev/null, and
/// stdout and stderr on a pipe of its own whose lines the master copies to
/// its own stderr (see `child_output`).
pub fn spawn(exe: &Path, spec: ChildSpec) -> Result<tokio::process::Child, MasterError> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("role").arg(spec.role).args(&spec.args);
    cmd.env_clear();
    for var in ["RUST_LOG", "RUST_BACKTRACE", "MAILKEEP_LOG_FORMAT"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    // The malloc arenas (see [`malloc_arenas`]); the master's own setting,
    // or glibc's tunables, when it has them (to measure the allocator's
    // settings without a rebuild).
    cmd.env(
        "MALLOC_ARENA_MAX",
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| malloc_arenas(spec.role).to_string()),
    );
    let tunables = std::env::var("GLIBC_TUNABLES")
        .ok()
        .and_then(|t| malloc_tunables(&t))
        .unwrap_or_else(|| default_malloc_tunables(spec.role));
    cmd.env("GLIBC_TUNABLES", tunables);
    cmd.stdin(std::process::Stdio::null());
    let output = OutputPipe::new()?;
    cmd.stdout(output.stdout).stderr(output.stderr);
    let mappings = spec
        .fds
        .into_iter()
        .map(|(parent_fd, child_fd)| FdMapping {
            parent_fd,
            child_fd,
        })
        .collect();
    cmd.fd_mappings(mappings)
        .map_err(|e| MasterError::Setup(format!("passing descriptors to {}: {e}", spec.role)))?;
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    let child = cmd
        .spawn()
        .map_err(|e| MasterError::io(format!("starting the {} process", spec.role), e))?;
    // The command held our copies of the write end; they are gone with it,
    // so the relay sees EOF when the child exits.
    drop(cmd);
    tokio::spawn(relay(output.read, spec.role));
    Ok(child)
}

/// glibc malloc arenas of a storage process: its async thread's (the main
/// arena) and one for each thread of its blocking pool (64 threads, see
/// `STORAGE_BLOCKING_THREADS` in the mailkeep crate, which checks that
/// this is more), and a few for its other threads. With fewer, glibc
/// gives the blocking threads beyond the limit arenas in turn, the main
/// one among them, and the SQLite caches and statements that store work
/// allocates and frees then lie between the async thread's long-lived
/// allocations (each watched mailbox's stream state), whose pages they
/// keep: with two arenas, 5,000 owners in IDLE kept about 3 KB more per
/// connection. An arena that no thread uses costs nothing; a blocking
/// thread's, once its owner's connections are closed, is given back by
/// `malloc_trim`.
pub const STORAGE_MALLOC_ARENAS: usize = 72;

/// Two malloc arenas instead of glibc's eight per core for every other
/// process: their threads are few (auth's hashing threads; the protocol
/// processes have one), and memory freed in one thread's arena is
/// otherwise kept there, idle.
const MALLOC_ARENAS: usize = 2;

/// The malloc arenas a child of `role` may have.
fn malloc_arenas(role: &str) -> usize {
    if role == "storage" {
        STORAGE_MALLOC_ARENAS
    } else {
        MALLOC_ARENAS
    }
}

/// A connected pair of UNIX stream sockets: one end for us (woken for
/// reading only, see `QuietStream`), one to pass on.
pub fn socket_pair() -> Result<(QuietStream, OwnedFd), MasterError> {
    let (ours, theirs) =
        QuietStream::with_peer().map_err(|e| MasterError::io("creating a socket pair", e))?;
    Ok((ours, OwnedFd::from(theirs)))
}

/// A connected pair of UNIX stream sockets that the master passes on
/// whole (one end to a child, the other to a protocol process): neither is
/// registered with the runtime, which would cost two `epoll_ctl` calls for
/// an end the master never reads. The first end is non-blocking, as
/// [`socket_pair`]'s own end is; the second is as it comes.
pub fn passed_pair() -> Result<(OwnedFd, OwnedFd), MasterError> {
    let (first, second) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| MasterError::io("creating a socket pair", e))?;
    first
        .set_nonblocking(true)
        .map_err(|e| MasterError::io("making a socket non-blocking", e))?;
    Ok((OwnedFd::from(first), OwnedFd::from(second)))
}

/// The allocator settings a child gets unless the master's own
/// `GLIBC_TUNABLES` has some: free memory at the top of the heap is
/// returned to the system only past 2 MiB (glibc's default is 128 KiB),
/// and only blocks of 1 MiB or more get mappings of their own (fixed:
/// setting one turns glibc's adjusting of both off). Moving mail makes
/// short-lived buffers of a batch's size (64 KiB and more: the HTTP/2
/// frame, the gRPC message, the decoded items) many times a second;
/// with the defaults each batch's memory was given back as soon as it was
/// freed and the next one faulted fresh pages in: about 55-100 page faults
/// and 5 `brk` calls per POP3 poller session in pop3 and 10-57 faults in
/// storage, none with these (`perf stat` of each process while pollers
/// ran), and storage used about a tenth less CPU per session. What is
/// kept is bounded by the threshold, and a storage process trims its heap
/// whenever it releases idle owners.
const MALLOC_TUNABLES: &str =
    "glibc.malloc.trim_threshold=2097152:glibc.malloc.mmap_threshold=1048576";

/// What a storage process adds to [`MALLOC_TUNABLES`]: no per-thread
/// cache of freed blocks (tcache). A freed block goes back to the arena
/// it came from, whichever thread frees it; through the cache, the async
/// thread reused blocks of the blocking threads' arenas (the results of
/// store work it had freed) for what it keeps for long (each owner's
/// store handle, mailbox names, stream state), so that a few such blocks
/// held most pages of every blocking thread's arena once the SQLite
/// caches around them were freed: with 5,000 owners in IDLE, 60 MB of
/// 64 arenas in which about 12 MB was in use, and 6 MB without the cache
/// (`idle_connections`: storage +11.7 KB per connection before, +7.1 KB
/// after).
const STORAGE_MALLOC_TUNABLES: &str = "glibc.malloc.tcache_count=0";

/// The allocator settings a child of `role` gets when the master's own
/// environment names none.
fn default_malloc_tunables(role: &str) -> String {
    if role == "storage" {
        format!("{MALLOC_TUNABLES}:{STORAGE_MALLOC_TUNABLES}")
    } else {
        MALLOC_TUNABLES.to_owned()
    }
}

/// The allocator's entries of a `GLIBC_TUNABLES` value (`glibc.malloc.*`),
/// the only ones a child gets: the others reach into the loader, CPU
/// features and lock elision, none of which is the master's to hand on.
fn malloc_tunables(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(':')
        .filter(|t| t.starts_with("glibc.malloc."))
        .collect();
    (!kept.is_empty()).then(|| kept.join(":"))
}

#[cfg(test)]
mod tests {
    use super::{STORAGE_MALLOC_ARENAS, default_malloc_tunables, malloc_arenas, malloc_tunables};

    #[test]
    fn a_storage_process_gets_no_thread_cache_of_freed_blocks_others_do() {
        assert!(default_malloc_tunables("storage").ends_with(":glibc.malloc.tcache_count=0"));
        assert!(default_malloc_tunables("storage").starts_with("glibc.malloc.trim_threshold="));
        assert!(!default_malloc_tunables("imap").contains("tcache"));
    }

    #[test]
    fn a_storage_process_gets_an_arena_per_blocking_thread_others_two() {
        assert_eq!(malloc_arenas("storage"), STORAGE_MALLOC_ARENAS);
        assert_eq!(malloc_arenas("imap"), 2);
        assert_eq!(malloc_arenas("auth"), 2);
    }

    #[test]
    fn a_child_gets_the_allocators_tunables_only() {
        assert_eq!(
            malloc_tunables(
                "glibc.malloc.mxfast=0:glibc.cpu.hwcaps=-AVX2:glibc.malloc.tcache_count=0"
            )
            .as_deref(),
            Some("glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0")
        );
        assert_eq!(malloc_tunables("glibc.rtld.nns=8"), None);
        assert_eq!(malloc_tunables(""), None);
    }
}

//! Running one system call inside a running process, as an attacker who
//! took over its code would: the test (root) attaches with ptrace to a
//! thread that sits in a system call, points it back at that `syscall`
//! instruction with other arguments, single-steps it, reads the result and
//! puts everything back as it was. The call runs under the process's own
//! credentials, seccomp filter and Landlock domain. x86_64 only.

use std::net::SocketAddrV4;

use nix::sys::ptrace;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The two bytes of x86_64's `syscall` instruction, as read little-endian.
const SYSCALL_INSN: u64 = 0x050f;

/// Runs system call `nr` with `args` in a thread of `pid` and returns its
/// raw result (a negative errno on failure). Panics if no thread of the
/// process is stopped in a system call.
pub fn syscall_in(pid: i32, nr: i64, args: [u64; 3]) -> i64 {
    syscall_in_with(pid, nr, &[], |_| args)
}

/// How often a process is looked at for a thread asleep in a system call
/// before giving up.
const TRIES: usize = 1000;

/// Like [`syscall_in`], with `data` (a multiple of 8 bytes long) written
/// below the chosen thread's stack pointer first, in the same stop, so
/// that the thread cannot overwrite it before the call reads it; `args`
/// gets the data's address.
///
/// Only a thread asleep (state `S`) is tried: an interrupt ends the
/// call a thread sleeps in, and a process on one thread (imap, pop3) just
/// interrupted by the call before is still on its way back into
/// `epoll_wait`, in user space, where no call can be run again.
fn syscall_in_with(pid: i32, nr: i64, data: &[u8], args: impl Fn(u64) -> [u64; 3]) -> i64 {
    for _ in 0..TRIES {
        let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("listing the threads")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort();
        if let Some(result) = tids
            .into_iter()
            .filter(|&tid| asleep(pid, tid))
            .find_map(|tid| syscall_with_data(tid, nr, data, &args))
        {
            return result;
        }
        // A bounded retry, not a wait for an event: the thread goes back
        // to sleep on its own.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("no thread of {pid} is stopped in a system call")
}

/// Whether thread `tid` of `pid` sleeps (in a system call, for a thread of
/// ours that is not running).
fn asleep(pid: i32, tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which ends with the last ')'.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
    })
}

/// Runs system call `nr` with `args` in thread `tid` of `pid` once it is
/// asleep in a system call and returns its raw result (a negative errno
/// on failure). Looked at again, a millisecond apart ([`TRIES`] times at
/// most), while it is not: after a call was run in it, a thread needs a
/// turn on a CPU to go back into the call it was interrupted in, which a
/// loaded machine may not give it at once (immediate retries all found
/// it still on its way back). Panics if it never is.
pub fn syscall_in_sleeping_thread(pid: i32, tid: i32, nr: i64, args: [u64; 3]) -> i64 {
    for _ in 0..TRIES {
        if asleep(pid, tid)
            && let Some(result) = syscall_in_thread(tid, nr, args)
        {
            return result;
        }
        // A bounded retry, not a wait for an event: the thread goes back
        // to sleep on its own.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("thread {tid} of {pid} was never asleep in a system call")
}

/// Runs system call `nr` with `args` in thread `tid` and returns its raw
/// result (a negative errno on failure); `None` if the thread could not
/// be attached or was not stopped in a system call (nothing was run).
fn syscall_in_thread(tid: i32, nr: i64, args: [u64; 3]) -> Option<i64> {
    syscall_with_data(tid, nr, &[], &|_| args)
}

/// [`syscall_in_thread`] with `data` written 4 KiB below the stopped
/// thread's stack pointer (beyond the red zone, unused while it is
/// stopped) and its address passed to `args`.
fn syscall_with_data(
    tid: i32,
    nr: i64,
    data: &[u8],
    args: &dyn Fn(u64) -> [u64; 3],
) -> Option<i64> {
    let t = Pid::from_raw(tid);
    ptrace::seize(t, ptrace::Options::empty()).ok()?;
    ptrace::interrupt(t).expect("PTRACE_INTERRUPT");
    wait_stop(t);
    let saved = ptrace::getregs(t).expect("PTRACE_GETREGS");
    let at = saved.rip.wrapping_sub(2);
    let insn = ptrace::read(t, at as ptrace::AddressType).map(|w| w as u64 & 0xffff);
    // Stopped right after a `syscall` instruction, inside a call
    // (orig_rax is its number): that instruction can be run again.
    if insn.ok() != Some(SYSCALL_INSN) || (saved.orig_rax as i64) < 0 {
        ptrace::detach(t, None).expect("PTRACE_DETACH");
        return None;
    }
    let scratch = (saved.rsp - 4096) & !15;
    poke(t, scratch, data);
    let args = args(scratch);
    let mut regs = saved;
    regs.rip = at;
    regs.rax = nr as u64;
    // No system call to restart: the kernel leaves rip and rax alone.
    regs.orig_rax = u64::MAX;
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    ptrace::setregs(t, regs).expect("PTRACE_SETREGS");
    ptrace::step(t, None).expect("PTRACE_SINGLESTEP");
    wait_stop(t);
    let result = ptrace::getregs(t).expect("PTRACE_GETREGS").rax as i64;
    // Back as it was: the interrupted call restarts on detach.
    ptrace::setregs(t, saved).expect("restoring the registers");
    ptrace::detach(t, None).expect("PTRACE_DETACH");
    Some(result)
}

/// Runs `connect(fd, to)` in `pid`, the address written below its main
/// thread's stack pointer; returns the raw result.
pub fn connect_in(pid: i32, fd: i64, to: SocketAddrV4) -> i64 {
    let mut sockaddr = [0u8; 16];
    sockaddr[..2].copy_from_slice(&(nix::libc::AF_INET as u16).to_ne_bytes());
    sockaddr[2..4].copy_from_slice(&to.port().to_be_bytes());
    sockaddr[4..8].copy_from_slice(&to.ip().octets());
    syscall_in_with(pid, nix::libc::SYS_connect, &sockaddr, |at| {
        [fd as u64, at, 16]
    })
}

/// Runs `socket(AF_INET, SOCK_STREAM, 0)` in `pid`; returns the raw
/// result (a descriptor, or a negative errno).
pub fn tcp_socket_in(pid: i32) -> i64 {
    let (inet, stream) = (nix::libc::AF_INET as u64, nix::libc::SOCK_STREAM as u64);
    syscall_in(pid, nix::libc::SYS_socket, [inet, stream, 0])
}

/// Runs `openat(AT_FDCWD, path, flags)` in `pid`, the path written below
/// its main thread's stack pointer; returns the raw result (a descriptor,
/// closed again at once, or a negative errno).
pub fn open_in(pid: i32, path: &str, flags: i32) -> i64 {
    let mut bytes = path.as_bytes().to_vec();
    bytes.resize(bytes.len() + 8 - bytes.len() % 8, 0);
    assert!(bytes.len() < 2048, "path too long for the scratch space");
    let at_fdcwd = nix::libc::AT_FDCWD as i64 as u64;
    let fd = syscall_in_with(pid, nix::libc::SYS_openat, &bytes, |at| {
        [at_fdcwd, at, flags as u64]
    });
    if fd >= 0 {
        syscall_in(pid, nix::libc::SYS_close, [fd as u64, 0, 0]);
    }
    fd
}

/// Writes `bytes` (a multiple of 8 long) at `addr` in the memory of
/// thread `t`, which is stopped under ptrace.
fn poke(t: Pid, addr: u64, bytes: &[u8]) {
    for (i, word) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..word.len()].copy_from_slice(word);
        ptrace::write(
            t,
            (addr + 8 * i as u64) as ptrace::AddressType,
            i64::from_le_bytes(w),
        )
        .expect("PTRACE_POKEDATA");
    }
}

fn wait_stop(t: Pid) {
    match waitpid(t, Some(WaitPidFlag::__WALL)) {
        Ok(WaitStatus::PtraceEvent(..) | WaitStatus::Stopped(..)) => {}
        other => panic!("waiting for thread {t} to stop: {other:?}"),
    }
}

//! File-descriptor plumbing: adopting descriptors inherited from the master,
//! receiving descriptors passed with SCM_RIGHTS, registering an owned
//! descriptor with the runtime for the readiness it needs; and handing
//! freed heap memory back to the system.
//!
//! This is mailkeep's one module with `unsafe` code: each block turns a raw
//! descriptor number into an owned one, registers one whose owner promises
//! to keep it, or calls libc where no safe wrapper exists, and says why
//! that is sound.

use std::io::{self, IoSliceMut};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

/// Takes ownership of a descriptor that the master passed to this process
/// at a fixed number (see `--fd-*` arguments of the roles).
///
/// Fails if `fd` is not open, so a mistyped number is an error, not a
/// silent double-close later.
pub fn adopt_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    // F_GETFD succeeds only on an open descriptor.
    nix::fcntl::fcntl(unsafe_borrow(fd)?, nix::fcntl::FcntlArg::F_GETFD)
        .map_err(io::Error::from)?;
    // SAFETY: the descriptor is open (checked above) and was inherited across
    // exec for this process's sole use: the master passes each number once
    // and nothing else in this process refers to it, so taking ownership
    // here cannot alias another owner.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(io::Error::from)?;
    Ok(owned)
}

fn unsafe_borrow(fd: RawFd) -> io::Result<std::os::fd::BorrowedFd<'static>> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc_ebadf()));
    }
    // SAFETY: the borrow is used only for the one fcntl(F_GETFD) probe in
    // `adopt_inherited`, which is harmless even on a closed number (it then
    // fails with EBADF); it never outlives that call.
    Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

fn libc_ebadf() -> i32 {
    nix::errno::Errno::EBADF as i32
}

/// Marks every descriptor from 3 up close-on-exec, so that whatever this
/// process inherited from the program that started it (a shell's open
/// files, a service manager's sockets) reaches none of the programs it
/// starts: a child gets exactly the descriptors passed to it at fixed
/// numbers (mapping one there clears the flag on that copy alone). Nothing
/// is closed: this process keeps what it inherited (e.g. sockets passed by
/// systemd, adopted later). Call it before any child starts.
pub fn close_inherited_on_exec() -> io::Result<()> {
    const FIRST: libc::c_uint = 3;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC closes nothing and takes
    // no pointers: it only sets the close-on-exec flag of open descriptors,
    // which no owner in this process relies on being clear.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            FIRST,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if done == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one descriptor at a time, as /proc lists them.
    let numbers: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &RawFd| fd >= FIRST as RawFd)
        .collect();
    for fd in numbers {
        // SAFETY: the borrow lives for this one fcntl call; on a number
        // that closed meanwhile (the directory's own descriptor) the call
        // fails with EBADF, which is ignored.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = nix::fcntl::fcntl(
            borrowed,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
    Ok(())
}

/// Receives bytes and any descriptors sent with them (SCM_RIGHTS) on a
/// UNIX socket, without blocking. Returns the byte count and the
/// descriptors, now owned by the caller.
pub fn recv_with_fds(
    socket: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&socket),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel just installed this descriptor in our
                // table for this message (SCM_RIGHTS); nothing else in the
                // process knows its number, so we are its only owner.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}

/// Makes the TCP socket `socket` acknowledge what it received now rather
/// than when its delayed-ACK timer fires (up to 40 ms on Linux):
/// `TCP_QUICKACK` set to 2, so that when an ACK was due it goes out and
/// the socket goes back to delaying later ones; when none was due the
/// socket only acknowledges its next data sooner, until its next
/// exchange makes it interactive again. For a server waiting for
/// the rest of a command: a client with Nagle's algorithm on (the
/// default; Python's imaplib among them) holds the rest of its command
/// line after a literal until the literal is acknowledged.
pub fn acknowledge_now(socket: RawFd) -> io::Result<()> {
    let value: libc::c_int = 2;
    // SAFETY: setsockopt only reads the int it is pointed at, which lives
    // across the call, for the length given; it changes nothing but the
    // socket's acknowledgement timing, and on a number that is no TCP
    // socket (or not open) it fails without effect.
    let done = unsafe {
        libc::setsockopt(
            socket,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_ref(&value).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4),
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Hands the heap's free pages back to the system (glibc's `malloc_trim`).
/// A storage process that just closed the index connections of many idle
/// owners calls it: the freed page caches and statements lie scattered
/// between live allocations, and glibc keeps such memory otherwise.
/// Returns whether any memory was released.
pub fn return_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's
    // own free lists under its locks; it is safe to call from any thread at
    // any time.
    unsafe { libc::malloc_trim(0) != 0 }
}

/// Registers `io`, which owns its descriptor, with the current tokio
/// runtime for `interest` alone: what tokio's `AsyncFd::new` did, which it
/// deprecated as unsound for values that may change their descriptor.
/// Must be called inside a tokio runtime.
pub fn register_with_interest<T: OwnsOneFd>(
    io: T,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<T>> {
    // SAFETY: `OwnsOneFd` is an unsafe trait whose implementors promise
    // to own one descriptor from creation to drop and never to hand out
    // another number from `as_raw_fd`, which is all tokio asks: the
    // descriptor stays open and the same while the `AsyncFd` holds it.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(io, interest) }
        .map_err(io::Error::from)
}

/// Types that own one descriptor for their whole life, the same number
/// from creation to drop: what [`register_with_interest`] needs to be
/// sound.
///
/// # Safety
///
/// An implementor's `as_raw_fd` must return, for the value's whole life,
/// one open descriptor that the value owns and closes only when dropped.
pub unsafe trait OwnsOneFd: std::os::fd::AsRawFd {}

// SAFETY: an `OwnedFd` is exactly one owned descriptor, closed on drop.
unsafe impl OwnsOneFd for OwnedFd {}

// SAFETY: a std `UnixStream` wraps exactly one owned descriptor, which it
// never replaces and closes on drop.
unsafe impl OwnsOneFd for std::os::unix::net::UnixStream {}

#[cfg(test)]
#[path = "fd_tests.rs"]
mod tests;

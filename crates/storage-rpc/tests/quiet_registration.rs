//! The registration [`QuietStream`] exists for, read from the kernel's
//! own account of this process's epoll instances. Alone in its test
//! binary: tests running beside it would register descriptors of the same
//! numbers in runtimes of their own.

use std::os::fd::AsRawFd;

use mailkeep_storage_rpc::quiet_stream::QuietStream;

const EPOLLIN: u32 = 0x001;
const EPOLLOUT: u32 = 0x004;

/// The epoll event masks registered for descriptor `fd` in this process's
/// epoll instances (from `/proc/self/fdinfo`).
fn registered_masks(fd: i32) -> Vec<u32> {
    let mut masks = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let is_epoll = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().contains("eventpoll"));
        if !is_epoll {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        for line in info.lines() {
            // "tfd:       12 events:     2019 data: ..."
            let mut words = line.split_whitespace();
            if words.next() == Some("tfd:")
                && words.next().and_then(|n| n.parse::<i32>().ok()) == Some(fd)
                && words.next() == Some("events:")
                && let Some(mask) = words.next().and_then(|m| u32::from_str_radix(m, 16).ok())
            {
                masks.push(mask);
            }
        }
    }
    masks
}

/// What the type is for: the socket is registered for reading only (no
/// `EPOLLOUT`, so the peer's reads do not wake this process), where a
/// tokio `UnixStream` is registered for both.
#[tokio::test]
async fn the_socket_is_registered_for_reading_only() {
    let (a, _b) = QuietStream::pair().unwrap();
    // The runtime's epoll instance may be open under two descriptors
    // (mio's registry is a duplicate): each lists it.
    let masks = registered_masks(a.as_raw_fd());
    assert!(!masks.is_empty(), "not registered");
    assert!(
        masks.iter().all(|m| m & (EPOLLIN | EPOLLOUT) == EPOLLIN),
        "{masks:x?}"
    );
    let (plain, _other) = tokio::net::UnixStream::pair().unwrap();
    let masks = registered_masks(plain.as_raw_fd());
    assert!(!masks.is_empty(), "not registered");
    assert!(
        masks.iter().all(|m| m & EPOLLOUT == EPOLLOUT),
        "tokio's own: {masks:x?}"
    );
}

//! auth and the storage processes run under the seccomp allowlist and
//! Landlock like the protocol processes (issue 10), each with only what it
//! needs: auth reads files beneath its users file's directory and can open
//! nothing for writing nor make a socket; a storage process touches files
//! beneath the homes it serves only (a file of its own uid elsewhere is
//! refused by Landlock, where the uid alone would let it through) and
//! makes no socket. Each call is run inside the running process, as an
//! attacker who took it over would.

use std::os::unix::fs::{PermissionsExt, chown};

use crate::harness::inject::{open_in, tcp_socket_in};
use crate::harness::{ProcInfo, Server, TestDir, children_of, require_root};

const EPERM: i64 = -(nix::libc::EPERM as i64);
const EACCES: i64 = -(nix::libc::EACCES as i64);

fn seccomp_mode(p: &ProcInfo) -> String {
    p.status()
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn auth_reads_its_users_file_and_can_write_nothing_nor_make_a_socket() {
    if !require_root("auth_reads_its_users_file_and_can_write_nothing_nor_make_a_socket") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    // auth has read the users file since its last change.
    server.login("alice", "a-secret").logout();
    let auth = children_of(server.pid())
        .into_iter()
        .find(|p| p.role() == Some("auth"))
        .expect("the auth process");
    assert_eq!(seccomp_mode(&auth), "2", "auth runs under seccomp");
    // Chrooted to the users file's directory: the file is `/users`.
    assert!(
        open_in(auth.pid, "/users", nix::libc::O_RDONLY) >= 0,
        "auth cannot read its users file"
    );
    assert_eq!(
        open_in(auth.pid, "/users", nix::libc::O_WRONLY),
        EPERM,
        "opening the users file for writing"
    );
    assert_eq!(
        open_in(auth.pid, "/new", nix::libc::O_WRONLY | nix::libc::O_CREAT),
        EPERM,
        "creating a file"
    );
    assert_eq!(tcp_socket_in(auth.pid), EPERM, "socket() in auth");
    // Still answering.
    server.login("alice", "a-secret").logout();
}

#[test]
fn storage_process_touches_no_file_outside_the_homes_it_serves() {
    if !require_root("storage_process_touches_no_file_outside_the_homes_it_serves") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nmode = \"per-uid\"\n");
    server.add_user("alice", "a-secret");
    let mut a = server.login("alice", "a-secret");
    let r = a
        .append("INBOX", &[], b"Subject: hi\r\n\r\nhi\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    a.ok("SELECT INBOX");
    let storage = server.role_procs("storage", None);
    assert_eq!(storage.len(), 1, "one storage process");
    let pid = storage[0].pid;
    assert_eq!(seccomp_mode(&storage[0]), "2", "storage runs under seccomp");

    // A file of the storage process's own uid, outside every home: the
    // uid lets it through, Landlock does not.
    let outside = dir.path().join("outside");
    std::fs::write(&outside, b"not mail").expect("writing the file");
    chown(&outside, Some(5000), Some(5000)).expect("chown");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let outside = outside.display().to_string();
    assert_eq!(
        open_in(pid, &outside, nix::libc::O_RDONLY),
        EACCES,
        "reading a file of its uid outside the homes"
    );
    let beside = dir.path().join("made-by-storage").display().to_string();
    assert_eq!(
        open_in(pid, &beside, nix::libc::O_WRONLY | nix::libc::O_CREAT),
        EACCES,
        "making a file outside the homes"
    );
    // Alice's mail, beneath her home, it reads.
    let cur = dir.maildir("alice").join("cur");
    let message = std::fs::read_dir(&cur)
        .expect("cur/")
        .filter_map(Result::ok)
        .next()
        .expect("alice's message")
        .path();
    assert!(
        open_in(pid, &message.display().to_string(), nix::libc::O_RDONLY) >= 0,
        "the storage process cannot read its owner's mail"
    );
    assert_eq!(tcp_socket_in(pid), EPERM, "socket() in storage");
    a.ok("NOOP");
    a.logout();
}

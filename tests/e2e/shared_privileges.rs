//! Shared mode's storage process has neither root's uid (see
//! `shared_mode_privileges.rs`) nor its power (issue 10): its bounding
//! set holds only CAP_SETUID and CAP_SETGID, the one thread that keeps
//! them starts the per-uid workers and does nothing else, every other thread (the one that decodes gRPC requests, the
//! runtime's, the workers once they took their owner's credentials) holds
//! no capability at all, and a `setuid` run inside the decoding thread, as
//! an attacker who took it over would, fails with EPERM, as does a
//! `setfsuid(0)` in a worker. Landlock keeps root's files outside the
//! homes out of reach.

use std::fs;

use crate::harness::inject::{open_in, syscall_in_sleeping_thread};
use crate::harness::{SPAWNER, SWITCH_CAPS, Task, TestDir, require_root, status_numbers, tasks};
use crate::modes::shared_server_with_two_uids;

#[test]
fn shared_storage_threads_hold_no_capability_but_the_spawner() {
    if !require_root("shared_storage_threads_hold_no_capability_but_the_spawner") {
        return;
    }
    let dir = TestDir::new();
    let (server, mut a, mut e) = shared_server_with_two_uids(&dir);

    let storage = server.role_procs("storage", None);
    assert_eq!(storage.len(), 1, "one shared storage process");
    let pid = storage[0].pid;
    let all = tasks(pid);
    let spawners: Vec<&Task> = all.iter().filter(|t| t.name == SPAWNER).collect();
    assert_eq!(spawners.len(), 1, "one spawner thread: {all:#?}");
    assert_eq!(spawners[0].caps("CapEff:"), SWITCH_CAPS, "the spawner");
    assert_eq!(spawners[0].caps("CapPrm:"), SWITCH_CAPS, "the spawner");
    for task in &all {
        assert_eq!(
            task.caps("CapBnd:"),
            SWITCH_CAPS,
            "bounding set of {} ({})",
            task.name,
            task.tid
        );
        if task.name == SPAWNER {
            continue;
        }
        for field in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
            assert_eq!(
                task.caps(field),
                0,
                "{field} of {} ({})",
                task.name,
                task.tid
            );
        }
    }
    for (uid, user) in [(5000, "alice"), (5001, "erin")] {
        let workers: Vec<&Task> = all
            .iter()
            .filter(|t| t.name.starts_with(&format!("uid-{uid}-")))
            .collect();
        assert!(!workers.is_empty(), "no worker for {user}: {all:#?}");
        for w in workers {
            assert_eq!(w.ids("Uid:")[3], uid, "{} works as {user}", w.name);
        }
    }

    // The main thread decodes the requests: taken over, it cannot become
    // another user (caught asleep in a system call: it waits in epoll
    // nearly all the time).
    let main = all.iter().find(|t| t.tid == pid).expect("the main thread");
    assert_eq!(main.caps("CapEff:"), 0);
    let setuid = syscall_in_sleeping_thread(pid, pid, nix::libc::SYS_setuid, [5001, 0, 0]);
    assert_eq!(
        setuid,
        -i64::from(nix::libc::EPERM),
        "setuid(5001) in the decoding thread"
    );
    // Not root (`shared_mode_privileges.rs` has the rest); Landlock keeps
    // files outside the homes out of reach too: neither a world-readable
    // file nor a new file in a root-owned directory outside the homes.
    let eacces = -i64::from(nix::libc::EACCES);
    assert_eq!(open_in(pid, "/etc/passwd", nix::libc::O_RDONLY), eacces);
    let planted = dir.path().join("planted").display().to_string();
    let create = nix::libc::O_WRONLY | nix::libc::O_CREAT;
    assert_eq!(open_in(pid, &planted, create), eacces, "creating {planted}");

    // A worker, taken over (a bug in mail parsing), cannot go back to
    // root's file-system uid.
    let worker = all
        .iter()
        .find(|t| t.name.starts_with("uid-5001-"))
        .expect("a worker of erin's");
    let setfsuid = syscall_in_sleeping_thread(pid, worker.tid, nix::libc::SYS_setfsuid, [0, 0, 0]);
    assert_eq!(
        setfsuid,
        -i64::from(nix::libc::EPERM),
        "setfsuid(0) in a worker"
    );
    let status = fs::read_to_string(format!("/proc/{pid}/task/{}/status", worker.tid))
        .expect("the worker's status");
    assert_eq!(
        status_numbers(&status, "Uid:")[3],
        5001,
        "the worker's fsuid"
    );

    // Still serving both.
    a.ok("NOOP");
    e.ok("NOOP");
    a.logout();
    e.logout();
}

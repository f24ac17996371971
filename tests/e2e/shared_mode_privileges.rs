//! Shared mode's storage process is not root (issue 10): started as root,
//! it runs as `[storage] shared_uid`/`shared_gid` (64992 by default: its
//! own, no system account, owning no file) in every thread, real,
//! effective and saved; CAP_SETUID and CAP_SETGID are all any thread may
//! hold (the spawner), the decoding thread holds none, and still each
//! owner's work runs with that owner's file-system uid. So root's files
//! beneath the homes' directories, which uid 0 owned, are out of reach,
//! and not even the spawner, with its two capabilities, can take a
//! file-system uid or gid of 0, set its groups, or change its uid
//! (seccomp).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::harness::inject::{open_in, syscall_in_sleeping_thread};
use crate::harness::{SPAWNER, SWITCH_CAPS, Task, TestDir, require_root, status_numbers, tasks};
use crate::modes::shared_server_with_two_uids;

/// The default `[storage] shared_uid` and `shared_gid`.
const SHARED_ID: u32 = 64_992;

#[test]
fn shared_storage_runs_as_its_own_uid_with_no_root_thread() {
    if !require_root("shared_storage_runs_as_its_own_uid_with_no_root_thread") {
        return;
    }
    let dir = TestDir::new();
    let (server, mut a, mut e) = shared_server_with_two_uids(&dir);
    let storage = server.role_procs("storage", None);
    assert_eq!(storage.len(), 1, "one shared storage process");
    let pid = storage[0].pid;

    // The process: its own uid and gid, all four, and its gid alone.
    let status = storage[0].status();
    assert_eq!(status_numbers(&status, "Uid:"), vec![SHARED_ID; 4]);
    assert_eq!(status_numbers(&status, "Gid:"), vec![SHARED_ID; 4]);
    assert_eq!(status_numbers(&status, "Groups:"), vec![SHARED_ID]);

    // Every thread: not root in any of its ids, at most the two
    // capabilities; the workers work as their owners.
    let all = tasks(pid);
    for task in &all {
        let (uids, gids) = (task.ids("Uid:"), task.ids("Gid:"));
        assert_eq!(uids[..3], [SHARED_ID; 3], "uids of {}", task.name);
        assert_eq!(gids[..3], [SHARED_ID; 3], "gids of {}", task.name);
        assert!(!uids.contains(&0), "{} has uid 0: {uids:?}", task.name);
        assert!(!gids.contains(&0), "{} has gid 0: {gids:?}", task.name);
        for field in ["CapEff:", "CapPrm:", "CapBnd:"] {
            let caps = task.caps(field);
            assert_eq!(caps & !SWITCH_CAPS, 0, "{field} {caps:x} of {}", task.name);
        }
    }
    let spawner = all.iter().find(|t| t.name == SPAWNER).expect("the spawner");
    assert_eq!(
        spawner.caps("CapEff:"),
        SWITCH_CAPS,
        "the spawner keeps both"
    );
    for (uid, user) in [(5000, "alice"), (5001, "erin")] {
        let prefix = format!("uid-{uid}-");
        let workers: Vec<&Task> = all.iter().filter(|t| t.name.starts_with(&prefix)).collect();
        assert!(!workers.is_empty(), "no worker for {user}");
        for w in workers {
            assert_eq!(w.ids("Uid:")[3], uid, "{} works as {user}", w.name);
            assert_eq!(w.ids("Gid:")[3], uid, "{} works as {user}'s gid", w.name);
            assert_eq!(w.ids("Groups:"), [SHARED_ID], "{}: no other group", w.name);
            assert_eq!(
                w.caps("CapEff:"),
                0,
                "{} once it took its owner's ids",
                w.name
            );
        }
    }
    // The thread that decodes the requests holds nothing.
    let main = all.iter().find(|t| t.tid == pid).expect("the main thread");
    assert_eq!((main.caps("CapEff:"), main.caps("CapPrm:")), (0, 0));

    // Root's files beneath the directories Landlock allows (the homes'
    // base, root's, mode 0755): uid 0 owned them and its owner bits let it
    // read a 0600 file there and make new ones; the process's uid does not.
    let home_base = dir.data_dir().join("home");
    let base = fs::metadata(&home_base).expect("the homes' base");
    assert_eq!(
        (base.uid(), base.mode() & 0o200),
        (0, 0o200),
        "root-owned, writable by it"
    );
    let secret = home_base.join("root-secret");
    fs::write(&secret, "root's\n").expect("a root file");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod");
    let eacces = -i64::from(nix::libc::EACCES);
    let secret = secret.display().to_string();
    assert_eq!(
        open_in(pid, &secret, nix::libc::O_RDONLY),
        eacces,
        "reading {secret}"
    );
    assert_eq!(
        open_in(pid, &secret, nix::libc::O_WRONLY),
        eacces,
        "writing {secret}"
    );
    let planted = home_base.join("planted").display().to_string();
    let create = nix::libc::O_WRONLY | nix::libc::O_CREAT;
    assert_eq!(open_in(pid, &planted, create), eacces, "creating {planted}");
    assert!(!std::path::Path::new(&planted).exists());

    // The spawner, with CAP_SETUID/SETGID, taken over: no root file-system
    // ids, no uid change at all (the process's seccomp filter).
    let eperm = -i64::from(nix::libc::EPERM);
    let t = spawner.tid;
    assert_eq!(
        syscall_in_sleeping_thread(pid, t, nix::libc::SYS_setfsuid, [0, 0, 0]),
        eperm,
        "setfsuid(0)"
    );
    assert_eq!(
        syscall_in_sleeping_thread(pid, t, nix::libc::SYS_setfsgid, [0, 0, 0]),
        eperm,
        "setfsgid(0)"
    );
    assert_eq!(
        syscall_in_sleeping_thread(pid, t, nix::libc::SYS_setgroups, [0, 0, 0]),
        eperm,
        "setgroups"
    );
    assert_eq!(
        syscall_in_sleeping_thread(pid, t, nix::libc::SYS_setresuid, [0, 0, 0]),
        eperm,
        "setresuid(0)"
    );
    assert_eq!(
        syscall_in_sleeping_thread(pid, t, nix::libc::SYS_setuid, [5001, 0, 0]),
        eperm,
        "setuid(5001)"
    );
    let now = fs::read_to_string(format!("/proc/{pid}/task/{t}/status")).expect("status");
    assert_eq!(
        status_numbers(&now, "Uid:"),
        vec![SHARED_ID; 4],
        "the spawner's uids"
    );
    // The decoding thread cannot even become an owner.
    assert_eq!(
        syscall_in_sleeping_thread(pid, pid, nix::libc::SYS_setuid, [5001, 0, 0]),
        eperm,
        "setuid in main"
    );

    // Still serving both, each owner's new files the owner's: a message, a
    // mailbox, and the index's shared-memory file.
    for (client, user, uid) in [(&mut a, "alice", 5000), (&mut e, "erin", 5001)] {
        let r = client
            .append("INBOX", &[], b"Subject: again\r\n\r\nhi\r\n")
            .expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
        client.ok("CREATE Archive");
        client.ok("SELECT Archive");
        let maildir = dir.maildir(user);
        let mut made = vec![
            maildir.join(".Archive"),
            maildir.join("mailkeep.index.sqlite-shm"),
        ];
        made.extend(
            crate::harness::files_in(&maildir.join("cur"), 2)
                .iter()
                .map(|f| f.path()),
        );
        assert_eq!(made.len(), 4, "{user}: two messages, a mailbox, -shm");
        for path in made {
            let meta = fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!((meta.uid(), meta.gid()), (uid, uid), "{}", path.display());
        }
    }
    a.logout();
    e.logout();
}

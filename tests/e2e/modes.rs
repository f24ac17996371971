//! Storage process modes: which users share a storage process.

use std::os::unix::fs::MetadataExt;

use mailkeep_testkit::BlockingClient;

use crate::harness::{Server, TestDir, require_root, run_user_cmd};

/// In per-uid mode two users with the same uid are served by ONE storage
/// process (running as that uid), each user's mail lands in their own home
/// owned by the uid with mode 0600, and a user with another uid gets a
/// process of their own.
#[test]
fn per_uid_mode_shares_a_process_between_users_of_one_uid() {
    if !require_root("per_uid_mode_shares_a_process_between_users_of_one_uid") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nmode = \"per-uid\"\n");
    server.add_user("alice", "a-secret");
    server.add_user("bob", "b-secret");
    run_user_cmd(
        &server.config,
        &["add", "erin", "--uid", "5001", "--gid", "5001"],
        Some("e-secret"),
    );

    let mut a = server.login("alice", "a-secret");
    let r = a
        .append("INBOX", &[], b"Subject: to alice\r\n\r\nhi\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let mut b = server.login("bob", "b-secret");
    let r = b
        .append("INBOX", &[], b"Subject: to bob\r\n\r\nhi\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    b.ok("SELECT INBOX");

    let storage = server.role_procs("storage", None);
    assert_eq!(
        storage.len(),
        1,
        "alice and bob (uid 5000) should share one storage process"
    );
    assert_eq!(storage[0].status_numbers("Uid:"), vec![5000; 4]);

    for user in ["alice", "bob"] {
        let files = crate::harness::files_in(&dir.maildir(user).join("cur"), 1);
        let meta = files[0].metadata().expect("stat");
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (5000, 0o600),
            "{user}'s file"
        );
    }

    let mut e = server.login("erin", "e-secret");
    e.ok("SELECT INBOX");
    let storage = server.role_procs("storage", None);
    assert_eq!(
        storage.len(),
        2,
        "erin (uid 5001) needs a process of her own"
    );
    assert!(
        storage
            .iter()
            .any(|p| p.status_numbers("Uid:") == vec![5001; 4]),
        "no storage process runs as 5001"
    );
    a.logout();
    b.logout();
    e.logout();
}

/// The file-system uids (fourth field of `Uid:`) of the threads of `pid`.
fn thread_fsuids(pid: i32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("reading the task list")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|status| {
            crate::harness::status_numbers(&status, "Uid:")
                .get(3)
                .copied()
        })
        .collect()
}

/// A shared-mode server with alice (uid 5000) and erin (uid 5001) logged
/// in, one message APPENDed to each INBOX and INBOX selected: one storage
/// process then serves both uids.
pub(crate) fn shared_server_with_two_uids(
    dir: &TestDir,
) -> (Server<'_>, BlockingClient, BlockingClient) {
    let server = Server::start_with(dir, "\n[storage]\nmode = \"shared\"\n");
    server.add_user("alice", "a-secret");
    run_user_cmd(
        &server.config,
        &["add", "erin", "--uid", "5001", "--gid", "5001"],
        Some("e-secret"),
    );
    let mut a = server.login("alice", "a-secret");
    let mut e = server.login("erin", "e-secret");
    for (client, user) in [(&mut a, "alice"), (&mut e, "erin")] {
        let message = format!("Subject: to {user}\r\n\r\nhi\r\n");
        let r = client
            .append("INBOX", &[], message.as_bytes())
            .expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
    }
    e.ok("SELECT INBOX");
    a.ok("SELECT INBOX");
    (server, a, e)
}

/// In shared mode ONE storage process serves users of two uids: it runs as
/// its own uid (`[storage] shared_uid`), does each owner's work on threads whose file-system uid is that
/// owner's (seen in /proc/PID/task/*/status), and each user's new files are
/// owned by that user's uid with mode 0600.
#[test]
fn shared_mode_serves_two_uids_from_one_process() {
    if !require_root("shared_mode_serves_two_uids_from_one_process") {
        return;
    }
    let dir = TestDir::new();
    let (server, a, e) = shared_server_with_two_uids(&dir);

    let storage = server.role_procs("storage", None);
    assert_eq!(
        storage.len(),
        1,
        "one storage process should serve both uids"
    );
    assert_eq!(
        storage[0].status_numbers("Uid:")[..3],
        [64_992; 3],
        "it runs as [storage] shared_uid"
    );
    let fsuids = thread_fsuids(storage[0].pid);
    assert!(
        fsuids.contains(&5000),
        "no thread works as 5000: {fsuids:?}"
    );
    assert!(
        fsuids.contains(&5001),
        "no thread works as 5001: {fsuids:?}"
    );

    for (user, uid) in [("alice", 5000), ("erin", 5001)] {
        let maildir = dir.maildir(user);
        for path in [maildir.join("mailkeep.index.sqlite"), maildir.join("cur")] {
            let meta = std::fs::metadata(&path).expect("stat");
            assert_eq!(meta.uid(), uid, "{} owner", path.display());
        }
        let files: Vec<_> = std::fs::read_dir(maildir.join("cur"))
            .expect("cur/")
            .filter_map(Result::ok)
            .collect();
        assert_eq!(files.len(), 1, "{user}'s message");
        let meta = files[0].metadata().expect("stat");
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (uid, uid, 0o600),
            "{user}'s file"
        );
    }
    a.logout();
    e.logout();
}

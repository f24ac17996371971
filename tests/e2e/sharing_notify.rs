//! NOTIFY (RFC 5465) on the shared namespace across uids, through the
//! real binary: alice (uid 5000) shares `Projects` with bob (uid 5001);
//! while bob has NOTIFY SET on the shared namespace, the folders alice
//! creates under it, renames and deletes, and those she grants him, reach
//! him as `* LIST` (and their new mail as `* STATUS`), each decided by
//! alice's storage process from her ACLs, as does one hidden again by
//! `mailkeep admin acl`; a SIGKILLed storage process of alice's does not
//! end bob's notifications.

use mailkeep_testkit::{BlockingClient, Response};
use nix::sys::signal::Signal;

use crate::harness::{Server, TestDir, require_root, run_user_cmd, signal};
use crate::sharing::admin_acl;

/// Whether `r` is the LIST line of `name` carrying `attribute` (if any).
fn is_list(r: &Response, name: &str, attribute: Option<&str>) -> bool {
    let text = r.text();
    text.starts_with("* LIST")
        && (text.ends_with(&format!(" {name}")) || text.contains(&format!(" {name} ")))
        && attribute.is_none_or(|a| text.contains(a))
}

/// Reads bob's unsolicited responses up to the first that `wanted`
/// accepts; returns it and what came before. The client's read timeout
/// bounds the wait.
fn until(
    bob: &mut BlockingClient,
    what: &str,
    wanted: impl Fn(&Response) -> bool,
) -> (Response, Vec<Response>) {
    let mut before = Vec::new();
    loop {
        let r = bob
            .read_response()
            .unwrap_or_else(|e| panic!("no {what} ({e}); read {before:?}"));
        if wanted(&r) {
            return (r, before);
        }
        before.push(r);
    }
}

fn until_list(
    bob: &mut BlockingClient,
    name: &str,
    attribute: Option<&str>,
) -> (Response, Vec<Response>) {
    until(bob, &format!("LIST {name}"), |r| {
        is_list(r, name, attribute)
    })
}

/// alice's one storage process (per-user mode), by its pid.
fn alice_storage(server: &Server<'_>) -> i32 {
    let storage = server.role_procs("storage", Some("alice"));
    let [alice] = storage.as_slice() else {
        panic!("expected one storage process of alice's: {storage:?}");
    };
    assert_eq!(alice.status_numbers("Uid:")[0], 5000, "it runs as alice");
    alice.pid
}

#[test]
fn notify_on_the_shared_namespace_across_uids() {
    if !require_root("notify_on_the_shared_namespace_across_uids") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nmode = \"per-user\"\n");
    server.add_user("alice", "a-secret");
    run_user_cmd(
        &server.config,
        &["add", "bob", "--uid", "5001", "--gid", "5001"],
        Some("b-secret"),
    );
    let mut alice = server.login("alice", "a-secret");
    alice.ok("CREATE Projects");
    alice.ok("CREATE Private");
    admin_acl(&server, &["set", "alice", "Projects", "bob", "lr"]);

    let mut bob = server.login("bob", "b-secret");
    bob.ok("NOTIFY SET (subtree shared (MessageNew MessageExpunge MailboxName))");

    // Created under the shared folder (inheriting its ACL), renamed,
    // deleted; a folder alice keeps to herself is never named.
    alice.ok("CREATE Secret");
    alice.ok("CREATE Projects.Sub");
    let (_, before) = until_list(&mut bob, "shared.alice.Projects.Sub", None);
    assert!(
        !before.iter().any(|r| r.text().contains("Secret")),
        "{before:?}"
    );
    alice.ok("RENAME Projects.Sub Projects.Renamed");
    let (renamed, _) = until_list(&mut bob, "shared.alice.Projects.Renamed", None);
    assert!(
        renamed.text().contains("OLDNAME") && renamed.text().contains("shared.alice.Projects.Sub"),
        "{}",
        renamed.text()
    );
    alice.ok("DELETE Projects.Renamed");
    until_list(
        &mut bob,
        "shared.alice.Projects.Renamed",
        Some("\\NonExistent"),
    );

    // A folder granted after NOTIFY SET appears, with its mail.
    alice.ok("SETACL Private bob lr");
    until_list(&mut bob, "shared.alice.Private", None);
    let appended = alice
        .append("Private", &[], b"Subject: now\r\n\r\nshared now\r\n")
        .expect("APPEND");
    assert!(appended.is_ok(), "{appended:?}");
    let (status, _) = until(&mut bob, "STATUS shared.alice.Private", |r| {
        r.text().starts_with("* STATUS shared.alice.Private ")
    });
    assert!(status.text().contains("MESSAGES 1"), "{}", status.text());

    // Hidden again by `mailkeep admin acl`, which writes alice's index
    // itself, not through her storage process: bob hears of it as of a
    // DELETEACL of alice's.
    admin_acl(&server, &["delete", "alice", "Private", "bob"]);
    until_list(&mut bob, "shared.alice.Private", Some("\\NonExistent"));

    // alice's storage process dies (SIGKILL): bob's notifications go on
    // once a new one serves alice, and nothing done meanwhile is missed.
    signal(alice_storage(&server), Signal::SIGKILL);
    alice.close();
    let mut alice = server.login("alice", "a-secret");
    alice.ok("CREATE Projects.After");
    until_list(&mut bob, "shared.alice.Projects.After", None);
    let appended = alice
        .append("Projects", &[], b"Subject: after\r\n\r\nafter the kill\r\n")
        .expect("APPEND");
    assert!(appended.is_ok(), "{appended:?}");
    until(&mut bob, "STATUS shared.alice.Projects", |r| {
        r.text().starts_with("* STATUS shared.alice.Projects ") && r.text().contains("MESSAGES 1")
    });
    bob.ok("NOTIFY NONE");
    bob.logout();
    alice.logout();
}

//! A per-uid or shared storage process can touch files only beneath the
//! directories it was given when it started (Landlock): the homes' base
//! and the parents of the homes the users file named then. An account
//! added later with its home elsewhere is sent to a new storage process of
//! the same key, started for it, while the running one goes on serving
//! the others.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::harness::{Server, TestDir, require_root, run_user_cmd};

fn an_account_added_later_with_its_home_elsewhere_is_served(mode: &str) {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, &format!("\n[storage]\nmode = \"{mode}\"\n"));
    server.add_user("alice", "a-secret");
    let mut a = server.login("alice", "a-secret");
    a.ok("SELECT INBOX");
    let first = server.role_procs("storage", None);
    assert_eq!(first.len(), 1, "{mode}: one storage process for alice");

    // carol, of alice's uid, homed outside everything that process may
    // touch.
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).expect("a directory for other homes");
    let home = elsewhere.join("carol");
    run_user_cmd(
        &server.config,
        &["add", "carol", "--home", &home.display().to_string()],
        Some("c-secret"),
    );
    let mut c = server.login("carol", "c-secret");
    let r = c
        .append("INBOX", &[], b"Subject: hello carol\r\n\r\nhi\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{mode}: {r:?}\n{}", server.logs());
    assert_eq!(c.ok("SELECT INBOX").exists(), Some(1), "{mode}");
    let cur: Vec<_> = fs::read_dir(home.join("Maildir").join("cur"))
        .expect("carol's cur/")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(cur.len(), 1, "{mode}: carol's message");
    assert_eq!(cur[0].metadata().expect("stat").uid(), 5000, "{mode}");

    // Served by a second process of the key; the first still serves alice.
    let now = server.role_procs("storage", None);
    assert_eq!(now.len(), 2, "{mode}: a new storage process for carol");
    assert!(
        now.iter().any(|p| p.pid == first[0].pid),
        "{mode}: alice's stays"
    );
    a.ok("NOOP");
    a.ok("SELECT INBOX");
    a.logout();
    c.logout();
}

#[test]
fn an_account_added_later_with_its_home_elsewhere_is_served_per_uid() {
    if !require_root("an_account_added_later_with_its_home_elsewhere_is_served_per_uid") {
        return;
    }
    an_account_added_later_with_its_home_elsewhere_is_served("per-uid");
}

#[test]
fn an_account_added_later_with_its_home_elsewhere_is_served_shared() {
    if !require_root("an_account_added_later_with_its_home_elsewhere_is_served_shared") {
        return;
    }
    an_account_added_later_with_its_home_elsewhere_is_served("shared");
}

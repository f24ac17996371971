//! `\Seen` private per user on shared mailboxes, over IMAP across uids:
//! bob reads alice's shared Team with FETCH BODY[] (which sets `\Seen`);
//! he sees the message seen, in this session and the next, while alice's
//! and carol's views of it stay unseen, in FETCH, SEARCH and STATUS.

use std::process::Command;

use crate::harness::{Server, TestDir, require_root, run_user_cmd};

/// alice's Team as bob and carol name it (the shared namespace).
const TEAM: &str = "shared.alice.Team";

/// alice (uid 5000) with Team holding one message, shared `lrs` with bob
/// (uid 5001) and carol (uid 5002).
fn alice_shares_team(dir: &TestDir) -> Server<'_> {
    let server = Server::start_with(dir, "\n[storage]\nmode = \"per-uid\"\n");
    server.add_user("alice", "a-secret");
    for (user, uid, password) in [("bob", "5001", "b-secret"), ("carol", "5002", "c-secret")] {
        run_user_cmd(
            &server.config,
            &["add", user, "--uid", uid, "--gid", uid],
            Some(password),
        );
    }
    let mut a = server.login("alice", "a-secret");
    a.ok("CREATE Team");
    let r = a
        .append("Team", &[], b"Subject: Team\r\n\r\nfor the Team folder\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    a.logout();
    for user in ["bob", "carol"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailkeep"))
            .args(["admin", "acl", "set", "alice", "Team", user, "lrs"])
            .arg("--config")
            .arg(&server.config)
            .output()
            .expect("running mailkeep admin acl");
        assert!(out.status.success(), "{out:?}");
    }
    server
}

/// Whether message 1 of `mailbox` shows `\Seen` to `user`, by FETCH
/// FLAGS, SEARCH UNSEEN and STATUS UNSEEN (which must agree).
fn seen_by(server: &Server<'_>, user: &str, password: &str, mailbox: &str) -> bool {
    let mut c = server.login(user, password);
    let status = c.ok(&format!("STATUS {mailbox} (UNSEEN)"));
    let unseen = status.status_item("UNSEEN").expect("STATUS UNSEEN");
    c.ok(&format!("EXAMINE {mailbox}"));
    let fetched = c.ok("FETCH 1 FLAGS");
    let seen = fetched.fetch(1).expect("FETCH 1").has_flag("\\Seen");
    let search = c.ok("SEARCH UNSEEN").search();
    c.logout();
    assert_eq!(unseen, u64::from(!seen), "{user}: STATUS UNSEEN and FLAGS");
    assert_eq!(search.is_empty(), seen, "{user}: SEARCH UNSEEN {search:?}");
    seen
}

#[test]
fn a_guests_seen_on_a_shared_mailbox_is_their_own() {
    if !require_root("a_guests_seen_on_a_shared_mailbox_is_their_own") {
        return;
    }
    let dir = TestDir::new();
    let server = alice_shares_team(&dir);
    assert!(!seen_by(&server, "bob", "b-secret", TEAM));

    let mut bob = server.login("bob", "b-secret");
    bob.ok(&format!("SELECT {TEAM}"));
    let body = bob.ok("FETCH 1 BODY[]");
    assert!(
        format!("{body:?}").contains("for the Team folder"),
        "{body:?}"
    );
    let flags = bob.ok("FETCH 1 FLAGS");
    assert!(
        flags.fetch(1).expect("FETCH 1").has_flag("\\Seen"),
        "{flags:?}"
    );
    bob.logout();

    assert!(
        seen_by(&server, "bob", "b-secret", TEAM),
        "bob's next session"
    );
    assert!(
        !seen_by(&server, "alice", "a-secret", "Team"),
        "alice's view"
    );
    assert!(!seen_by(&server, "carol", "c-secret", TEAM), "carol's view");

    // alice's own \Seen is hers: carol still sees the message unseen.
    let mut alice = server.login("alice", "a-secret");
    alice.ok("SELECT Team");
    alice.ok("STORE 1 +FLAGS (\\Seen)");
    alice.logout();
    assert!(seen_by(&server, "alice", "a-secret", "Team"));
    assert!(!seen_by(&server, "carol", "c-secret", TEAM));
    assert!(seen_by(&server, "bob", "b-secret", TEAM));
}

/// bob's COPY from alice's Team into her Archive (both in alice's store)
/// gives the copy bob's own `\Seen`, not alice's or carol's shared view.
#[test]
fn a_guests_copy_carries_the_guests_seen() {
    if !require_root("a_guests_copy_carries_the_guests_seen") {
        return;
    }
    let dir = TestDir::new();
    let server = alice_shares_team(&dir);
    let mut a = server.login("alice", "a-secret");
    a.ok("CREATE Archive");
    a.logout();
    for user in ["bob", "carol"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailkeep"))
            .args(["admin", "acl", "set", "alice", "Archive", user, "lrsi"])
            .arg("--config")
            .arg(&server.config)
            .output()
            .expect("running mailkeep admin acl");
        assert!(out.status.success(), "{out:?}");
    }
    let mut bob = server.login("bob", "b-secret");
    bob.ok(&format!("SELECT {TEAM}"));
    bob.ok("FETCH 1 BODY[]");
    let copied = bob.ok("COPY 1 shared.alice.Archive");
    assert!(copied.has_code("COPYUID"), "{copied:?}");
    bob.logout();
    let archive = "shared.alice.Archive";
    assert!(seen_by(&server, "bob", "b-secret", archive), "bob's copy");
    assert!(!seen_by(&server, "carol", "c-secret", archive));
    assert!(!seen_by(&server, "alice", "a-secret", "Archive"));
}

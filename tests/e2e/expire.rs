//! Expiry without root: `mailkeep admin expunge` and per-folder
//! autoexpunge are done by the owner's storage process (running as the
//! owner), never by a root process opening mail files; a session with the
//! mailbox selected hears of the removals like any expunge.

use std::process::{Command, Output};
use std::time::Duration;

use crate::harness::{BIN, Server, TestDir, require_root};

fn admin_expunge(server: &Server<'_>, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["admin", "expunge"])
        .args(args)
        .arg("--config")
        .arg(&server.config)
        .output()
        .expect("running mailkeep admin expunge")
}

/// What `admin expunge` printed as removed, after checking it succeeded.
fn expunged(out: &Output) -> String {
    assert!(
        out.status.success(),
        "admin expunge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn admin_expunge_is_done_by_the_owners_storage_process() {
    if !require_root("admin_expunge_is_done_by_the_owners_storage_process") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    for (flags, body) in [
        (&["\\Seen"][..], "Subject: read\r\n\r\nold news\r\n"),
        (&[][..], "Subject: unread one\r\n\r\nhi\r\n"),
        (&[][..], "Subject: unread two\r\n\r\nhi\r\n"),
    ] {
        let r = c.append("Trash", flags, body.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
    }
    let selected = c.ok("SELECT Trash");
    assert_eq!(selected.exists(), Some(3));

    assert_eq!(
        expunged(&admin_expunge(&server, &["alice", "Trash", "seen"])),
        "expunged=1"
    );
    server.wait_for_output(
        "the storage process's own account of the expunge",
        Duration::from_secs(10),
        |out| {
            out.lines()
                .find(|l| l.contains("admin expunge: messages removed") && l.contains("storage"))
                .map(drop)
        },
    );
    assert_eq!(
        expunged(&admin_expunge(
            &server,
            &["alice", "Trash", "savedbefore", "30d"]
        )),
        "expunged=0",
        "nothing is 30 days old"
    );
    assert_eq!(
        expunged(&admin_expunge(
            &server,
            &["alice", "Trash", "savedbefore", "0s"]
        )),
        "expunged=2"
    );
    // The selected session is told of all three.
    let noop = c.ok("NOOP");
    assert_eq!(noop.expunged().len(), 3, "{noop:?}");
    let status = c.ok("STATUS Trash (MESSAGES)");
    assert_eq!(status.status_item("MESSAGES"), Some(0));

    // A bad condition or an unknown user is refused with a reason.
    let bad = admin_expunge(&server, &["alice", "Trash", "larger", "10"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown condition"));
    let nobody = admin_expunge(&server, &["nobody", "Trash", "all"]);
    assert!(!nobody.status.success(), "an unknown user");
    c.logout();
}

#[test]
fn autoexpunge_empties_old_trash_while_the_storage_process_runs() {
    if !require_root("autoexpunge_empties_old_trash_while_the_storage_process_runs") {
        return;
    }
    let dir = TestDir::new();
    // Every message of Trash is "old" at once; the rules run every second.
    let server = Server::start_with(
        &dir,
        "\n[storage]\nautoexpunge = { Trash = \"0s\" }\nautoexpunge_every_secs = 1\n",
    );
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    let r = c
        .append("INBOX", &[], b"Subject: kept\r\n\r\nINBOX has no rule\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let before = server.count_in_output("autoexpunged messages");
    let r = c
        .append("Trash", &[], b"Subject: thrown away\r\n\r\nbye\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    server.wait_for_another("autoexpunged messages", before, Duration::from_secs(30));
    let trash = c.ok("STATUS Trash (MESSAGES)");
    assert_eq!(trash.status_item("MESSAGES"), Some(0));
    let inbox = c.ok("STATUS INBOX (MESSAGES)");
    assert_eq!(
        inbox.status_item("MESSAGES"),
        Some(1),
        "only Trash has a rule"
    );
    c.logout();
}

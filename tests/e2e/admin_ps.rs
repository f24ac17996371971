//! `mailkeep admin ps`: the process table read from the master over its
//! root-only admin socket.

use std::process::Command;
use std::time::Duration;

use crate::harness::{Server, TestDir, require_root, wait_until};

fn admin_ps(server: &Server<'_>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["admin", "ps", "--config"])
        .arg(&server.config)
        .output()
        .expect("running mailkeep admin ps")
}

/// The columns of the first line whose first column is `role` and that
/// contains `needle`.
fn row(table: &str, role: &str, needle: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(role) && l.contains(needle))
        .unwrap_or_else(|| panic!("no {role} row with {needle:?} in:\n{table}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// With a session open, the table lists the master, auth, the imap process
/// (one session) and alice's storage process (key, owner, one connection,
/// not idle) with their real pids and uids; after logout the storage
/// process shows as idle with linger time left (no connection is kept
/// warm here, so it is idle as soon as the session ends). A non-root
/// caller is refused.
#[test]
fn admin_ps_lists_every_process() {
    if !require_root("admin_ps_lists_every_process") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nkeep_warm_secs = 0\n");
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    c.ok("SELECT INBOX");
    let storage = server.wait_role("storage", Some("alice"), None);
    let imap = server.wait_role("imap", None, None);

    let table = wait_until(
        Duration::from_secs(5),
        "the imap session to be counted",
        || {
            let out = admin_ps(&server);
            assert!(
                out.status.success(),
                "admin ps failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let table = String::from_utf8_lossy(&out.stdout).into_owned();
            (row(&table, "imap", &imap.pid.to_string())[6] == "1").then_some(table)
        },
    );
    let master = row(&table, "master", &server.pid().to_string());
    assert_eq!(master[2], "0", "master uid");
    row(&table, "auth", "");
    let imap_row = row(&table, "imap", &imap.pid.to_string());
    assert_eq!(imap_row[2], "65534", "imap uid");
    let s = row(&table, "storage", &storage.pid.to_string());
    assert_eq!(
        (
            s[2].as_str(),
            s[3].as_str(),
            s[4].as_str(),
            s[5].as_str(),
            s[9].as_str()
        ),
        // The default storage mode is per-uid: the key names the mail uid.
        ("5000", "uid:5000", "alice", "1", "-"),
        "storage row: {s:?}"
    );

    c.logout();
    let idle = wait_until(
        Duration::from_secs(5),
        "the storage process to be idle",
        || {
            let table = String::from_utf8_lossy(&admin_ps(&server).stdout).into_owned();
            let s = row(&table, "storage", &storage.pid.to_string());
            (s[5] == "0" && s[9] != "-").then_some(s)
        },
    );
    assert_ne!(
        idle[10], "-",
        "an idle storage process shows its linger time left: {idle:?}"
    );

    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["admin", "ps", "--config"])
        .arg(&server.config)
        .output()
        .expect("running admin ps as nobody");
    assert!(
        !as_nobody.status.success(),
        "admin ps worked for a non-root user"
    );
}

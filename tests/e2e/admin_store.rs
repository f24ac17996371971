//! `mailkeep admin verify USER` and `mailkeep admin reindex USER` on the
//! mail of a running server.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

use crate::harness::{Server, TestDir, require_root};

fn admin(server: &Server<'_>, action: &str, user: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["admin", action, user, "--config"])
        .arg(&server.config)
        .output()
        .expect("running mailkeep admin")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A consistent mailbox verifies (exit 0). A message file removed behind
/// the index's back makes verify exit non-zero with a report naming the
/// problem; reindex rebuilds the index (keeping the other message's UID),
/// after which verify passes again and the index is still the owner's.
#[test]
fn verify_reports_damage_and_reindex_repairs_it() {
    if !require_root("verify_reports_damage_and_reindex_repairs_it") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    let first = c
        .append("INBOX", &[], b"Subject: one\r\n\r\nfirst\r\n")
        .expect("APPEND")
        .appenduid()
        .expect("APPENDUID");
    let second = c
        .append("INBOX", &[], b"Subject: two\r\n\r\nsecond\r\n")
        .expect("APPEND")
        .appenduid()
        .expect("APPENDUID");
    c.logout();

    let ok = admin(&server, "verify", "alice");
    assert!(
        ok.status.success(),
        "verify of a sound mailbox failed:\n{}",
        text(&ok)
    );

    let cur = dir.maildir("alice").join("cur");
    let mut files: Vec<_> = std::fs::read_dir(&cur)
        .expect("cur/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let victim = files
        .iter()
        .find(|p| std::fs::read(p).is_ok_and(|b| b.ends_with(b"first\r\n")))
        .expect("the first message's file")
        .clone();
    std::fs::remove_file(&victim).expect("removing a message file");

    let bad = admin(&server, "verify", "alice");
    assert!(
        !bad.status.success(),
        "verify passed with a file missing:\n{}",
        text(&bad)
    );
    let report = text(&bad);
    let base = victim
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split(':').next())
        .expect("file name");
    assert!(
        report.contains(base),
        "the report does not name the file:\n{report}"
    );

    let fixed = admin(&server, "reindex", "alice");
    assert!(fixed.status.success(), "reindex failed:\n{}", text(&fixed));
    let again = admin(&server, "verify", "alice");
    assert!(
        again.status.success(),
        "verify after reindex failed:\n{}",
        text(&again)
    );

    let index = dir.maildir("alice").join("mailkeep.index.sqlite");
    assert_eq!(std::fs::metadata(&index).expect("index").uid(), 5000);
    let mut c = server.login("alice", "a-secret");
    c.ok("SELECT INBOX");
    let r = c.ok("UID FETCH 1:* (UID)");
    let uids: Vec<u32> = r.fetches().iter().filter_map(|f| f.uid()).collect();
    assert_eq!(uids, vec![second.1], "first was uid {}", first.1);
    c.logout();
}

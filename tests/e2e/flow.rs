//! A whole mail session driven by a standard client: Python's `imaplib`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Server, TestDir, wait_output, workspace_root};

/// A real client library (Python's imaplib, not our own code) can do a full
/// session: LOGIN, CAPABILITY, CREATE, APPEND (including a 5 MB message,
/// returned byte-identical by BODY.PEEK[]), SELECT, FETCH of FLAGS, UID,
/// RFC822.SIZE and INTERNALDATE, STORE +FLAGS, EXPUNGE, STATUS, CLOSE and
/// LOGOUT; and a second connection with INBOX selected sees the first
/// one's APPEND to INBOX as `* N EXISTS` at NOOP. The script's checks are
/// in `tests/python/imap_flow.py`; it exits non-zero on any mismatch.
#[test]
fn python_imaplib_flow() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "alice-secret-1");

    let script = workspace_root().join("tests/python/imap_flow.py");
    let child = Command::new("python3")
        .arg(&script)
        .env("MK_HOST", "127.0.0.1")
        .env("MK_PORT", server.port.to_string())
        .env("MK_USER", "alice")
        .env("MK_PASS", "alice-secret-1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python3 (is it installed?)");
    let out = wait_output(child, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown by the test runner when the test fails (or with --nocapture).
    println!("--- imap_flow.py stdout ---\n{stdout}\n--- imap_flow.py stderr ---\n{stderr}");
    assert!(
        out.status.success(),
        "imap_flow.py failed with {}:\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("imap_flow: all checks passed"),
        "imap_flow.py exited 0 without finishing:\n{stdout}"
    );
}

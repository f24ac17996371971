//! A whole mail session driven by a standard client: Python's `imaplib`.

use std::time::Duration;

use crate::harness::{Server, TestDir, run_python};

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
    run_python(
        "imap_flow.py",
        &[
            ("MK_HOST", "127.0.0.1".to_owned()),
            ("MK_PORT", server.port.to_string()),
            ("MK_USER", "alice".to_owned()),
            ("MK_PASS", "alice-secret-1".to_owned()),
        ],
        "imap_flow: all checks passed",
        Duration::from_secs(180),
    );
}

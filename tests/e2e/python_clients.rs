//! Compliance checks through a standard client library, Python's
//! `imaplib` (not our code): the extensions real clients use and the
//! message structure they read, each asserted exactly by the scripts in
//! `tests/python/` (they exit non-zero on any mismatch and print every
//! failed check with the IMAP exchange that led to it).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Server, TestDir, wait_output, workspace_root};

/// Runs `tests/python/SCRIPT` against a new server with a new account, and
/// asserts it passed every check.
fn run_script(script: &str) {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("checker", "checker-secret-3");
    let name = script.trim_end_matches(".py");
    let child = Command::new("python3")
        .arg(workspace_root().join("tests/python").join(script))
        .env("MK_HOST", "127.0.0.1")
        .env("MK_PORT", server.port.to_string())
        .env("MK_USER", "checker")
        .env("MK_PASS", "checker-secret-3")
        .env("MK_VERSION", env!("CARGO_PKG_VERSION"))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python3 (is it installed?)");
    let out = wait_output(child, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed with {}:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n{}",
        out.status,
        server.logs()
    );
    assert!(
        stdout.contains(&format!("{name}: all checks passed")),
        "{script} exited 0 without finishing:\n{stdout}"
    );
}

/// ENABLE UTF8=ACCEPT with a UTF-8 mailbox name (and modified UTF-7 for a
/// client that did not enable it), ID, NAMESPACE, LIST-EXTENDED with
/// RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN)), the four special-use
/// mailboxes of a new account, MOVE and UID MOVE with COPYUID, IDLE while
/// a second connection appends, stores and expunges, UNSELECT, ESEARCH.
#[test]
fn imaplib_checks_the_extensions_clients_use() {
    run_script("imap_extensions.py");
}

/// BODYSTRUCTURE, BODY, ENVELOPE, BODY.PEEK[1.MIME], BINARY.PEEK[n] and
/// BINARY.SIZE of a multipart message with an attachment and a forwarded
/// message/rfc822 part; SEARCH TEXT of a word only inside the forwarded
/// message; SORT and THREAD; an APPEND with bare LF line ends served with
/// CRLF and sized by them; a message with a 2.4 MB attachment, stored
/// with CRLF and with bare LFs, read in 64 KiB windows, by part, by
/// windows of a part and of TEXT, and decoded (BINARY, BINARY.SIZE).
#[test]
fn imaplib_checks_message_structure_and_order() {
    run_script("imap_mime.py");
}

//! POP3 through a standard client library, Python's `poplib` (not our
//! code): STLS and implicit TLS, USER/PASS, STAT/LIST/UIDL/RETR/TOP of
//! mail appended with `imaplib`, DELE and QUIT, checked exactly by
//! `tests/python/pop3_poplib.py`.

use crate::harness::{DEADLINE, TestDir, pop3, run_python};

#[test]
fn poplib_reads_and_deletes_mail() {
    let dir = TestDir::new();
    let (server, ports) = pop3::start(&dir, "");
    server.add_user("poller", "poller-secret-5");
    let env = [
        ("MK_HOST", "127.0.0.1".to_owned()),
        ("MK_IMAP_PORT", ports["imap"].to_string()),
        ("MK_POP3_PORT", ports["pop3"].to_string()),
        ("MK_POP3S_PORT", ports["pop3s"].to_string()),
        ("MK_USER", "poller".to_owned()),
        ("MK_PASS", "poller-secret-5".to_owned()),
    ];
    run_python(
        "pop3_poplib.py",
        &env,
        "pop3_poplib: all checks passed",
        DEADLINE * 3,
    );
}

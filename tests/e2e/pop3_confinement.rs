//! The pop3 process gets every confinement the imap process has: as
//! root, it runs as `nobody` with no capabilities and no_new_privs,
//! chrooted into the empty directory, under the seccomp allowlist — and
//! still serves a session, reaching mail only through the storage process.

use std::fs;

use crate::harness::{NOBODY_UID, ProcInfo, TestDir, pop3, require_root};

const PASS: &str = "pop3-confined-3";

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
}

fn assert_confined(p: &ProcInfo) {
    let status = p.status();
    assert_eq!(p.status_numbers("Uid:"), vec![NOBODY_UID; 4], "{status}");
    assert_eq!(field(&status, "NoNewPrivs:"), "1", "{status}");
    assert_eq!(field(&status, "Seccomp:"), "2", "{status}");
    for caps in ["CapEff:", "CapPrm:"] {
        assert!(
            field(&status, caps).chars().all(|c| c == '0'),
            "{caps} of {p:?}:\n{status}"
        );
    }
}

#[test]
fn pop3_process_runs_as_nobody_in_the_empty_chroot_under_seccomp() {
    if !require_root("pop3_process_runs_as_nobody_in_the_empty_chroot_under_seccomp") {
        return;
    }
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    server.wait_confined("pop3");
    let p = server.wait_role("pop3", None, None);
    assert_confined(&p);
    let root = fs::read_link(format!("/proc/{}/root", p.pid)).expect("/proc/PID/root");
    let chroot = fs::canonicalize(dir.chroot_dir()).expect("the chroot dir");
    assert_eq!(root, chroot, "the pop3 process's root directory");
    assert_eq!(
        fs::read_dir(&chroot).expect("reading the chroot").count(),
        0,
        "the chroot is empty"
    );
    // Confined, it still serves: a login opens the maildrop through the
    // storage process.
    let mut c = pop3::login(&server, "alice", PASS);
    assert_eq!(c.command("STAT").expect("STAT").0, "+OK 0 0");
    assert!(c.command("QUIT").expect("QUIT").is_ok());
}

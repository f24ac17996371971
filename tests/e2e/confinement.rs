//! Protocol processes that can do nothing but talk (issue 10): the imap
//! process runs under the seccomp allowlist with no_new_privs, also when
//! the server runs without root; no child gets a descriptor the master
//! inherited; no child holds the master's log file. (What the filter
//! forbids is shown call by call in `crates/sandbox/tests/confined.rs`,
//! on the same function the imap process calls.)

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{INHERITED_FD, Options, ProcInfo, Server, TestDir, require_root, wait_until};

const PASS: &str = "confined-secret-1";

/// The value of a `/proc/PID/status` field.
fn status_field(p: &ProcInfo, name: &str) -> String {
    let status = p.status();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} for {p:?}:\n{status}"))
}

/// Asserts `p` runs under a seccomp filter (mode 2) with no_new_privs.
fn assert_confined(p: &ProcInfo) {
    assert_eq!(status_field(p, "Seccomp:"), "2", "seccomp mode of {p:?}");
    assert_eq!(status_field(p, "NoNewPrivs:"), "1", "no_new_privs of {p:?}");
    assert_eq!(
        status_field(p, "Seccomp_filters:"),
        "1",
        "seccomp filters of {p:?}"
    );
}

/// Every open descriptor of `pid`: its number and what it refers to.
fn descriptors(pid: i32) -> Vec<(i32, PathBuf)> {
    let dir = format!("/proc/{pid}/fd");
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, fs::read_link(e.path()).ok()?))
        })
        .collect()
}

/// Asserts none of `p`'s descriptors refers to `path`.
fn assert_not_held(p: &ProcInfo, path: &Path) {
    let held = descriptors(p.pid);
    assert!(
        held.iter().all(|(_, target)| target != path),
        "{p:?} holds {}: {held:?}",
        path.display()
    );
}

/// The imap process runs under seccomp with no_new_privs, logs that it
/// confined itself, and still serves a login, an APPEND and a FETCH.
#[test]
fn imap_process_runs_under_seccomp_with_no_new_privs() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", PASS);
    let imap = server.wait_role("imap", None, None);
    assert_confined(&imap);
    server.wait_for_output(
        "the imap process's confinement line",
        Duration::from_secs(10),
        |out| {
            out.lines()
                .any(|l| l.contains("imap[") && l.contains("confined: seccomp allowlist"))
                .then_some(())
        },
    );
    let mut c = server.login("alice", PASS);
    let r = c
        .append("INBOX", &[], b"Subject: confined\r\n\r\nstill talks\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "APPEND: {r:?}");
    c.ok("SELECT INBOX");
    let fetched = c.ok("FETCH 1 BODY[]");
    assert!(
        fetched
            .responses
            .iter()
            .any(|r| String::from_utf8_lossy(r.raw()).contains("still talks")),
        "{fetched:?}"
    );
    c.logout();
}

/// Started without root (every process one user, no chroot), the imap
/// process is confined all the same: the filter needs no privilege, so a
/// bug in it still cannot open the mail files of the uid it shares.
#[test]
fn imap_process_is_confined_when_started_without_root() {
    if !require_root("imap_process_is_confined_when_started_without_root") {
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = TestDir::new();
    let data = dir.data_dir();
    fs::create_dir_all(&data).expect("creating the data dir");
    nix::unistd::chown(
        &data,
        Some(nix::unistd::Uid::from_raw(NOBODY)),
        Some(nix::unistd::Gid::from_raw(NOBODY)),
    )
    .expect("chown of the data dir");
    let server = Server::start_as(&dir, NOBODY);
    let password = server.wait_for_output("the demo line", Duration::from_secs(10), |_| {
        crate::demo::demo_password(&server.stdout())
    });
    let imap = server.wait_role("imap", None, None);
    assert_eq!(imap.status_numbers("Uid:"), vec![NOBODY; 4]);
    assert_confined(&imap);
    let mut c = server.login("demo", &password);
    c.ok("SELECT INBOX");
    c.logout();
}

/// A descriptor open in whatever started the master (here a file at fd
/// 50, not close-on-exec) reaches none of its children: imap, auth and
/// storage hold only what the master passes them.
#[test]
fn descriptors_inherited_by_the_master_reach_no_child() {
    let dir = TestDir::new();
    let leaked = dir.path().join("inherited-secret");
    fs::write(&leaked, b"not for children").expect("writing the inherited file");
    let options = Options {
        inherited_file: Some(leaked.clone()),
        ..Options::default()
    };
    let server = Server::start_opts(&dir, options, mailkeep_testkit::Listeners::new());
    server.add_user("alice", PASS);
    // The test passes what it claims to: the master has it.
    let master = descriptors(server.pid());
    assert!(
        master
            .iter()
            .any(|(fd, target)| *fd == INHERITED_FD && *target == leaked),
        "the master did not inherit the file: {master:?}"
    );
    let mut c = server.login("alice", PASS);
    c.ok("SELECT INBOX");
    for role in ["imap", "auth", "storage"] {
        let p = server.wait_role(role, None, None);
        assert_not_held(&p, &leaked);
    }
    c.logout();
}

/// With the master's stdout and stderr going to log files, no child
/// holds either file: each child's stdout and stderr are a pipe to the
/// master, which writes their lines to its log, stamped with their role.
#[test]
fn protocol_processes_hold_no_log_file() {
    let dir = TestDir::new();
    let server = Server::start_logging_to_files(&dir);
    server.add_user("alice", PASS);
    let mut c = server.login("alice", PASS);
    c.ok("SELECT INBOX");
    for role in ["imap", "auth", "storage"] {
        let p = server.wait_role(role, None, None);
        assert_not_held(&p, &server.stderr_log);
        assert_not_held(&p, &server.stdout_log);
        let held = descriptors(p.pid);
        for fd in [1, 2] {
            let target = held
                .iter()
                .find(|(n, _)| *n == fd)
                .map(|(_, t)| t.display().to_string())
                .unwrap_or_default();
            assert!(
                target.starts_with("pipe:"),
                "fd {fd} of {p:?} is {target:?}, not a pipe"
            );
        }
    }
    // Their lines still reach the log, through the master.
    wait_until(
        Duration::from_secs(10),
        "the imap process's lines in the log file",
        || {
            fs::read_to_string(&server.stderr_log)
                .ok()?
                .lines()
                .any(|l| l.contains("imap[") && l.contains("confined"))
                .then_some(())
        },
    );
    c.logout();
}

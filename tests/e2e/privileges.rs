//! Privilege separation as the kernel sees it (DESIGN §1, §5): who each
//! process runs as, where it is chrooted, who owns the files.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{
    MAIL_GID, MAIL_UID, NOBODY_UID, ProcInfo, Server, TestDir, make_message, require_root,
    wait_output,
};

const PASS: &str = "alice-secret-4";

/// Asserts all four ids (real, effective, saved, filesystem) of `field`
/// (`Uid:` or `Gid:`) are `want`.
fn assert_ids(p: &ProcInfo, field: &str, want: u32) {
    let ids = p.status_numbers(field);
    assert_eq!(ids, vec![want; 4], "{field} of {p:?}:\n{}", p.status());
}

/// Asserts no_new_privs is set and no capability is effective or permitted.
fn assert_unprivileged(p: &ProcInfo) {
    let status = p.status();
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["NoNewPrivs:", "1"]),
        "NoNewPrivs is not 1 for {p:?}:\n{status}"
    );
    for field in ["CapEff:", "CapPrm:"] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {field} line:\n{status}"));
        assert!(
            value.chars().all(|c| c == '0'),
            "{p:?} still has capabilities ({field} {value})"
        );
    }
}

/// Asserts `path` is owned by the mail uid/gid and readable by it alone.
fn assert_mail_file(path: &Path) {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        (meta.uid(), meta.gid()),
        (MAIL_UID, MAIL_GID),
        "{} is owned by {}:{}",
        path.display(),
        meta.uid(),
        meta.gid()
    );
    assert_eq!(
        meta.mode() & 0o777,
        0o600,
        "{} has mode {:o}",
        path.display(),
        meta.mode() & 0o777
    );
}

/// Every file and directory under `dir` (and `dir`), recursively.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    out.push(dir.to_owned());
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// As root, privileges are separated as designed: the imap process runs as
/// nobody (all four uids 65534, nobody's gid, no supplementary groups
/// besides it, no capabilities, NoNewPrivs 1), chrooted (`/proc/PID/root`)
/// into `<data_dir>/empty`, which is empty, root-owned and not writable by
/// others. After a login the user's storage process runs as uid/gid
/// 5000:5000 with NoNewPrivs and no capabilities. Message files under
/// `Maildir/cur` and the index are owned by 5000 with mode 0600, and
/// nothing under the home belongs to anyone else. The cluster key is
/// root's, mode 0600, and cannot be opened by uid 65534.
#[test]
fn privilege_separation() {
    if !require_root("privilege_separation") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", PASS);

    // --- the imap process ---
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("looking up nobody")
        .expect("the system has a nobody user");
    assert_eq!(
        nobody.uid.as_raw(),
        NOBODY_UID,
        "nobody's uid on this system"
    );
    let imap = server.wait_role("imap", None, None);
    assert_ids(&imap, "Uid:", NOBODY_UID);
    assert_ids(&imap, "Gid:", nobody.gid.as_raw());
    let groups = imap.status_numbers("Groups:");
    assert!(
        groups.iter().all(|&g| g == nobody.gid.as_raw()),
        "imap process keeps supplementary groups {groups:?}"
    );
    assert_unprivileged(&imap);
    let root = fs::read_link(format!("/proc/{}/root", imap.pid)).expect("reading /proc/PID/root");
    let chroot = fs::canonicalize(dir.chroot_dir()).expect("the chroot dir exists");
    assert_eq!(root, chroot, "the imap process's root directory");
    let meta = fs::metadata(&chroot).expect("chroot metadata");
    assert_eq!(
        meta.uid(),
        0,
        "the chroot dir is owned by uid {}",
        meta.uid()
    );
    assert_eq!(
        meta.mode() & 0o022,
        0,
        "the chroot dir is group/other writable ({:o})",
        meta.mode()
    );
    let entries: Vec<_> = fs::read_dir(&chroot)
        .expect("reading the chroot dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        entries.is_empty(),
        "the chroot dir is not empty: {entries:?}"
    );

    // --- the storage process, after a login, an append and a select ---
    let mut c = server.login("alice", PASS);
    let r = c
        .append("INBOX", &[], &make_message("privsep-1", 4000))
        .expect("APPEND");
    assert!(r.is_ok(), "APPEND: {r:?}");
    c.ok("SELECT INBOX");
    let storage = server.wait_role("storage", Some("alice"), None);
    assert_ids(&storage, "Uid:", MAIL_UID);
    assert_ids(&storage, "Gid:", MAIL_GID);
    assert_unprivileged(&storage);

    // --- the mail files ---
    let maildir = dir.maildir("alice");
    let cur: Vec<_> = fs::read_dir(maildir.join("cur"))
        .unwrap_or_else(|e| panic!("{}: {e}", maildir.join("cur").display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(cur.len(), 1, "Maildir/cur after one APPEND: {cur:?}");
    for f in &cur {
        assert_mail_file(f);
    }
    assert_mail_file(&maildir.join("mailkeep.index.sqlite"));
    let mut all = Vec::new();
    walk(&dir.home("alice"), &mut all);
    for p in &all {
        let meta = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            meta.uid(),
            MAIL_UID,
            "{} is owned by uid {}",
            p.display(),
            meta.uid()
        );
        assert_eq!(meta.mode() & 0o002, 0, "{} is world-writable", p.display());
    }
    c.logout();

    // --- the cluster key ---
    let key = dir.key_file();
    let meta = fs::metadata(&key).unwrap_or_else(|e| panic!("{}: {e}", key.display()));
    assert_eq!(meta.uid(), 0, "the key file is owned by uid {}", meta.uid());
    assert_eq!(
        meta.mode() & 0o777,
        0o600,
        "the key file has mode {:o}",
        meta.mode() & 0o777
    );
    let text = fs::read_to_string(&key).expect("reading the key as root");
    assert!(
        text.trim().len() == 64 && text.trim().chars().all(|c| c.is_ascii_hexdigit()),
        "the key file does not hold 64 hex digits"
    );
    // Exit 0: PermissionError as uid 65534 (what we want); 3: it could read
    // the key; 4: the uid switch did not happen.
    let script = "import os, sys\n\
                  os.setgroups([])\n\
                  os.setgid(65534)\n\
                  os.setuid(65534)\n\
                  if os.getuid() != 65534 or os.geteuid() != 65534: sys.exit(4)\n\
                  try:\n    open(sys.argv[1], 'rb').read()\n\
                  except PermissionError:\n    sys.exit(0)\n\
                  sys.exit(3)\n";
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python3");
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "uid 65534 opening the key file: exit {} (3 = it could read it), stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The auth process without root (issue 10, DESIGN §1): it runs as its
//! own numeric uid/gid (no system account needed) with no capabilities
//! and no_new_privs, chrooted to the users file's directory, holding no
//! descriptor of its key file; the users file is root's, readable by
//! auth's group only, and stays so when `mailkeep user add` edits it.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::harness::{Server, TestDir, children_of, require_root, run_user_cmd};

/// The default `[auth] uid` and `gid`.
const AUTH_ID: u32 = 64_990;

fn status_line<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} line:\n{status}"))
}

#[test]
fn auth_runs_as_its_own_uid_without_capabilities_chrooted_to_the_users_file() {
    if !require_root("auth_runs_as_its_own_uid_without_capabilities_chrooted_to_the_users_file") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    // A login answered by auth: it has confined itself and serves (its
    // process exists a moment earlier, still setting up).
    let refused = server
        .connect()
        .login("nobody", "wrong")
        .expect("LOGIN answered");
    assert_eq!(
        refused.status(),
        mailkeep_testkit::Status::No,
        "{refused:?}"
    );
    let auth: Vec<_> = children_of(server.pid())
        .into_iter()
        .filter(|p| p.role() == Some("auth"))
        .collect();
    assert_eq!(auth.len(), 1, "one auth process: {auth:?}");
    let auth = &auth[0];
    let status = auth.status();
    for field in ["Uid:", "Gid:"] {
        assert_eq!(
            auth.status_numbers(field),
            vec![AUTH_ID; 4],
            "{field}\n{status}"
        );
    }
    assert_eq!(status_line(&status, "Groups:"), AUTH_ID.to_string());
    for field in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
        let value = status_line(&status, field);
        assert!(
            value.chars().all(|c| c == '0'),
            "auth has capabilities ({field} {value})"
        );
    }
    assert_eq!(status_line(&status, "NoNewPrivs:"), "1");

    // Its root is the directory of the users file, nothing wider.
    let root = fs::read_link(format!("/proc/{}/root", auth.pid)).expect("reading its root");
    let users = dir.users_file();
    assert_eq!(Some(root.as_path()), users.parent(), "auth's root");
    // The key came as a descriptor and is not held open.
    let key_file = dir.data_dir().join("keys/host.key");
    for fd in fs::read_dir(format!("/proc/{}/fd", auth.pid)).expect("its descriptors") {
        let target = fs::read_link(fd.expect("fd").path()).unwrap_or_default();
        assert_ne!(target, key_file, "auth keeps its key file open");
    }
    let key = fs::metadata(&key_file).expect("the key file");
    assert_eq!((key.uid(), key.mode() & 0o777), (0, 0o600));

    let assert_users_file = |when: &str| {
        let meta = fs::metadata(&users).expect("the users file");
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (0, AUTH_ID, 0o640),
            "users file {when}"
        );
    };
    assert_users_file("after the start");
    // `mailkeep user add` (as root) keeps it so, and auth reads the result.
    server.add_user("fay", "fay-secret-1");
    assert_users_file("after user add");
    run_user_cmd(&server.config, &["passwd", "fay"], Some("fay-secret-2"));
    assert_users_file("after user passwd");
    server.login("fay", "fay-secret-2").logout();
}

//! Started by a user other than root, mailkeep runs every process as that
//! user, says loudly that privilege separation is off, and still works.

use std::os::unix::fs::MetadataExt;

use crate::harness::{Server, TestDir, require_root};

const NOBODY: u32 = 65534;

/// `mailkeep serve` run as uid 65534: a warning on stderr names privilege
/// separation as off; the demo account logs in and appends; the master and
/// every child (auth, imap, storage) run as 65534, and the mail files it
/// writes are owned by 65534.
#[test]
fn started_as_another_user_warns_and_runs_as_that_user() {
    if !require_root("started_as_another_user_warns_and_runs_as_that_user") {
        return;
    }
    let dir = TestDir::new();
    let data = dir.data_dir();
    std::fs::create_dir_all(&data).expect("creating the data dir");
    nix::unistd::chown(
        &data,
        Some(nix::unistd::Uid::from_raw(NOBODY)),
        Some(nix::unistd::Gid::from_raw(NOBODY)),
    )
    .expect("chown of the data dir");

    let server = Server::start_as(&dir, NOBODY);
    let logs = server.wait_for_output(
        "the privilege-separation warning",
        std::time::Duration::from_secs(10),
        |out| {
            out.contains("privilege separation is OFF")
                .then(|| out.to_owned())
        },
    );
    assert!(logs.contains("WARNING"), "{logs}");
    let password =
        server.wait_for_output("the demo line", std::time::Duration::from_secs(5), |_| {
            crate::demo::demo_password(&server.stdout())
        });

    let mut c = server.login("demo", &password);
    c.ok("SELECT INBOX");
    let r = c
        .append("INBOX", &[], b"Subject: unprivileged\r\n\r\nhello\r\n")
        .expect("APPEND");
    assert!(r.is_ok(), "APPEND as an unprivileged server: {r:?}");

    let master = crate::harness::proc_info(server.pid()).expect("master");
    assert_eq!(master.status_numbers("Uid:"), vec![NOBODY; 4]);
    for role in ["auth", "imap", "storage"] {
        let p = server.wait_role(role, None, None);
        assert_eq!(p.status_numbers("Uid:"), vec![NOBODY; 4], "{role} uid");
    }
    let files = crate::harness::files_in(&dir.maildir("demo").join("cur"), 1);
    for f in files {
        let meta = f.metadata().expect("stat");
        assert_eq!(meta.uid(), NOBODY, "{:?} owner", f.path());
        assert_eq!(meta.mode() & 0o777, 0o600, "{:?} mode", f.path());
    }
    c.logout();
}

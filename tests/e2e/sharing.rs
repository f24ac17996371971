//! Sharing mailboxes between users of different uids (DESIGN §2): alice
//! (uid 5000) grants bob (uid 5001) rights with `mailkeep admin acl`; bob's
//! session reaches alice's storage process with bob's own ticket, and that
//! process, running as alice's uid, checks alice's ACLs on every call. No
//! file is made group-readable and no process of bob's uid opens alice's
//! files.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

use mailkeep_frontend::Retry;
use mailkeep_frontend::client::login;
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::{
    ListMailboxesRequest, MailboxStatusRequest, StoreFlagsRequest, StoreMode, UidRange,
};

use crate::harness::{Server, TestDir, files_under, require_root, run_user_cmd};

/// `mailkeep admin acl ARGS` against `server`, which must succeed.
pub(crate) fn admin_acl(server: &Server<'_>, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["admin", "acl"])
        .args(args)
        .arg("--config")
        .arg(&server.config)
        .output()
        .expect("running mailkeep admin acl");
    assert!(
        out.status.success(),
        "admin acl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A server in `mode` with alice (uid 5000: Projects, Team and Private,
/// one message each) and bob (uid 5001); alice grants bob `lr` on
/// Projects and `lrswi` on Team.
fn two_uids_sharing<'a>(dir: &'a TestDir, mode: &str) -> Server<'a> {
    let server = Server::start_with(dir, &format!("\n[storage]\nmode = \"{mode}\"\n"));
    server.add_user("alice", "a-secret");
    run_user_cmd(
        &server.config,
        &["add", "bob", "--uid", "5001", "--gid", "5001"],
        Some("b-secret"),
    );
    let mut a = server.login("alice", "a-secret");
    for mailbox in ["Projects", "Team", "Private"] {
        a.ok(&format!("CREATE {mailbox}"));
        let message = format!("Subject: {mailbox}\r\n\r\nfor the {mailbox} folder\r\n");
        let r = a.append(mailbox, &[], message.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "{r:?}");
    }
    a.logout();
    admin_acl(&server, &["set", "alice", "Projects", "bob", "lr"]);
    admin_acl(&server, &["set", "alice", "Team", "bob", "lrswi"]);
    let listed = admin_acl(&server, &["get", "alice", "Team"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "alice lrswipkxtea\nbob lrswi\n"
    );
    server
}

/// bob, through the client API with his own ticket: the broker names
/// alice as someone who shares with him; alice's storage lists Projects
/// and Team only, reads them, lets him flag on Team but not on
/// Projects, and answers INBOX and Private as if they did not exist.
fn bob_reaches_exactly_what_alice_granted(dir: &TestDir) {
    let socket = dir.data_dir().join("run/client.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let broker = BrokerClient::connect(&socket)
            .await
            .expect("the client socket");
        let bob = login(broker, "bob", b"b-secret", "e2e")
            .await
            .expect("bob's login");
        assert_eq!(
            bob.sharing_owners().await.expect("sharing owners"),
            ["alice"]
        );
        let listing = bob
            .call("alice", Retry::Idempotent, |rpc| {
                let request = rpc.request(ListMailboxesRequest {
                    owner: "alice".into(),
                });
                async move { rpc.storage().list_mailboxes(request).await }
            })
            .await
            .expect("alice's mailboxes as bob sees them");
        let mut names: Vec<&str> = listing.mailboxes.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["Projects", "Team"]);
        for (mailbox, expected) in [
            ("Projects", Ok(1)),
            ("Team", Ok(1)),
            ("Private", Err(ErrorReason::Nonexistent)),
            ("INBOX", Err(ErrorReason::Nonexistent)),
        ] {
            let status = bob
                .call("alice", Retry::Idempotent, |rpc| {
                    let request = rpc.request(MailboxStatusRequest {
                        owner: "alice".into(),
                        name: mailbox.into(),
                        ..Default::default()
                    });
                    async move { rpc.storage().mailbox_status(request).await }
                })
                .await;
            let got = status
                .map(|s| s.status.unwrap_or_default().messages)
                .map_err(|e| e.reason());
            assert_eq!(got, expected, "STATUS {mailbox} as bob");
        }
        for (mailbox, expected) in [
            ("Team", Ok(())),
            ("Projects", Err(ErrorReason::NoPermission)),
        ] {
            let stored = bob
                .call("alice", Retry::Idempotent, |rpc| {
                    let request = rpc.request(StoreFlagsRequest {
                        owner: "alice".into(),
                        mailbox: mailbox.into(),
                        uidvalidity: 0,
                        uids: vec![UidRange { first: 1, last: 1 }],
                        mode: StoreMode::Add as i32,
                        flags: vec!["\\Flagged".into()],
                        unchanged_since: None,
                    });
                    async move { rpc.storage().store_flags(request).await }
                })
                .await;
            assert_eq!(
                stored.map(drop).map_err(|e| e.reason()),
                expected,
                "STORE \\Flagged on {mailbox} as bob"
            );
        }
        bob.end().await;
    });
}

/// bob over IMAP: the shared namespace lists what alice shares with him
/// (and not Private), he reads Team, and may not flag on Projects.
fn bob_over_imap(server: &Server<'_>) {
    let mut bob = server.login("bob", "b-secret");
    let listed = bob.ok("LIST \"\" \"shared.*\"");
    let names: Vec<String> = listed.list("LIST").into_iter().map(|l| l.name).collect();
    for name in ["shared.alice", "shared.alice.Projects", "shared.alice.Team"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains("Private") || n == "shared.alice.INBOX"),
        "{names:?}"
    );
    let selected = bob.ok("SELECT shared.alice.Team");
    assert_eq!(selected.exists(), Some(1));
    let body = bob.ok("FETCH 1 BODY.PEEK[]");
    assert!(
        format!("{body:?}").contains("for the Team folder"),
        "{body:?}"
    );
    bob.ok("STORE 1 +FLAGS (\\Flagged)");
    bob.ok("SELECT shared.alice.Projects");
    let refused = bob.run("STORE 1 +FLAGS (\\Flagged)").expect("STORE");
    assert!(refused.has_code("NOPERM"), "{refused:?}");
    let hidden = bob.run("SELECT shared.alice.Private").expect("SELECT");
    assert!(hidden.has_code("NONEXISTENT"), "{hidden:?}");
    bob.logout();
}

fn sharing_across_uids_in(mode: &str) {
    let dir = TestDir::new();
    let server = two_uids_sharing(&dir, mode);
    bob_reaches_exactly_what_alice_granted(&dir);
    bob_over_imap(&server);

    // alice's mail was read and changed only by processes of her uid (or,
    // in shared mode, by threads working as her uid): her files stay hers
    // and private.
    let storage = server.role_procs("storage", None);
    let uids: Vec<u32> = storage
        .iter()
        .map(|p| p.status_numbers("Uid:")[0])
        .collect();
    match mode {
        "shared" => assert_eq!(uids, [64_992], "one shared-mode process, its own uid"),
        _ => assert!(
            uids.contains(&5000) && !uids.contains(&0),
            "alice's mail is served as 5000: {uids:?}"
        ),
    }
    for entry in files_under(&dir.maildir("alice")) {
        let meta = std::fs::metadata(&entry).expect("stat");
        assert_eq!(meta.uid(), 5000, "{} is alice's", entry.display());
        assert_eq!(
            meta.mode() & 0o077,
            0,
            "{} is open to group or others",
            entry.display()
        );
    }
}

#[test]
fn sharing_across_uids_per_uid_mode() {
    if !require_root("sharing_across_uids_per_uid_mode") {
        return;
    }
    sharing_across_uids_in("per-uid");
}

#[test]
fn sharing_across_uids_per_user_mode() {
    if !require_root("sharing_across_uids_per_user_mode") {
        return;
    }
    sharing_across_uids_in("per-user");
}

#[test]
fn sharing_across_uids_shared_mode() {
    if !require_root("sharing_across_uids_shared_mode") {
        return;
    }
    sharing_across_uids_in("shared");
}

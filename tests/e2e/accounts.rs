//! Accounts and storage processes: the `mailkeep user` commands against a
//! running server, and one storage process per user, shared by all of that
//! user's sessions.

use mailkeep_testkit::Status;

use crate::harness::{Server, TestDir, run_user_cmd};

/// `user passwd` changes the password a running server checks (the old one
/// stops working), `user list` shows the accounts, and `user del` makes
/// logins fail; a duplicate `user add` is refused.
#[test]
fn user_commands_take_effect_on_a_running_server() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("carol", "first-secret");
    server.login("carol", "first-secret").logout();

    let config = server.config.clone();
    run_user_cmd(&config, &["passwd", "carol"], Some("second-secret"));
    let mut old = server.connect();
    let r = old.login("carol", "first-secret").expect("LOGIN");
    assert_eq!(r.status(), Status::No, "old password still accepted: {r:?}");
    server.login("carol", "second-secret").logout();

    let listing = run_user_cmd(&config, &["list"], None);
    assert!(
        listing.lines().any(|l| l.starts_with("carol\t")),
        "{listing}"
    );
    assert!(
        listing.lines().any(|l| l.starts_with("demo\t")),
        "{listing}"
    );

    let dup = std::process::Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["user", "add", "carol", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running user add");
    assert!(!dup.status.success(), "a duplicate user add succeeded");

    run_user_cmd(&config, &["del", "carol"], None);
    let mut gone = server.connect();
    let r = gone.login("carol", "second-secret").expect("LOGIN");
    assert_eq!(r.status(), Status::No, "deleted user could log in: {r:?}");
}

/// In per-user mode (the default is per-uid, see modes.rs), two sessions
/// of one user are served by one storage process (the broker hands the
/// imap process the same connection again); another user gets a process
/// of their own.
#[test]
fn one_storage_process_per_user_shared_by_sessions() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "\n[storage]\nmode = \"per-user\"\n");
    server.add_user("alice", "a-secret");
    server.add_user("bob", "b-secret");

    let mut a1 = server.login("alice", "a-secret");
    a1.ok("SELECT INBOX");
    let first = server.wait_role("storage", Some("alice"), None);
    let sockets_with_one_session = socket_count(first.pid);
    let mut a2 = server.login("alice", "a-secret");
    a2.ok("SELECT INBOX");
    a2.ok("NOOP");
    let alice_procs = server.role_procs("storage", Some("alice"));
    assert_eq!(
        alice_procs.len(),
        1,
        "alice has {} storage processes",
        alice_procs.len()
    );
    assert_eq!(
        alice_procs[0].pid, first.pid,
        "alice's storage process changed"
    );
    // No new connection for the second session: it reused the first one's.
    assert_eq!(
        socket_count(first.pid),
        sockets_with_one_session,
        "the second session of alice made a new connection to her storage process"
    );

    let mut b = server.login("bob", "b-secret");
    b.ok("SELECT INBOX");
    let bob = server.wait_role("storage", Some("bob"), None);
    assert_ne!(bob.pid, first.pid, "bob shares alice's storage process");
    a1.logout();
    a2.logout();
    b.logout();
}

/// How many sockets process `pid` has open.
fn socket_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
}

/// Accounts whose uid is 0 or below `first_valid_uid` (500) are never
/// served: the right password gets `NO [CONTACTADMIN]` with a reason that
/// names the uid, no storage process is started for them, and the server
/// goes on serving others.
#[test]
fn low_uid_accounts_are_refused_with_a_clear_error() {
    if !crate::harness::require_root("low_uid_accounts_are_refused_with_a_clear_error") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    run_user_cmd(
        &server.config,
        &["add", "rooty", "--uid", "0", "--gid", "0"],
        Some("r-secret"),
    );
    run_user_cmd(
        &server.config,
        &["add", "sys", "--uid", "100", "--gid", "100"],
        Some("s-secret"),
    );
    for (user, password, uid) in [("rooty", "r-secret", "0"), ("sys", "s-secret", "100")] {
        let mut c = server.connect();
        let r = c.login(user, password).expect("LOGIN");
        assert_eq!(r.status(), Status::No, "{user}: {r:?}");
        assert!(r.has_code("CONTACTADMIN"), "{user}: {r:?}");
        assert!(r.text().contains(&format!("uid {uid}")), "{user}: {r:?}");
        assert!(
            server.role_procs("storage", Some(user)).is_empty(),
            "{user} got storage"
        );
    }
    server.add_user("fine", "f-secret");
    server.login("fine", "f-secret").logout();
}

/// `user add --scheme` and `user passwd --scheme` store the password in the
/// scheme named (SCRAM-SHA-256 in Dovecot's record format, which the
/// running server then checks for LOGIN too); `passwd` without `--scheme`
/// goes back to ARGON2ID; an unknown scheme is refused with the list of
/// choices and adds no one.
#[test]
fn user_commands_store_the_password_scheme_asked_for() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let config = server.config.clone();
    let stored = |name: &str| -> String {
        let users = std::fs::read_to_string(dir.users_file()).expect("reading the users file");
        users
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_else(|| panic!("no line for {name}:\n{users}"))
            .to_owned()
    };

    run_user_cmd(
        &config,
        &["add", "sam", "--scheme", "SCRAM-SHA-256"],
        Some("pencil-1"),
    );
    let record = stored("sam");
    let fields: Vec<&str> = record
        .strip_prefix("{SCRAM-SHA-256}")
        .unwrap_or_else(|| panic!("not a SCRAM-SHA-256 record: {record}"))
        .split(',')
        .collect();
    assert_eq!(fields.len(), 4, "{record}");
    assert_eq!(fields[0], "4096", "{record}");
    server.login("sam", "pencil-1").logout();

    run_user_cmd(
        &config,
        &["passwd", "sam", "--scheme", "sha512-crypt"],
        Some("pencil-2"),
    );
    assert!(
        stored("sam").starts_with("{SHA512-CRYPT}$6$"),
        "{}",
        stored("sam")
    );
    let r = server.connect().login("sam", "pencil-1").expect("LOGIN");
    assert_eq!(r.status(), Status::No, "old password still accepted: {r:?}");
    server.login("sam", "pencil-2").logout();

    run_user_cmd(&config, &["passwd", "sam"], Some("pencil-3"));
    assert!(
        stored("sam").starts_with("{ARGON2ID}$argon2id$"),
        "{}",
        stored("sam")
    );
    server.login("sam", "pencil-3").logout();

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["user", "add", "rex", "--scheme", "NOSUCH", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running user add");
    assert!(!refused.status.success(), "an unknown scheme was accepted");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("NOSUCH") && stderr.contains("SCRAM-SHA-256"),
        "{stderr}"
    );
    let listing = run_user_cmd(&config, &["list"], None);
    assert!(!listing.contains("rex"), "{listing}");

    // An error says its cause once (it was printed twice: by the error's
    // own message and again as the next link of its chain).
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_mailkeep"))
        .args(["user", "list", "--config", "/nonexistent/mailkeep.toml"])
        .output()
        .expect("running user list");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("/nonexistent/mailkeep.toml"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

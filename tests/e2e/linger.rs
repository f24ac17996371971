//! Lingering storage processes: an idle storage process stays for a while
//! after its last client, longer for owners who come back at a steady
//! rhythm, and then exits. Protocol processes keep their connection to it
//! open for a while (`keep_warm_secs`), within that time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::{Server, TestDir, require_root, wait_until};

const LINGER: &str = "\n[storage]\nlinger_min_secs = 1\nlinger_max_secs = 5\n";

/// Logs `user` in, selects INBOX, logs out, and returns the pid of the
/// storage process that served the session.
fn one_session(server: &Server<'_>, user: &str, password: &str) -> i32 {
    let mut c = server.login(user, password);
    c.ok("SELECT INBOX");
    let procs = server.role_procs("storage", Some(user));
    assert_eq!(
        procs.len(),
        1,
        "storage processes of {user}: {}",
        procs.len()
    );
    c.logout();
    procs[0].pid
}

/// Waits (at most 30 s) until `user` has no storage process left.
fn wait_storage_gone(server: &Server<'_>, user: &str) {
    wait_until(
        Duration::from_secs(30),
        &format!("{user}'s idle storage process to exit"),
        || {
            server
                .role_procs("storage", Some(user))
                .is_empty()
                .then_some(())
        },
    );
}

/// A second login within the linger time is served by the same storage
/// process; once the linger time has passed with no client, the process is
/// gone.
///
/// The minimum linger time is 5 s here (not [`LINGER`]'s 1 s): the second
/// login must come within it, however slowly a loaded machine logs in.
#[test]
fn idle_storage_process_lingers_then_exits() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nlinger_min_secs = 5\nlinger_max_secs = 5\n",
    );
    server.add_user("alice", "a-secret");
    let first = one_session(&server, "alice", "a-secret");
    let second = one_session(&server, "alice", "a-secret");
    assert_eq!(
        first, second,
        "the second login did not reuse the lingering process"
    );
    wait_storage_gone(&server, "alice");
}

/// An owner who reconnects every 2 seconds (like a POP3 poller) keeps a
/// warm process once the rhythm is known, although the minimum linger time
/// (1 s) is shorter than the gap. The process of the very first, one-off
/// login is waited for to go before the rhythm starts (a first login
/// slowed by a loaded machine must not make it look kept); that a one-off
/// login gets only the minimum linger time is the linger policy's unit
/// test (`one_off_login_gets_the_minimum`).
#[test]
fn a_regular_reconnecter_keeps_a_warm_process() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, LINGER);
    server.add_user("poller", "p-secret");
    let gap = Duration::from_secs(2);
    let first_at = Instant::now();
    one_session(&server, "poller", "p-secret");
    wait_storage_gone(&server, "poller");
    // The rhythm starts two gaps after the first login (a gap to learn
    // from that is no shorter than the rhythm's).
    let mut pids = Vec::new();
    let start = (first_at + gap * 2).max(Instant::now());
    for i in 0..3u32 {
        let due = start + gap * i;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        pids.push(one_session(&server, "poller", "p-secret"));
    }
    assert_eq!(
        &pids[1..],
        &[pids[0], pids[0]],
        "a steady 2 s rhythm should keep the process warm: {pids:?}"
    );
}

/// The sockets `pid` has open (their inodes).
fn sockets(pid: i32) -> BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("reading the storage process's descriptors")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.starts_with("socket:"))
        .collect()
}

/// The IMAP process keeps its storage connection open after the session
/// (`keep_warm_secs`): the owner's next login is served over it, the
/// storage process accepting no new connection.
#[test]
fn the_next_login_reuses_the_kept_storage_connection() {
    if !require_root("the_next_login_reuses_the_kept_storage_connection") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nlinger_min_secs = 60\nkeep_warm_secs = 60\n",
    );
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    c.ok("SELECT INBOX");
    let storage = server.wait_role("storage", Some("alice"), None);
    let during = sockets(storage.pid);
    c.logout();
    let mut c = server.login("alice", "a-secret");
    c.ok("SELECT INBOX");
    assert_eq!(
        server.role_procs("storage", Some("alice"))[0].pid,
        storage.pid
    );
    assert_eq!(
        sockets(storage.pid),
        during,
        "the storage process accepted a new connection"
    );
    c.logout();
}

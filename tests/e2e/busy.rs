//! A busy storage process gets a sibling: while one session keeps a long
//! call running, a new session of the same owner is served by a second
//! storage process and is not held up.

use std::time::{Duration, Instant};

use crate::harness::{Server, TestDir, wait_until};

/// Session A asks for 24 MB of message bodies and does not read them, so
/// its FETCH stays in flight in the storage process (stalled on flow
/// control, as a long SEARCH would be busy). After the busy threshold the
/// process reports busy; session B then logs in, and its SELECT and FETCH
/// complete promptly, served by a second storage process of the same
/// owner (two pids), while A's FETCH is still unfinished.
#[test]
fn a_new_session_avoids_a_busy_storage_process() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nbusy_after_ms = 200\nmax_processes_per_key = 2\n",
    );
    server.add_user("alice", "a-secret");

    let mut a = server.login("alice", "a-secret");
    let line = "All work and no play makes a busy storage process.\r\n";
    let body: String = line.repeat(1024 * 1024 / line.len());
    for i in 0..24 {
        let message = format!("Subject: big {i}\r\nMessage-ID: <big{i}@test>\r\n\r\n{body}");
        let r = a.append("INBOX", "", message.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "APPEND {i}: {r:?}");
    }
    a.ok("SELECT INBOX");
    let first = server.wait_role("storage", Some("alice"), None);
    a.send_raw(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .expect("sending FETCH");

    wait_until(
        Duration::from_secs(15),
        "the storage process to report busy",
        || server.logs().contains("busy=true").then_some(()),
    );

    let started = Instant::now();
    let mut b = server.login("alice", "a-secret");
    b.ok("SELECT INBOX");
    let r = b.ok("FETCH 1 (FLAGS RFC822.SIZE)");
    assert!(r.fetches().len() == 1, "B's FETCH: {r:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "B was held up for {took:?}");

    let procs = server.role_procs("storage", Some("alice"));
    assert_eq!(
        procs.len(),
        2,
        "alice should have a second storage process now"
    );
    assert!(
        procs.iter().any(|p| p.pid == first.pid),
        "the busy process is gone"
    );
    b.logout();
}

//! A busy storage process gets a sibling: while one session keeps a long
//! call running, a new session of the same owner is served by a second
//! storage process and is not held up.

use std::time::{Duration, Instant};

use crate::harness::{Server, TestDir};

/// Session A asks for 24 MB of message bodies and does not read them, so
/// its FETCH stays in flight in the storage process (stalled on flow
/// control, as a long SEARCH would be busy). After the busy threshold the
/// process reports busy; session B then logs in, and its SELECT and FETCH
/// complete, served by a second storage process of the same owner (two
/// pids), while A's FETCH is still unfinished (it cannot finish: A does
/// not read).
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
        let r = a.append("INBOX", &[], message.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "APPEND {i}: {r:?}");
    }
    a.ok("SELECT INBOX");
    let first = server.wait_role("storage", Some("alice"), None);
    let busy_before = server.count_in_output("busy=true");
    a.send_raw(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .expect("sending FETCH");
    server.wait_for_another("busy=true", busy_before, Duration::from_secs(15));

    let mut b = server.login("alice", "a-secret");
    b.ok("SELECT INBOX");
    let r = b.ok("FETCH 1 (FLAGS RFC822.SIZE)");
    assert!(r.fetches().len() == 1, "B's FETCH: {r:?}");

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

/// The issue's own scenario: while a SEARCH over a mailbox of 50,000
/// messages runs on one connection, a FETCH on a second connection of the
/// same user finishes before the SEARCH does, served by a second storage
/// process (two pids).
#[test]
fn a_fetch_is_not_held_up_by_a_long_search() {
    if !crate::harness::require_root("a_fetch_is_not_held_up_by_a_long_search") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        "\n[storage]\nbusy_after_ms = 200\nmax_processes_per_key = 2\n",
    );
    server.add_user("alice", "a-secret");
    let mut a = server.login("alice", "a-secret");
    a.ok("SELECT INBOX");

    // 50,000 messages written straight into the Maildir (an outside
    // change, indexed at the next NOOP), about 16 KB each (800 MB in all),
    // so that the search is long against B's login, SELECT and FETCH even
    // on a fast machine.
    let body = "The rain in Spain stays mainly in the plain.\r\n".repeat(360);
    crate::harness::bulk::fill_inbox(&dir, "alice", 50_000, &body);
    a.set_timeout(Duration::from_secs(120));
    let r = a.ok("NOOP");
    assert_eq!(
        r.exists(),
        Some(50000),
        "the messages were not picked up: {r:?}"
    );
    let first = server.wait_role("storage", Some("alice"), None);

    // Earlier long calls (the sync of 50,000 files) may have reported busy
    // already: wait for a new report.
    let busy_before = server.count_in_output("busy=true");
    a.send_raw(b"long SEARCH TEXT \"no such words in any message\"\r\n")
        .expect("sending SEARCH");
    server.wait_for_another("busy=true", busy_before, Duration::from_secs(30));

    let started = Instant::now();
    let mut b = server.login("alice", "a-secret");
    b.ok("SELECT INBOX");
    let r = b.ok("FETCH 1 (FLAGS)");
    assert_eq!(r.fetches().len(), 1, "B's FETCH: {r:?}");
    let fetch_took = started.elapsed();

    // The SEARCH has not answered yet: nothing of its reply has come.
    let early = a.response_ready().expect("reading session A");
    assert!(
        early.is_none(),
        "the SEARCH answered before B's FETCH was done: {early:?}"
    );
    let procs = server.role_procs("storage", Some("alice"));
    assert_eq!(
        procs.len(),
        2,
        "B should be served by a second storage process"
    );
    assert!(procs.iter().any(|p| p.pid == first.pid));

    a.set_timeout(Duration::from_secs(300));
    let search = a.read_reply("long").expect("the SEARCH reply");
    assert!(search.is_ok(), "{search:?}");
    assert!(search.untagged("SEARCH").next().is_some(), "{search:?}");
    let search_took = started.elapsed();
    // Reported, not asserted: the order above is the test.
    eprintln!("B's FETCH took {fetch_took:?}; the SEARCH answered after {search_took:?}");
    b.logout();
}

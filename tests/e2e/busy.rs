//! A busy storage process gets a sibling: while one session keeps a long
//! call running, a new session of the same owner is served by a second
//! storage process and is not held up; in a process shared by several
//! users, the others are answered, and new users go to another process.
//!
//! The tests that count an owner's processes keep no channel warm
//! (`keep_warm_secs = 0`): a warm one may carry a new session's first
//! calls to the busy process while the broker is still starting the
//! second (a fast call is answered there, which is allowed), and the count
//! taken after them would race with that start.

use std::time::{Duration, Instant};

use mailkeep_testkit::BlockingClient;

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
        "\n[storage]\nbusy_after_ms = 200\nmax_processes_per_key = 2\nkeep_warm_secs = 0\n",
    );
    server.add_user("alice", "a-secret");

    let mut a = with_big_inbox(&server, "alice", "a-secret");
    let first = server.wait_role("storage", Some("alice"), None);
    let busy_before = server.busy_reports_when_calm();
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
        "\n[storage]\nbusy_after_ms = 200\nmax_processes_per_key = 2\nkeep_warm_secs = 0\n",
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
    let busy_before = server.busy_reports_when_calm();
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

/// Logs `user` in, fills INBOX with 24 messages of 1 MB and selects it.
fn with_big_inbox(server: &Server<'_>, user: &str, password: &str) -> BlockingClient {
    let mut c = server.login(user, password);
    let line = "All work and no play makes a busy storage process.\r\n";
    let body: String = line.repeat(1024 * 1024 / line.len());
    for i in 0..24 {
        let message = format!("Subject: big {i}\r\nMessage-ID: <big{i}.{user}@test>\r\n\r\n{body}");
        let r = c.append("INBOX", &[], message.as_bytes()).expect("APPEND");
        assert!(r.is_ok(), "{user}'s APPEND {i}: {r:?}");
    }
    c.ok("SELECT INBOX");
    c
}

/// One storage process serves several users (per-uid mode, the default,
/// for accounts that share the mail uid). While two of them keep long
/// FETCHes in flight there (unread, so they cannot finish), a third user
/// already attached to it is answered, and a user who logs in while no
/// other call finishes there is served by a second storage process
/// (another pid).
#[test]
fn other_users_are_answered_while_their_shared_process_is_busy() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        // The threshold is also how long the process reports itself not busy
        // after Bob's FETCH finishes: long against its 100 ms load checks,
        // so that the test sees that report.
        "\n[storage]\nbusy_after_ms = 500\nmax_processes_per_key = 2\n",
    );
    for (user, password) in [
        ("alice", "a-secret"),
        ("carol", "c-secret"),
        ("bob", "b-secret"),
        ("dave", "d-secret"),
    ] {
        server.add_user(user, password);
    }
    // Each login after a calm report: an APPEND of 1 MB slow enough to be
    // reported busy would send the next user to a second process.
    let mut a = with_big_inbox(&server, "alice", "a-secret");
    server.busy_reports_when_calm();
    let mut c = with_big_inbox(&server, "carol", "c-secret");
    server.busy_reports_when_calm();
    let mut b = server.login("bob", "b-secret");
    let r = b
        .append("INBOX", &[], b"Subject: hello bob\r\n\r\nshort\r\n")
        .expect("bob's APPEND");
    assert!(r.is_ok(), "{r:?}");
    b.ok("SELECT INBOX");
    let shared = server.wait_role("storage", None, None);
    assert_eq!(
        server.role_procs("storage", None).len(),
        1,
        "alice, carol and bob share one storage process"
    );

    let busy_before = server.busy_reports_when_calm();
    a.send_raw(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .expect("sending alice's FETCH");
    c.send_raw(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .expect("sending carol's FETCH");
    server.wait_for_another("busy=true", busy_before, Duration::from_secs(15));

    // Bob's session stays on the busy process, and is answered there.
    let r = b.ok("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert_eq!(r.fetches().len(), 1, "bob's FETCH: {r:?}");

    // A call that finished shows the process is not held up: it is busy
    // again once no call has finished for the threshold.
    server.wait_for_another(
        "busy=true",
        server.count_in_output("busy=true"),
        Duration::from_secs(15),
    );
    // Dave, logging in now, gets a process of his own.
    let mut d = server.login("dave", "d-secret");
    d.ok("SELECT INBOX");
    let r = d.ok("STATUS Sent (MESSAGES)");
    assert_eq!(r.status_item("MESSAGES"), Some(0), "{r:?}");
    let procs = server.role_procs("storage", None);
    assert_eq!(procs.len(), 2, "a second storage process: {procs:?}");
    let daves = server.role_procs("storage", Some("dave"));
    assert_eq!(daves.len(), 1, "{procs:?}");
    assert_ne!(daves[0].pid, shared.pid, "dave avoided the busy process");
    assert!(procs.iter().any(|p| p.pid == shared.pid));
    b.logout();
    d.logout();
}

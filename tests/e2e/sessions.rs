//! Two sessions of one user: changes made through one reach the other.

use std::time::{Duration, Instant};

use crate::harness::{Imap, Response, Server, TestDir, make_message};

/// Runs NOOP on `conn` until an untagged response satisfies `want`
/// (at most 10 s), collecting everything seen; panics with it otherwise.
fn noop_until(conn: &mut Imap, what: &str, want: impl Fn(&Response) -> bool) -> Vec<Response> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let r = conn.ok("NOOP");
        let found = r.untagged.iter().any(&want);
        seen.extend(r.untagged);
        if found {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "session A's NOOP never reported {what}; it saw: {:?}",
            seen.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Session A, with INBOX selected, learns at NOOP what session B did to
/// the same mailbox: B's APPEND shows as `* 3 EXISTS`, B's STORE as
/// `* 1 FETCH (FLAGS (\Flagged))`, B's EXPUNGE as `* 2 EXPUNGE`; and A's
/// view (sequence numbers to UIDs) stays right after each change.
#[test]
fn two_sessions_see_changes() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "alice-secret-2");

    let mut b = server.login("alice", "alice-secret-2");
    for i in 1..=2 {
        let r = b
            .append(
                "INBOX",
                "",
                &make_message(&format!("two-sessions-{i}"), 1000),
            )
            .expect("APPEND");
        assert!(r.is_ok(), "B's APPEND {i}: {r:?}");
    }

    let mut a = server.login("alice", "alice-secret-2");
    let sel = a.ok("SELECT INBOX");
    assert!(sel.has_untagged("* 2 EXISTS"), "A's SELECT: {sel:?}");

    // B appends: A sees EXISTS.
    let r = b
        .append("INBOX", "", &make_message("two-sessions-3", 1000))
        .expect("APPEND");
    assert!(r.is_ok(), "B's third APPEND: {r:?}");
    let (_, uid3) = r.appenduid().expect("APPENDUID in B's APPEND reply");
    noop_until(&mut a, "* 3 EXISTS", |r| {
        r.text.eq_ignore_ascii_case("* 3 EXISTS")
    });
    let f = a.ok("FETCH 3 (UID)");
    let fetches = f.fetches();
    assert_eq!(fetches.len(), 1, "A's FETCH 3 (UID): {f:?}");
    assert_eq!(
        fetches[0].item_number("UID"),
        Some(u64::from(uid3)),
        "A's FETCH 3: {f:?}"
    );

    // B flags message 1: A sees a FETCH with the new flags.
    b.ok("SELECT INBOX");
    let r = b.ok("STORE 1 +FLAGS (\\Flagged)");
    assert!(
        r.fetches().iter().any(|f| f.text.contains("\\Flagged")),
        "B's STORE reply has no FETCH with \\Flagged: {r:?}"
    );
    noop_until(&mut a, "* 1 FETCH (FLAGS (\\Flagged))", |r| {
        r.text.starts_with("* 1 FETCH") && r.text.contains("\\Flagged")
    });

    // B deletes and expunges message 2: A sees * 2 EXPUNGE.
    b.ok("STORE 2 +FLAGS (\\Deleted)");
    let r = b.ok("EXPUNGE");
    assert!(r.has_untagged("* 2 EXPUNGE"), "B's EXPUNGE: {r:?}");
    noop_until(&mut a, "* 2 EXPUNGE", |r| {
        r.text.eq_ignore_ascii_case("* 2 EXPUNGE")
    });

    // A's view now: two messages, the flagged one first, B's third
    // append second.
    let f = a.ok("FETCH 1:* (UID FLAGS)");
    let fetches = f.fetches();
    assert_eq!(fetches.len(), 2, "A's FETCH 1:* after the expunge: {f:?}");
    assert!(
        fetches[0].text.contains("\\Flagged"),
        "A's message 1 lost \\Flagged: {f:?}"
    );
    assert_eq!(
        fetches[1].item_number("UID"),
        Some(u64::from(uid3)),
        "A's message 2: {f:?}"
    );

    a.logout();
    b.logout();
}

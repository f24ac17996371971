//! Two sessions of one user: changes made through one reach the other.

use crate::harness::{Server, TestDir, make_message};

/// Session A, with INBOX selected, learns at its next NOOP what session B
/// did to the same mailbox (B's command has completed, so the change is
/// there to see): B's APPEND shows as `* 3 EXISTS`, B's STORE as
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
                &[],
                &make_message(&format!("two-sessions-{i}"), 1000),
            )
            .expect("APPEND");
        assert!(r.is_ok(), "B's APPEND {i}: {r:?}");
    }

    let mut a = server.login("alice", "alice-secret-2");
    let sel = a.ok("SELECT INBOX");
    assert_eq!(sel.exists(), Some(2), "A's SELECT: {sel:?}");

    // B appends: A sees EXISTS.
    let r = b
        .append("INBOX", &[], &make_message("two-sessions-3", 1000))
        .expect("APPEND");
    assert!(r.is_ok(), "B's third APPEND: {r:?}");
    let (_, uid3) = r.appenduid().expect("APPENDUID in B's APPEND reply");
    let r = a.ok("NOOP");
    assert_eq!(r.exists(), Some(3), "A's NOOP after B's APPEND: {r:?}");
    let f = a.ok("FETCH 3 (UID)");
    let fetches = f.fetches();
    assert_eq!(fetches.len(), 1, "A's FETCH 3 (UID): {f:?}");
    assert_eq!(fetches[0].uid(), Some(uid3), "A's FETCH 3: {f:?}");

    // B flags message 1: A sees a FETCH with the new flags.
    b.ok("SELECT INBOX");
    let r = b.ok("STORE 1 +FLAGS (\\Flagged)");
    assert!(
        r.fetch(1).is_some_and(|f| f.has_flag("\\Flagged")),
        "B's STORE reply has no FETCH with \\Flagged: {r:?}"
    );
    let r = a.ok("NOOP");
    assert!(
        r.fetch(1).is_some_and(|f| f.has_flag("\\Flagged")),
        "A's NOOP after B's STORE: {r:?}"
    );

    // B deletes and expunges message 2: A sees * 2 EXPUNGE.
    b.ok("STORE 2 +FLAGS (\\Deleted)");
    let r = b.ok("EXPUNGE");
    assert_eq!(r.expunged(), [2], "B's EXPUNGE: {r:?}");
    let r = a.ok("NOOP");
    assert_eq!(r.expunged(), [2], "A's NOOP after B's EXPUNGE: {r:?}");

    // A's view now: two messages, the flagged one first, B's third
    // append second.
    let f = a.ok("FETCH 1:* (UID FLAGS)");
    let fetches = f.fetches();
    assert_eq!(fetches.len(), 2, "A's FETCH 1:* after the expunge: {f:?}");
    assert!(
        fetches[0].has_flag("\\Flagged"),
        "A's message 1 lost \\Flagged: {f:?}"
    );
    assert_eq!(fetches[1].uid(), Some(uid3), "A's message 2: {f:?}");

    a.logout();
    b.logout();
}

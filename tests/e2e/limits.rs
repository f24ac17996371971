//! Limits that keep one client from costing a storage process or an imap
//! process without bound (issue 10): LIST patterns and the number of
//! mailboxes per owner, each refused with `NO [LIMIT]` and nothing lost.

use crate::harness::{Server, TestDir};

const PASS: &str = "limits-secret-1";

/// A LIST pattern of 65,000 characters, one with 40 wildcards, and an LSUB
/// of the long one are each answered `NO [LIMIT]` at once; the session goes
/// on (NOOP, an ordinary LIST).
#[test]
fn list_patterns_over_the_limits_are_no_limit() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", PASS);
    let mut c = server.login("alice", PASS);
    let long = format!("{{65000+}}\r\n{}", "a".repeat(65_000));
    let wild = "%a".repeat(40);
    for command in [
        format!("LIST \"\" {long}"),
        format!("LIST \"\" \"{wild}\""),
        format!("LSUB \"\" {long}"),
    ] {
        let r = c.run(&command).expect("the command");
        assert!(
            !r.is_ok() && r.has_code("LIMIT"),
            "{}: {r:?}",
            &command[..20]
        );
    }
    c.ok("NOOP");
    let listed = c.ok("LIST \"\" \"*\"");
    assert!(
        listed
            .responses
            .iter()
            .any(|r| String::from_utf8_lossy(r.raw()).contains("INBOX")),
        "{listed:?}"
    );
    c.logout();
}

/// With `storage.max_mailboxes = 7` an account has INBOX, the four
/// special-use mailboxes and two more: the next CREATE is `NO [LIMIT]`,
/// and after a DELETE there is room again.
#[test]
fn create_beyond_the_mailbox_limit_is_no_limit() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, "[storage]\nmax_mailboxes = 7\n");
    server.add_user("alice", PASS);
    let mut c = server.login("alice", PASS);
    c.ok("CREATE One");
    c.ok("CREATE Two");
    let r = c.run("CREATE Three").expect("CREATE");
    assert!(!r.is_ok() && r.has_code("LIMIT"), "CREATE Three: {r:?}");
    let listed = c.ok("LIST \"\" \"*\"");
    assert!(
        !listed
            .responses
            .iter()
            .any(|r| String::from_utf8_lossy(r.raw()).contains("Three")),
        "{listed:?}"
    );
    c.ok("DELETE Two");
    c.ok("CREATE Three");
    c.logout();
}

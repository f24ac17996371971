//! Commands of one client that do not depend on each other run side by
//! side (RFC 9051 §5.5), shown by the order of the answers on one
//! connection.

use std::time::Duration;

use crate::harness::{Server, TestDir, bulk, require_root};

/// The issue's own case: on ONE connection, a `UID SEARCH TEXT` over
/// 50,000 messages and a `FETCH 1 (FLAGS)` sent together in one write.
/// The FETCH does not wait for the SEARCH: its tagged OK comes first, and
/// the SEARCH's after it. (A server running the commands one after the
/// other must answer the SEARCH first, whatever the timing.)
#[test]
fn a_fetch_pipelined_after_a_long_uid_search_gets_its_tagged_ok_first() {
    if !require_root("a_fetch_pipelined_after_a_long_uid_search_gets_its_tagged_ok_first") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "a-secret");
    let mut c = server.login("alice", "a-secret");
    c.ok("SELECT INBOX");
    let body = "The rain in Spain stays mainly in the plain.\r\n".repeat(40);
    bulk::fill_inbox(&dir, "alice", 50_000, &body);
    c.set_timeout(Duration::from_secs(240));
    let r = c.ok("NOOP");
    assert_eq!(r.exists(), Some(50_000), "{r:?}");

    c.send_raw(b"s UID SEARCH TEXT \"no such words in any message\"\r\nf FETCH 1 (FLAGS)\r\n")
        .expect("sending both in one write");
    let mut order = Vec::new();
    let mut fetched = Vec::new();
    let mut searched = Vec::new();
    while order.len() < 2 {
        let r = c.read_response().expect("a response");
        if let Some(tag) = r.tag() {
            assert!(
                r.status()
                    .is_some_and(|s| s.status == mailkeep_testkit::Status::Ok),
                "{r:?}"
            );
            order.push(tag.to_owned());
        } else if r.is_data("FETCH") {
            fetched.push(String::from_utf8_lossy(r.raw()).into_owned());
        } else if r.is_data("SEARCH") {
            searched.push(String::from_utf8_lossy(r.raw()).into_owned());
        } else {
            panic!("unexpected {r:?}");
        }
    }
    assert_eq!(order, ["f", "s"], "the FETCH answers first");
    // The session selected INBOX first: its message is \Recent here.
    assert_eq!(fetched, ["* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"]);
    assert_eq!(searched, ["* SEARCH\r\n"]);
    c.logout();
}

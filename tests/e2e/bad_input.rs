//! Hostile and broken input: wrong passwords, malformed commands, huge
//! lines and literals. The server must answer in protocol, and one bad
//! client must never hurt another.

use std::time::{Duration, Instant};

use mailkeep_testkit::{BlockingClient, Response, Status, StatusResponse};

use crate::harness::{Server, TestDir};

const USER: &str = "alice";
const PASS: &str = "alice-secret-3";

/// Reads responses until the one tagged `tag` and returns it; fails if a
/// `+` continuation request comes first.
fn tagged_without_continuation(c: &mut BlockingClient, tag: &str) -> StatusResponse {
    loop {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("reading the reply to {tag}: {e}"));
        assert!(
            r.continuation().is_none(),
            "the server sent a continuation request ({r:?}) for a literal it must refuse"
        );
        if r.is_tagged(tag) {
            return r.status().cloned().unwrap_or_else(|| unreachable!());
        }
    }
}

/// Asserts the connection still works: `a9 NOOP` → `a9 OK`.
fn assert_alive(c: &mut BlockingClient, after: &str) {
    c.send_raw(b"a9 NOOP\r\n")
        .unwrap_or_else(|e| panic!("connection unusable after {after}: {e}"));
    let r = c
        .read_reply("a9")
        .unwrap_or_else(|e| panic!("no answer to NOOP after {after}: {e}"));
    assert!(r.is_ok(), "NOOP after {after}: {r:?}");
}

/// Sends `line` and asserts the answer is BAD: the reply tagged `tag`, or
/// (for a line without a usable tag) the next response.
fn expect_bad(c: &mut BlockingClient, line: &[u8], tag: Option<&str>) {
    c.send_raw(line).expect("sending a malformed command");
    let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
    let answer: Response = match tag {
        Some(tag) => {
            c.read_reply(tag)
                .unwrap_or_else(|e| panic!("no reply to {shown:?}: {e}"))
                .tagged
        }
        None => c
            .read_response()
            .unwrap_or_else(|e| panic!("no reply to {shown:?}: {e}")),
    };
    assert_eq!(
        answer.status().map(|s| s.status),
        Some(Status::Bad),
        "{shown:?} was answered with {answer:?}, not BAD"
    );
}

/// A wrong password (and an unknown user) gets `NO [AUTHENTICATIONFAILED]`;
/// the login after a failure from the same address waits the configured
/// delay (failure_delay_ms = 200) before it is checked, and a correct login
/// on another connection works afterwards. Malformed commands (unknown
/// command, missing and wrong arguments, untagged garbage bytes) get BAD
/// and the connection goes on serving. A 200 KB line gets BAD or BYE, and
/// the server goes on serving others. An APPEND literal over
/// `imap.max_literal_size` is refused with TOOBIG and no `+`
/// continuation when synchronizing (the connection goes on), and its
/// non-synchronizing form closes that connection only: a concurrent
/// client is unaffected.
#[test]
fn bad_input() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);

    // --- wrong credentials ---
    for (attempt, (user, pass)) in [(USER, "not-the-password"), ("nosuchuser", "whatever")]
        .into_iter()
        .enumerate()
    {
        let mut c = server.connect();
        let started = Instant::now();
        let r = c.login(user, pass).expect("LOGIN with a wrong password");
        let took = started.elapsed();
        assert_eq!(
            r.status(),
            Status::No,
            "LOGIN {user} with a wrong password: {r:?}"
        );
        assert!(
            r.has_code("AUTHENTICATIONFAILED"),
            "LOGIN {user} refused without [AUTHENTICATIONFAILED]: {r:?}"
        );
        assert!(
            attempt == 0 || took >= Duration::from_millis(150),
            "LOGIN {user} after a failure answered after {took:?}, without the delay (200 ms)"
        );
    }
    let mut good = server.login(USER, PASS);
    good.ok("SELECT INBOX");

    // --- malformed commands on a logged-in connection ---
    let mut c = server.login(USER, PASS);
    expect_bad(&mut c, b"a1 FOO\r\n", Some("a1"));
    assert_alive(&mut c, "a1 FOO");
    expect_bad(&mut c, b"a2 SELECT\r\n", Some("a2"));
    assert_alive(&mut c, "a2 SELECT");
    expect_bad(&mut c, b"a3 FETCH x y\r\n", Some("a3"));
    assert_alive(&mut c, "a3 FETCH x y");
    expect_bad(&mut c, b"\x01\x02\xff\xfe (((\x00]]\r\n", None);
    assert_alive(&mut c, "garbage bytes without a tag");

    // --- APPEND over the size limit, synchronizing literal ---
    c.send_raw(b"a4 APPEND INBOX {999999999}\r\n")
        .expect("sending APPEND");
    let answer = tagged_without_continuation(&mut c, "a4");
    assert!(
        matches!(answer.status, Status::No | Status::Bad)
            && answer.code.as_ref().is_some_and(|c| c.is("TOOBIG")),
        "an over-limit APPEND was answered with {answer:?}, not NO [TOOBIG]"
    );
    assert_alive(&mut c, "a refused over-limit APPEND");
    c.logout();

    // --- a 200 KB line ---
    let mut c = server.login(USER, PASS);
    let mut line = b"a5 NOOP ".to_vec();
    line.resize(200 * 1024, b'x');
    line.extend_from_slice(b"\r\n");
    // The server may close while we are still writing: that is allowed.
    let _ = c.send_raw(&line);
    // Acceptable: BAD and the connection goes on; BAD and/or BYE and a
    // close; or just a close.
    match c.read_response() {
        Ok(r) if r.is_bye() => {}
        Ok(r) => {
            assert_eq!(
                r.status().map(|s| s.status),
                Some(Status::Bad),
                "a 200 KB line was answered with {r:?}, not BAD or BYE"
            );
            // Either it goes on (NOOP answered) or it says BYE / closes.
            let sent = c.send_raw(b"a9 NOOP\r\n");
            match c.read_response() {
                Ok(r) if r.is_bye() => {}
                Ok(r) => assert!(
                    r.is_tagged("a9") && r.status().is_some_and(|s| s.status == Status::Ok),
                    "NOOP after BAD for a 200 KB line: {r:?}"
                ),
                Err(e) => assert!(
                    e.is_disconnect() || sent.is_err(),
                    "after BAD for a 200 KB line: neither NOOP's reply nor a close but {e}"
                ),
            }
        }
        Err(e) => assert!(
            e.is_disconnect(),
            "after a 200 KB line: neither a reply nor a close but {e}"
        ),
    }
    assert_alive(&mut good, "another client's 200 KB line");
    let mut other = server.login(USER, PASS);
    other.ok("NOOP");
    other.logout();

    // --- APPEND over the size limit, non-synchronizing literal ---
    let mut c = server.login(USER, PASS);
    let _ = c.send_raw(b"a6 APPEND INBOX {999999999+}\r\n");
    let _ = c.send_raw(&vec![b'y'; 64 * 1024]);
    c.set_timeout(Duration::from_secs(10));
    let got = c
        .read_until_closed()
        .expect("the server must close a connection announcing an over-limit {N+} literal");
    let got = String::from_utf8_lossy(&got);
    assert!(
        !got.to_ascii_uppercase().contains("A6 OK"),
        "an over-limit APPEND was accepted: {got:?}"
    );
    // The concurrent client and new clients are unaffected.
    assert_alive(&mut good, "another client's over-limit {N+} APPEND");
    let r = good.ok("STATUS INBOX (MESSAGES)");
    assert_eq!(
        r.status_item("MESSAGES"),
        Some(0),
        "a refused APPEND left a message behind: {r:?}"
    );
    let mut other = server.login(USER, PASS);
    other.ok("NOOP");
    other.logout();
    good.logout();
}

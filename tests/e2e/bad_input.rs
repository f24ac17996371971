//! Hostile and broken input: wrong passwords, malformed commands, huge
//! lines and literals. The server must answer in protocol, and one bad
//! client must never hurt another.

use std::io;
use std::time::{Duration, Instant};

use crate::harness::{Imap, Server, TestDir};

const USER: &str = "alice";
const PASS: &str = "alice-secret-3";

/// Reads responses until the one tagged `tag` and returns it; fails if a
/// `+` continuation request comes first.
fn tagged_without_continuation(c: &mut Imap, tag: &str) -> String {
    let prefix = format!("{tag} ");
    loop {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("reading the reply to {tag}: {e}"));
        assert!(
            !r.text.starts_with('+'),
            "the server sent a continuation request ({:?}) for a literal it must refuse",
            r.text
        );
        if r.text.starts_with(&prefix) {
            return r.text;
        }
    }
}

/// Asserts the connection still works: `a9 NOOP` → `a9 OK`.
fn assert_alive(c: &mut Imap, after: &str) {
    c.send_raw(b"a9 NOOP\r\n")
        .unwrap_or_else(|e| panic!("connection unusable after {after}: {e}"));
    let r = c
        .read_reply("a9")
        .unwrap_or_else(|e| panic!("no answer to NOOP after {after}: {e}"));
    assert!(r.is_ok(), "NOOP after {after}: {r:?}");
}

/// Sends `line` and returns the first response (it must contain BAD).
fn expect_bad(c: &mut Imap, line: &[u8], tag: Option<&str>) {
    c.send_raw(line).expect("sending a malformed command");
    let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
    let text = match tag {
        Some(tag) => {
            c.read_reply(tag)
                .unwrap_or_else(|e| panic!("no reply to {shown:?}: {e}"))
                .tagged
        }
        None => {
            c.read_response()
                .unwrap_or_else(|e| panic!("no reply to {shown:?}: {e}"))
                .text
        }
    };
    let words: Vec<String> = text
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    assert_eq!(
        words.get(1).map(String::as_str),
        Some("BAD"),
        "{shown:?} was answered with {text:?}, not BAD"
    );
    if let Some(tag) = tag {
        assert_eq!(
            words.first().map(String::as_str),
            Some(tag.to_ascii_uppercase().as_str()),
            "BAD with the wrong tag: {text:?}"
        );
    }
}

/// A wrong password (and an unknown user) gets `NO [AUTHENTICATIONFAILED]`
/// after the configured delay (failure_delay_ms = 200) and a correct login
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
    for (user, pass) in [(USER, "not-the-password"), ("nosuchuser", "whatever")] {
        let mut c = server.connect();
        let started = Instant::now();
        let r = c.login(user, pass).expect("LOGIN with a wrong password");
        let took = started.elapsed();
        assert_eq!(
            r.status(),
            "NO",
            "LOGIN {user} with a wrong password: {r:?}"
        );
        assert!(
            r.tagged
                .to_ascii_uppercase()
                .contains("[AUTHENTICATIONFAILED]"),
            "LOGIN {user} refused without [AUTHENTICATIONFAILED]: {r:?}"
        );
        assert!(
            took >= Duration::from_millis(150),
            "failed LOGIN {user} answered after {took:?}, without the failure delay (200 ms)"
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
    let text = tagged_without_continuation(&mut c, "a4");
    let upper = text.to_ascii_uppercase();
    assert!(
        (upper.starts_with("A4 NO") || upper.starts_with("A4 BAD")) && upper.contains("TOOBIG"),
        "an over-limit APPEND was answered with {text:?}, not NO [TOOBIG]"
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
    let closed_kinds = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        )
    };
    let is_bye = |r: &crate::harness::Response| r.text.to_ascii_uppercase().starts_with("* BYE");
    match c.read_response() {
        Ok(r) if is_bye(&r) => {}
        Ok(r) => {
            let upper = r.text.to_ascii_uppercase();
            assert!(
                upper.starts_with("A5 BAD") || upper.starts_with("* BAD"),
                "a 200 KB line was answered with {:?}, not BAD or BYE",
                r.text
            );
            // Either it goes on (NOOP answered) or it says BYE / closes.
            let sent = c.send_raw(b"a9 NOOP\r\n");
            match c.read_response() {
                Ok(r) if is_bye(&r) => {}
                Ok(r) => assert!(
                    r.text.to_ascii_uppercase().starts_with("A9 OK"),
                    "NOOP after BAD for a 200 KB line: {:?}",
                    r.text
                ),
                Err(e) => assert!(
                    closed_kinds(&e) || sent.is_err(),
                    "after BAD for a 200 KB line: neither NOOP's reply nor a close but {e}"
                ),
            }
        }
        Err(e) => assert!(
            closed_kinds(&e),
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
    let got = c
        .read_until_closed(Duration::from_secs(10))
        .expect("the server must close a connection announcing an over-limit {N+} literal");
    let got = String::from_utf8_lossy(&got);
    assert!(
        !got.to_ascii_uppercase().contains("A6 OK"),
        "an over-limit APPEND was accepted: {got:?}"
    );
    // The concurrent client and new clients are unaffected.
    assert_alive(&mut good, "another client's over-limit {N+} APPEND");
    let r = good.ok("STATUS INBOX (MESSAGES)");
    assert!(
        r.untagged
            .iter()
            .any(|u| u.text.to_ascii_uppercase().contains("(MESSAGES 0)")),
        "a refused APPEND left a message behind: {r:?}"
    );
    let mut other = server.login(USER, PASS);
    other.ok("NOOP");
    other.logout();
    good.logout();
}

//! POP3 end to end (RFC 1939, 2449): mail put in with IMAP APPEND is
//! listed, identified and retrieved over POP3 byte for byte (CRLF line
//! ends, dot-stuffing undone by the client); DELE + QUIT removes exactly
//! the deleted messages (seen over IMAP), a dropped connection removes
//! nothing; `pop3.lock_session`; bad input gets a clear `-ERR` and the
//! session goes on.

use mailkeep_testkit::{BlockingClient, Pop3Client};

use crate::harness::pop3::{self, Plain};
use crate::harness::{DEADLINE, Server, TestDir, wait_until};

const PASS: &str = "pop3-secret-1";

/// What IMAP says of the appended messages.
struct Appended {
    uidvalidity: u32,
    uids: Vec<u32>,
}

/// Appends `messages` to alice's INBOX over IMAP.
fn append_all(server: &Server<'_>, messages: &[&[u8]]) -> Appended {
    let mut imap = server.login("alice", PASS);
    let mut uids = Vec::new();
    let mut uidvalidity = 0;
    for m in messages {
        let r = imap.append("INBOX", &[], m).expect("APPEND");
        let (v, uid) = r.appenduid().unwrap_or_else(|| panic!("APPEND: {r:?}"));
        uidvalidity = v;
        uids.push(uid);
    }
    imap.logout();
    Appended { uidvalidity, uids }
}

/// The UIDs IMAP sees in alice's INBOX now.
fn imap_uids(server: &Server<'_>) -> Vec<u32> {
    let mut imap: BlockingClient = server.login("alice", PASS);
    imap.ok("SELECT INBOX");
    let search = imap.ok("UID SEARCH ALL");
    let mut uids: Vec<u32> = search
        .responses
        .iter()
        .map(|r| String::from_utf8_lossy(r.raw()).into_owned())
        .filter(|l| l.starts_with("* SEARCH"))
        .flat_map(|l| {
            l.split_whitespace()
                .skip(2)
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    uids.sort_unstable();
    imap.logout();
    uids
}

/// `bytes` with every line ending made CRLF, as POP3 serves it.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

const FIRST: &[u8] =
    b"From: a@example.org\r\nSubject: one\r\n\r\nHello.\r\n.\r\n..two dots\r\nend\r\n";
const SECOND: &[u8] =
    b"From: b@example.org\nSubject: bare LF\n\nline one\n.dot first\nline three\n";
const THIRD: &[u8] = b"Subject: no final line end\r\n\r\nlast line";

/// STAT, LIST, UIDL (Dovecot's `%08Xu%08Xv`), RETR and TOP give what was
/// appended, byte for byte with CRLF line ends; the sizes are those RETR
/// sends.
#[test]
fn pop3_lists_and_retrieves_appended_mail_byte_for_byte() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    let appended = append_all(&server, &[FIRST, SECOND, THIRD]);
    let served: Vec<Vec<u8>> = [FIRST, SECOND, THIRD].iter().map(|m| crlf(m)).collect();

    let mut c = pop3::login(&server, "alice", PASS);
    let total: usize = served.iter().map(Vec::len).sum();
    let stat = c.command("STAT").expect("STAT");
    assert_eq!(stat.0, format!("+OK 3 {total}"));

    let (status, body) = c.multiline("LIST").expect("LIST");
    assert!(status.is_ok(), "{status:?}");
    let want: Vec<String> = served
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, m.len()))
        .collect();
    assert_eq!(Plain::lines(&body), want);
    assert_eq!(
        c.command("LIST 2").expect("LIST 2").0,
        format!("+OK 2 {}", served[1].len())
    );

    let (status, body) = c.multiline("UIDL").expect("UIDL");
    assert!(status.is_ok(), "{status:?}");
    let uidls: Vec<String> = appended
        .uids
        .iter()
        .enumerate()
        .map(|(i, uid)| format!("{} {uid:08X}{:08X}", i + 1, appended.uidvalidity))
        .collect();
    assert_eq!(Plain::lines(&body), uidls);
    assert_eq!(
        c.command("UIDL 3").expect("UIDL 3").0,
        format!("+OK {}", uidls[2])
    );

    for (i, want) in served.iter().enumerate() {
        let (status, body) = c.multiline(&format!("RETR {}", i + 1)).expect("RETR");
        assert_eq!(status.0, format!("+OK {} octets", want.len()));
        // The last message has no final line end: POP3 adds one before
        // the terminating dot, which the client's reading keeps.
        let mut expected = want.clone();
        if !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&expected),
            "RETR {}",
            i + 1
        );
    }

    let (_, top0) = c.multiline("TOP 1 0").expect("TOP 1 0");
    assert_eq!(top0, b"From: a@example.org\r\nSubject: one\r\n\r\n");
    let (_, top2) = c.multiline("TOP 2 2").expect("TOP 2 2");
    assert_eq!(
        top2,
        b"From: b@example.org\r\nSubject: bare LF\r\n\r\nline one\r\n.dot first\r\n"
    );
    let quit = c.command("QUIT").expect("QUIT");
    assert!(quit.is_ok(), "{quit:?}");
    assert_eq!(imap_uids(&server), appended.uids, "nothing was deleted");
}

/// DELE marks (the message is gone from LIST and STAT, RETR of it is
/// refused), RSET unmarks, and QUIT removes exactly the marked messages
/// at once: IMAP sees them gone as soon as QUIT is answered.
#[test]
fn pop3_dele_then_quit_expunges_what_was_deleted() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    let appended = append_all(&server, &[FIRST, SECOND, THIRD]);

    let mut c = pop3::login(&server, "alice", PASS);
    assert!(c.command("DELE 1").expect("DELE").is_ok());
    assert!(c.command("RSET").expect("RSET").is_ok());
    assert!(c.command("DELE 1").expect("DELE").is_ok());
    assert!(c.command("DELE 3").expect("DELE").is_ok());
    let again = c.command("DELE 3").expect("DELE again");
    assert!(again.is_err(), "{again:?}");
    let retr = c.command("RETR 1").expect("RETR of a deleted message");
    assert_eq!(retr.0, "-ERR Message 1 is deleted");
    let stat = c.command("STAT").expect("STAT");
    assert_eq!(stat.0, format!("+OK 1 {}", crlf(SECOND).len()));
    let (_, list) = c.multiline("LIST").expect("LIST");
    assert_eq!(
        Plain::lines(&list),
        vec![format!("2 {}", crlf(SECOND).len())]
    );
    let quit = c.command("QUIT").expect("QUIT");
    assert_eq!(quit.0, "+OK Logging out, 2 messages deleted.");
    assert_eq!(imap_uids(&server), vec![appended.uids[1]]);
    // The maildrop of the next session has the one message left.
    let mut c = pop3::login(&server, "alice", PASS);
    assert_eq!(
        c.command("STAT").expect("STAT").0,
        format!("+OK 1 {}", crlf(SECOND).len())
    );
    c.command("QUIT").expect("QUIT");
}

/// A session that ends without QUIT (the client went away) commits
/// nothing: every message marked deleted is still there.
#[test]
fn pop3_dropped_connection_keeps_deleted_mail() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    let appended = append_all(&server, &[FIRST, SECOND]);
    let ended = server.count_in_output("session ended user=\"alice\"");
    let mut c = pop3::login(&server, "alice", PASS);
    assert!(c.command("DELE 1").expect("DELE").is_ok());
    assert!(c.command("DELE 2").expect("DELE").is_ok());
    drop(c);
    // The pop3 process logs the session's end once it has let it go.
    server.wait_for_another("session ended user=\"alice\"", ended, DEADLINE);
    assert_eq!(imap_uids(&server), appended.uids);
}

/// With `pop3.lock_session`, a second session on the same maildrop is
/// refused with `-ERR [IN-USE]` while the first lasts, and may log in
/// once the first has quit or gone away.
#[test]
fn pop3_lock_session_refuses_a_second_session_with_in_use() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(
        &dir,
        "[pop3]\nlock_session = true\nexempt_networks = [\"127.0.0.1\"]\n",
    );
    server.add_user("alice", PASS);
    server.add_user("bob", PASS);
    append_all(&server, &[FIRST]);
    let mut first = pop3::login(&server, "alice", PASS);
    let mut second = pop3::connect(&server);
    let refused = second.login("alice", PASS).expect("USER/PASS");
    assert_eq!(refused.code(), Some("IN-USE"), "{refused:?}");
    // Another user's maildrop is not locked by alice's session.
    let mut bob = pop3::login(&server, "bob", PASS);
    bob.command("QUIT").expect("QUIT");
    // The refused session may try again; once the first quit, it gets in.
    assert!(first.command("QUIT").expect("QUIT").is_ok());
    let stat = wait_until(DEADLINE, "the lock released after QUIT", || {
        let status = second.login("alice", PASS).ok()?;
        assert!(
            status.is_ok() || status.code() == Some("IN-USE"),
            "{status:?}"
        );
        status
            .is_ok()
            .then(|| second.command("STAT").expect("STAT"))
    });
    assert!(stat.0.starts_with("+OK 1 "), "{stat:?}");
    // A session that goes away without QUIT releases the lock too.
    drop(second);
    let mut third = pop3::connect(&server);
    wait_until(DEADLINE, "the lock released after a drop", || {
        let status = third.login("alice", PASS).ok()?;
        status.is_ok().then_some(())
    });
    third.command("QUIT").expect("QUIT");
}

/// Bad input gets a clear -ERR and loses nothing: an unknown command, an
/// overlong line, commands in the wrong state, a wrong password (with
/// auth's failed-login line naming pop3), messages that do not exist, a
/// malformed number; the session goes on and QUIT still works.
#[test]
fn pop3_bad_input_gets_clear_errors() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    append_all(&server, &[FIRST]);
    let mut c = pop3::connect(&server);
    assert_eq!(c.command("XYZZY").expect("XYZZY").0, "-ERR Unknown command");
    let long = format!("NOOP {}", "x".repeat(5000));
    assert_eq!(c.command(&long).expect("long").0, "-ERR Line too long");
    assert_eq!(
        c.command("STAT").expect("STAT").0,
        "-ERR Not logged in; log in first"
    );
    assert_eq!(
        c.command("PASS early").expect("PASS").0,
        "-ERR No user name given; send USER first"
    );
    assert!(c.command("APOP alice 0123").expect("APOP").is_err());
    let failed = server.count_in_output("login failed");
    let wrong = c.login("alice", "wrong-password").expect("login");
    assert_eq!(wrong.0, "-ERR [AUTH] Authentication failed.");
    server.wait_for_output("auth's failed-login line for pop3", DEADLINE, |out| {
        (out.matches("login failed").count() > failed
            && out
                .lines()
                .any(|l| l.contains("login failed") && l.contains("protocol=\"pop3\"")))
        .then_some(())
    });
    assert!(c.login("alice", PASS).expect("login").is_ok());
    assert_eq!(
        c.command("RETR 2").expect("RETR 2").0,
        "-ERR There is no message 2"
    );
    assert_eq!(
        c.command("RETR 0").expect("RETR 0").0,
        "-ERR There is no message 0"
    );
    assert_eq!(
        c.command("RETR one").expect("RETR one").0,
        "-ERR RETR: invalid message number or count"
    );
    assert_eq!(
        c.command("TOP 1").expect("TOP 1").0,
        "-ERR TOP: missing argument"
    );
    assert_eq!(
        c.command("USER alice").expect("USER").0,
        "-ERR Already logged in"
    );
    // Still serving: the message is intact.
    let (status, body) = c.multiline("RETR 1").expect("RETR 1");
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(body, FIRST);
    assert!(c.command("QUIT").expect("QUIT").is_ok());
    server.wait_for_output("the pop3 session-end line", DEADLINE, |out| {
        out.lines()
            .any(|l| l.contains("pop3[") && l.contains("session ended user=\"alice\""))
            .then_some(())
    });
}

/// CAPA (RFC 2449) before login lists USER, SASL and STLS with the rest;
/// after login only what still applies. PIPELINING holds: commands sent
/// in one write are answered in order.
#[test]
fn pop3_capa_and_pipelined_commands() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    append_all(&server, &[FIRST, SECOND]);
    let mut c = pop3::connect(&server);
    let (status, body) = c.multiline("CAPA").expect("CAPA");
    assert!(status.is_ok(), "{status:?}");
    let caps = Plain::lines(&body);
    for cap in [
        "CAPA",
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "USER",
        "STLS",
        "SASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN",
        "IMPLEMENTATION mailkeep",
    ] {
        assert!(caps.iter().any(|c| c == cap), "{cap} not in {caps:?}");
    }
    c.send_raw(b"USER alice\r\nPASS pop3-secret-1\r\nSTAT\r\nLIST 1\r\nUIDL 2\r\nNOOP\r\nCAPA\r\n")
        .expect("pipelined");
    let replies: Vec<String> = (0..6).map(|_| c.status().expect("reply").0).collect();
    assert!(replies.iter().all(|r| r.starts_with("+OK")), "{replies:?}");
    assert!(replies[2].starts_with("+OK 2 "), "{replies:?}");
    assert!(replies[3].starts_with("+OK 1 "), "{replies:?}");
    let after = Plain::lines(&c.body().expect("CAPA body"));
    assert!(after.iter().any(|c| c == "UIDL"), "{after:?}");
    assert!(
        !after
            .iter()
            .any(|c| c == "USER" || c == "STLS" || c.starts_with("SASL")),
        "{after:?}"
    );
    c.command("QUIT").expect("QUIT");
}

/// AUTH (RFC 5034): PLAIN with an initial response, PLAIN through a
/// continuation, `*` cancels, and SCRAM-SHA-256 for an account stored
/// with SCRAM keys.
#[test]
fn pop3_auth_plain_and_scram() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use mailkeep_testkit::scram::{Hash, ScramClient};

    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    server.add_user_with_scheme("sam", PASS, "SCRAM-SHA-256");
    let plain = STANDARD.encode(format!("\0alice\0{PASS}"));

    let mut c = pop3::connect(&server);
    let (status, body) = c.multiline("AUTH").expect("AUTH");
    assert!(status.is_ok(), "{status:?}");
    assert!(
        Plain::lines(&body).contains(&"PLAIN".to_owned()),
        "{body:?}"
    );
    assert!(
        c.command(&format!("AUTH PLAIN {plain}"))
            .expect("AUTH")
            .is_ok()
    );
    c.command("QUIT").expect("QUIT");

    let mut c = pop3::connect(&server);
    assert_eq!(c.command("AUTH PLAIN").expect("AUTH").0, "+ ");
    assert_eq!(
        c.command("*").expect("cancel").0,
        "-ERR Authentication cancelled"
    );
    assert_eq!(c.command("AUTH PLAIN").expect("AUTH").0, "+ ");
    assert!(c.command(&plain).expect("response").is_ok());
    c.command("QUIT").expect("QUIT");

    let mut c = pop3::connect(&server);
    let mut scram = ScramClient::new(Hash::Sha256, "sam", PASS, "n,,", b"");
    let first = STANDARD.encode(scram.first_message());
    let challenge = c
        .command(&format!("AUTH SCRAM-SHA-256 {first}"))
        .expect("AUTH SCRAM");
    let server_first = STANDARD
        .decode(challenge.0.strip_prefix("+ ").expect("a challenge"))
        .expect("base64");
    let last = c
        .command(&STANDARD.encode(scram.final_message(&server_first)))
        .expect("client-final");
    let server_final = STANDARD
        .decode(
            last.0
                .strip_prefix("+ ")
                .expect("server-final as a challenge"),
        )
        .expect("base64");
    assert_eq!(server_final, scram.expected_server_final());
    let done = c.command("").expect("empty response");
    assert!(done.is_ok(), "{done:?}");
    c.command("QUIT").expect("QUIT");
}

/// A client that opens many sessions one after another (a poller) always
/// finds the maildrop as IMAP left it.
#[test]
fn pop3_sees_mail_appended_between_sessions() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    for round in 1..=3u32 {
        append_all(&server, &[FIRST]);
        let mut c = pop3::login(&server, "alice", PASS);
        let stat = c.command("STAT").expect("STAT");
        assert!(stat.0.starts_with(&format!("+OK {round} ")), "{stat:?}");
        c.command("QUIT").expect("QUIT");
    }
}

/// Messages stream ahead of a poller's RETRs; whatever order the client
/// asks in (backwards, skipping, after a DELE, after IMAP expunged one
/// meanwhile), each RETR gives exactly its message or a clear -ERR.
#[test]
fn pop3_retr_in_any_order_gives_each_message() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    let bodies: Vec<Vec<u8>> = (1..=6)
        .map(|i| format!("Subject: m{i}\r\n\r\nbody of message {i}\r\n").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let appended = append_all(&server, &refs);
    let mut c = pop3::login(&server, "alice", PASS);
    let retr = |c: &mut Plain, n: usize| {
        let (status, body) = c.multiline(&format!("RETR {n}")).expect("RETR");
        assert!(status.is_ok(), "RETR {n}: {status:?}");
        assert_eq!(body, bodies[n - 1], "RETR {n}");
    };
    retr(&mut c, 1);
    retr(&mut c, 2);
    retr(&mut c, 5);
    retr(&mut c, 3);
    assert!(c.command("DELE 4").expect("DELE").is_ok());
    retr(&mut c, 5);
    let (_, top) = c.multiline("TOP 6 0").expect("TOP");
    assert_eq!(top, b"Subject: m6\r\n\r\n");
    retr(&mut c, 1);
    // IMAP expunges message 2 while this session streams ahead of it.
    let mut imap = server.login("alice", PASS);
    imap.ok("SELECT INBOX");
    imap.ok(&format!(
        "UID STORE {} +FLAGS (\\Deleted)",
        appended.uids[1]
    ));
    imap.ok("EXPUNGE");
    imap.logout();
    // Either it streamed already (the maildrop is as it was at login) or
    // it is refused as removed; never another message's bytes.
    let (status, body) = c.multiline("RETR 2").expect("RETR 2");
    if status.is_ok() {
        assert_eq!(body, bodies[1], "RETR 2");
    } else {
        assert_eq!(status.0, "-ERR Message 2 was removed by another session");
    }
    retr(&mut c, 3);
    retr(&mut c, 6);
    assert!(c.command("QUIT").expect("QUIT").is_ok());
}

/// The per-address limits IMAP has hold for POP3 too: with
/// `max_connections_per_user_address = 1`, a second logged-in session of
/// the same user from the same address is refused with a clear -ERR
/// (and may log in once the first has quit); with
/// `max_unauthenticated_per_address = 1`, a second connection waiting to
/// log in is refused at once.
#[test]
fn pop3_per_address_limits_hold() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(
        &dir,
        "[pop3]\nexempt_networks = []\nmax_connections_per_user_address = 1\n\
         max_unauthenticated_per_address = 1\n",
    );
    server.add_user("alice", PASS);
    let mut first = pop3::login(&server, "alice", PASS);
    let mut second = pop3::connect(&server);
    // While `second` waits to log in, a third is one too many.
    let third = std::net::TcpStream::connect(server.listener("pop3")).expect("connect");
    third
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let (_, refusal) = Pop3Client::new(third).expect("the refusal line");
    assert_eq!(refusal.code(), Some("SYS/TEMP"), "{refusal:?}");
    let refused = second.login("alice", PASS).expect("login");
    assert_eq!(
        refused.0,
        "-ERR [SYS/TEMP] Too many connections for this user from your address"
    );
    assert!(first.command("QUIT").expect("QUIT").is_ok());
    let again = wait_until(DEADLINE, "the first session's end", || {
        let status = second.login("alice", PASS).ok()?;
        status.is_ok().then_some(status)
    });
    assert!(again.is_ok());
    second.command("QUIT").expect("QUIT");
}

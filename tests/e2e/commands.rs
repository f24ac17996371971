//! The rest of the command set of the contract: SASL logins, mailbox
//! management, read-only access, RFC822 fetches and UID EXPUNGE, and the
//! Maildir++ layout on disk.

use std::fs;

use mailkeep_testkit::{Reply, Status, plain};

use crate::harness::{Server, TestDir, make_message};

const USER: &str = "alice";
const PASS: &str = "alice-secret-6";

/// How many `+` continuation requests came in a reply.
fn continuations(r: &Reply) -> usize {
    r.responses
        .iter()
        .filter(|r| r.continuation().is_some())
        .count()
}

/// The mailbox names of a LIST reply.
fn list_names(r: &Reply) -> Vec<String> {
    r.list("LIST").into_iter().map(|l| l.name).collect()
}

/// SASL logins work as advertised: AUTHENTICATE PLAIN with an initial
/// response (SASL-IR) and without (initial response after a `+`),
/// AUTHENTICATE LOGIN with its two challenges; a wrong password through
/// AUTHENTICATE gets `NO [AUTHENTICATIONFAILED]`; a client that cancels
/// with `*` gets BAD and can still LOGIN on the same connection.
#[test]
fn authenticate_mechanisms() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let credentials = plain(USER, PASS);

    // PLAIN with SASL-IR.
    let mut c = server.connect();
    let r = c
        .authenticate("PLAIN", Some(&credentials), |_| None)
        .expect("AUTHENTICATE");
    assert!(
        r.is_ok() && continuations(&r) == 0,
        "AUTHENTICATE PLAIN with an initial response: {r:?}"
    );
    c.ok("SELECT INBOX");
    c.logout();

    // PLAIN after a continuation.
    let mut c = server.connect();
    let r = c
        .authenticate("PLAIN", None, |_| Some(credentials.clone()))
        .expect("AUTHENTICATE");
    assert!(
        r.is_ok() && continuations(&r) == 1,
        "AUTHENTICATE PLAIN after a continuation: {r:?}"
    );
    c.ok("SELECT INBOX");
    c.logout();

    // LOGIN: user name, then password, each after a continuation.
    let mut c = server.connect();
    let mut answers = [USER, PASS].into_iter();
    let r = c
        .authenticate("LOGIN", None, |_| {
            answers.next().map(|a| a.as_bytes().to_vec())
        })
        .expect("AUTHENTICATE");
    assert!(
        r.is_ok() && continuations(&r) == 2,
        "AUTHENTICATE LOGIN: {r:?}"
    );
    c.ok("SELECT INBOX");
    c.logout();

    // A wrong password through AUTHENTICATE.
    let mut c = server.connect();
    let wrong = plain(USER, &format!("not-{PASS}"));
    let r = c
        .authenticate("PLAIN", Some(&wrong), |_| None)
        .expect("AUTHENTICATE");
    assert_eq!(
        r.status(),
        Status::No,
        "AUTHENTICATE PLAIN with a wrong password: {r:?}"
    );
    assert!(
        r.has_code("AUTHENTICATIONFAILED"),
        "AUTHENTICATE refusal without [AUTHENTICATIONFAILED]: {r:?}"
    );

    // The client cancels; the connection goes on.
    let mut c = server.connect();
    let r = c
        .authenticate("PLAIN", None, |_| None)
        .expect("AUTHENTICATE");
    assert!(
        continuations(&r) == 1,
        "no continuation for AUTHENTICATE PLAIN: {r:?}"
    );
    assert_eq!(r.status(), Status::Bad, "a cancelled AUTHENTICATE: {r:?}");
    let r = c.login(USER, PASS).expect("LOGIN");
    assert!(r.is_ok(), "LOGIN after a cancelled AUTHENTICATE: {r:?}");
    c.logout();
}

/// Mailbox management and the selected state, as RFC 3501/9051 define
/// them: CREATE (also of a child, delimiter "."), LIST and LSUB, RENAME,
/// DELETE, refusals (CREATE of an existing mailbox, DELETE INBOX, SELECT
/// of a missing one); an APPEND to folder Work lands in
/// `Maildir/.Work/cur` (Maildir++); EXAMINE is read-only (STORE refused);
/// UNSELECT leaves the selected state; FETCH RFC822 returns the message
/// and sets \Seen; CHECK; UID EXPUNGE removes only the given deleted
/// message; CLOSE expunges the rest of the deleted ones silently.
#[test]
fn mailbox_commands() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(USER, PASS);
    let mut c = server.login(USER, PASS);

    // --- CREATE, LIST, LSUB, RENAME, DELETE ---
    c.ok("CREATE Work");
    c.ok("CREATE Work.Sub");
    let r = c.ok("LIST \"\" \"*\"");
    let names = list_names(&r);
    for want in ["INBOX", "Work", "Work.Sub"] {
        assert!(
            names.iter().any(|n| n.eq_ignore_ascii_case(want)),
            "LIST lacks {want}: {r:?}"
        );
    }
    assert!(
        r.list("LIST")
            .iter()
            .all(|l| l.delimiter.as_deref() == Some(".")),
        "LIST delimiters are not \".\": {r:?}"
    );
    c.ok("LSUB \"\" \"*\"");
    let r = c.run("CREATE Work").expect("CREATE");
    assert_eq!(
        r.status(),
        Status::No,
        "CREATE of an existing mailbox: {r:?}"
    );
    c.ok("RENAME Work.Sub Work.Renamed");
    let names = list_names(&c.ok("LIST \"\" \"*\""));
    assert!(
        names.iter().any(|n| n == "Work.Renamed"),
        "after RENAME: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "Work.Sub"),
        "after RENAME: {names:?}"
    );
    c.ok("DELETE Work.Renamed");
    let names = list_names(&c.ok("LIST \"\" \"*\""));
    assert!(
        !names.iter().any(|n| n == "Work.Renamed"),
        "after DELETE: {names:?}"
    );
    let r = c.run("DELETE INBOX").expect("DELETE");
    assert_eq!(r.status(), Status::No, "DELETE INBOX: {r:?}");
    let r = c.run("SELECT NoSuchMailbox").expect("SELECT");
    assert_eq!(r.status(), Status::No, "SELECT of a missing mailbox: {r:?}");

    // --- APPEND to a folder: Maildir++ layout ---
    let first = make_message("commands-1", 3000);
    let r = c.append("Work", &[], &first).expect("APPEND");
    assert!(r.is_ok(), "APPEND to Work: {r:?}");
    let (_, uid1) = r.appenduid().expect("APPENDUID");
    let cur = dir.maildir(USER).join(".Work").join("cur");
    let files = crate::harness::files_in(&cur, 1);
    assert_eq!(
        fs::read(files[0].path()).expect("reading the message file"),
        first,
        "the Maildir file holds other bytes than were appended"
    );

    // --- EXAMINE is read-only ---
    let r = c.ok("EXAMINE Work");
    assert!(r.has_code("READ-ONLY"), "EXAMINE: {r:?}");
    assert_eq!(r.exists(), Some(1), "EXAMINE: {r:?}");
    let r = c.run("STORE 1 +FLAGS (\\Flagged)").expect("STORE");
    assert!(!r.is_ok(), "STORE in a mailbox opened with EXAMINE: {r:?}");

    // --- UNSELECT ---
    c.ok("UNSELECT");
    let r = c.run("FETCH 1 (FLAGS)").expect("FETCH");
    assert!(!r.is_ok(), "FETCH after UNSELECT: {r:?}");

    // --- SELECT, FETCH RFC822, CHECK ---
    let r = c.ok("SELECT Work");
    assert!(r.has_code("READ-WRITE"), "SELECT: {r:?}");
    let r = c.ok("FETCH 1 (RFC822)");
    let f = r.fetches();
    assert_eq!(f.len(), 1, "FETCH 1 (RFC822): {r:?}");
    assert!(
        f[0].bytes("RFC822") == Some(first.as_slice()),
        "FETCH RFC822 returned other bytes, or no RFC822 item: {r:?}"
    );
    let r = c.ok("FETCH 1 (FLAGS)");
    assert!(
        r.fetch(1).is_some_and(|f| f.has_flag("\\Seen")),
        "FETCH RFC822 did not set \\Seen: {r:?}"
    );
    c.ok("CHECK");

    // --- UID EXPUNGE and CLOSE ---
    let mut uids = vec![uid1];
    for i in 2..=3 {
        let r = c
            .append("Work", &[], &make_message(&format!("commands-{i}"), 1000))
            .expect("APPEND");
        assert!(r.is_ok(), "APPEND {i}: {r:?}");
        uids.push(r.appenduid().expect("APPENDUID").1);
    }
    c.ok("NOOP");
    c.ok(&format!(
        "UID STORE {},{} +FLAGS (\\Deleted)",
        uids[1], uids[2]
    ));
    let r = c.ok(&format!("UID EXPUNGE {}", uids[1]));
    assert_eq!(
        r.expunged(),
        [2],
        "UID EXPUNGE {} must remove message 2 and no other: {r:?}",
        uids[1]
    );
    let r = c.ok("UID FETCH 1:* (UID)");
    let left: Vec<u32> = r.fetches().iter().filter_map(|f| f.uid()).collect();
    assert_eq!(left, vec![uids[0], uids[2]], "after UID EXPUNGE: {r:?}");
    let r = c.ok("CLOSE");
    assert!(
        r.expunged().is_empty(),
        "CLOSE must expunge silently: {r:?}"
    );
    let r = c.ok("STATUS Work (MESSAGES UIDNEXT)");
    assert_eq!(
        r.status_item("MESSAGES"),
        Some(1),
        "after CLOSE, Work should hold only the first message: {r:?}"
    );
    c.logout();
}

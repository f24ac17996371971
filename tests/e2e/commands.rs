//! The rest of the command set of the contract: SASL logins, mailbox
//! management, read-only access, RFC822 fetches and UID EXPUNGE, and the
//! Maildir++ layout on disk.

use std::fs;

use crate::harness::{Imap, Reply, Server, TestDir, base64, make_message};

const USER: &str = "alice";
const PASS: &str = "alice-secret-6";

/// Sends `line` and reads responses until a `+` continuation request
/// (returned as Ok) or the reply tagged `tag` (returned as Err).
fn until_continuation(c: &mut Imap, tag: &str, line: &str) -> Result<String, Reply> {
    c.send_raw(format!("{line}\r\n").as_bytes())
        .expect("sending");
    let prefix = format!("{tag} ");
    loop {
        let r = c
            .read_response()
            .unwrap_or_else(|e| panic!("after {line:?}: {e}"));
        if r.text.starts_with('+') {
            return Ok(r.text);
        }
        if r.text.starts_with(&prefix) {
            return Err(Reply {
                untagged: Vec::new(),
                tagged: r.text,
            });
        }
    }
}

/// The mailbox names of a LIST reply (`* LIST (attrs) "." name`), unquoted.
fn list_names(r: &Reply) -> Vec<String> {
    r.untagged
        .iter()
        .filter(|u| u.text.to_ascii_uppercase().starts_with("* LIST "))
        .map(|u| {
            let after_attrs = &u.text[u.text.find(')').map_or(0, |i| i + 1)..];
            let rest = after_attrs.trim_start();
            // The delimiter: "." (or NIL), then the name.
            let name = rest
                .strip_prefix("\".\"")
                .or_else(|| rest.strip_prefix("NIL"))
                .unwrap_or(rest)
                .trim();
            name.trim_matches('"').to_owned()
        })
        .collect()
}

/// The delimiters of a LIST reply's lines.
fn list_delimiters(r: &Reply) -> Vec<String> {
    r.untagged
        .iter()
        .filter(|u| u.text.to_ascii_uppercase().starts_with("* LIST "))
        .filter_map(|u| {
            let after_attrs = &u.text[u.text.find(')')? + 1..];
            after_attrs.split_whitespace().next().map(str::to_owned)
        })
        .collect()
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
    let plain = base64(format!("\0{USER}\0{PASS}").as_bytes());

    // PLAIN with SASL-IR.
    let mut c = server.connect();
    let r = c
        .run(&format!("AUTHENTICATE PLAIN {plain}"))
        .expect("AUTHENTICATE");
    assert!(
        r.is_ok(),
        "AUTHENTICATE PLAIN with an initial response: {r:?}"
    );
    c.ok("SELECT INBOX");
    c.logout();

    // PLAIN after a continuation.
    let mut c = server.connect();
    until_continuation(&mut c, "p1", "p1 AUTHENTICATE PLAIN")
        .unwrap_or_else(|r| panic!("no continuation for AUTHENTICATE PLAIN: {r:?}"));
    c.send_raw(format!("{plain}\r\n").as_bytes())
        .expect("sending");
    let r = c.read_reply("p1").expect("reply");
    assert!(r.is_ok(), "AUTHENTICATE PLAIN after a continuation: {r:?}");
    c.ok("SELECT INBOX");
    c.logout();

    // LOGIN: user name, then password, each after a continuation.
    let mut c = server.connect();
    until_continuation(&mut c, "l1", "l1 AUTHENTICATE LOGIN")
        .unwrap_or_else(|r| panic!("no first continuation for AUTHENTICATE LOGIN: {r:?}"));
    let user = base64(USER.as_bytes());
    until_continuation(&mut c, "l1", &user)
        .unwrap_or_else(|r| panic!("no second continuation for AUTHENTICATE LOGIN: {r:?}"));
    c.send_raw(format!("{}\r\n", base64(PASS.as_bytes())).as_bytes())
        .expect("sending");
    let r = c.read_reply("l1").expect("reply");
    assert!(r.is_ok(), "AUTHENTICATE LOGIN: {r:?}");
    c.ok("SELECT INBOX");
    c.logout();

    // A wrong password through AUTHENTICATE.
    let mut c = server.connect();
    let wrong = base64(format!("\0{USER}\0not-{PASS}").as_bytes());
    let r = c
        .run(&format!("AUTHENTICATE PLAIN {wrong}"))
        .expect("AUTHENTICATE");
    assert_eq!(
        r.status(),
        "NO",
        "AUTHENTICATE PLAIN with a wrong password: {r:?}"
    );
    assert!(
        r.tagged
            .to_ascii_uppercase()
            .contains("[AUTHENTICATIONFAILED]"),
        "AUTHENTICATE refusal without [AUTHENTICATIONFAILED]: {r:?}"
    );

    // The client cancels; the connection goes on.
    let mut c = server.connect();
    until_continuation(&mut c, "x1", "x1 AUTHENTICATE PLAIN")
        .unwrap_or_else(|r| panic!("no continuation for AUTHENTICATE PLAIN: {r:?}"));
    c.send_raw(b"*\r\n").expect("sending");
    let r = c.read_reply("x1").expect("reply");
    assert_eq!(r.status(), "BAD", "a cancelled AUTHENTICATE: {r:?}");
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
        list_delimiters(&r).iter().all(|d| d == "\".\""),
        "LIST delimiters are not \".\": {r:?}"
    );
    c.ok("LSUB \"\" \"*\"");
    let r = c.run("CREATE Work").expect("CREATE");
    assert_eq!(r.status(), "NO", "CREATE of an existing mailbox: {r:?}");
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
    assert_eq!(r.status(), "NO", "DELETE INBOX: {r:?}");
    let r = c.run("SELECT NoSuchMailbox").expect("SELECT");
    assert_eq!(r.status(), "NO", "SELECT of a missing mailbox: {r:?}");

    // --- APPEND to a folder: Maildir++ layout ---
    let first = make_message("commands-1", 3000);
    let r = c.append("Work", "", &first).expect("APPEND");
    assert!(r.is_ok(), "APPEND to Work: {r:?}");
    let (_, uid1) = r.appenduid().expect("APPENDUID");
    let cur = dir.maildir(USER).join(".Work").join("cur");
    let files: Vec<_> = fs::read_dir(&cur)
        .unwrap_or_else(|e| panic!("{} (Maildir++ folder Work): {e}", cur.display()))
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "files in {}: {files:?}", cur.display());
    assert_eq!(
        fs::read(files[0].path()).expect("reading the message file"),
        first,
        "the Maildir file holds other bytes than were appended"
    );

    // --- EXAMINE is read-only ---
    let r = c.ok("EXAMINE Work");
    assert!(
        r.tagged.to_ascii_uppercase().contains("[READ-ONLY]"),
        "EXAMINE: {r:?}"
    );
    assert!(r.has_untagged("* 1 EXISTS"), "EXAMINE: {r:?}");
    let r = c.run("STORE 1 +FLAGS (\\Flagged)").expect("STORE");
    assert!(!r.is_ok(), "STORE in a mailbox opened with EXAMINE: {r:?}");

    // --- UNSELECT ---
    c.ok("UNSELECT");
    let r = c.run("FETCH 1 (FLAGS)").expect("FETCH");
    assert!(!r.is_ok(), "FETCH after UNSELECT: {r:?}");

    // --- SELECT, FETCH RFC822, CHECK ---
    let r = c.ok("SELECT Work");
    assert!(
        r.tagged.to_ascii_uppercase().contains("[READ-WRITE]"),
        "SELECT: {r:?}"
    );
    let r = c.ok("FETCH 1 (RFC822)");
    let f = r.fetches();
    assert_eq!(f.len(), 1, "FETCH 1 (RFC822): {r:?}");
    assert!(
        f[0].text.to_ascii_uppercase().contains("RFC822 {"),
        "FETCH RFC822 without the RFC822 item: {}",
        f[0].text
    );
    assert!(
        f[0].literals.first() == Some(&first),
        "FETCH RFC822 returned other bytes"
    );
    let r = c.ok("FETCH 1 (FLAGS)");
    assert!(
        r.fetches()
            .first()
            .is_some_and(|f| f.text.contains("\\Seen")),
        "FETCH RFC822 did not set \\Seen: {r:?}"
    );
    c.ok("CHECK");

    // --- UID EXPUNGE and CLOSE ---
    let mut uids = vec![uid1];
    for i in 2..=3 {
        let r = c
            .append("Work", "", &make_message(&format!("commands-{i}"), 1000))
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
    assert!(
        r.has_untagged("* 2 EXPUNGE"),
        "UID EXPUNGE {}: {r:?}",
        uids[1]
    );
    assert!(
        !r.untagged
            .iter()
            .any(|u| u.text.to_ascii_uppercase().ends_with(" EXPUNGE")
                && !u.text.eq_ignore_ascii_case("* 2 EXPUNGE")),
        "UID EXPUNGE removed more than asked: {r:?}"
    );
    let r = c.ok("UID FETCH 1:* (UID)");
    let left: Vec<u64> = r
        .fetches()
        .iter()
        .filter_map(|f| f.item_number("UID"))
        .collect();
    assert_eq!(
        left,
        vec![u64::from(uids[0]), u64::from(uids[2])],
        "after UID EXPUNGE: {r:?}"
    );
    let r = c.ok("CLOSE");
    assert!(
        !r.untagged
            .iter()
            .any(|u| u.text.to_ascii_uppercase().ends_with(" EXPUNGE")),
        "CLOSE must expunge silently: {r:?}"
    );
    let r = c.ok("STATUS Work (MESSAGES UIDNEXT)");
    assert!(
        r.untagged
            .iter()
            .any(|u| u.text.to_ascii_uppercase().contains("MESSAGES 1")),
        "after CLOSE, Work should hold only the first message: {r:?}"
    );
    c.logout();
}

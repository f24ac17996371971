//! interimap from Debian (a real client, not our code): two-way sync of two
//! accounts by QRESYNC, here both on mailkeep. It keeps each side's
//! UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ and asks only for what changed
//! since (SELECT ... (QRESYNC ...), UID FETCH ... (CHANGEDSINCE ...
//! VANISHED), UID STORE ... (UNCHANGEDSINCE ...), UID EXPUNGE), so what it
//! makes of the two sides checks those answers: new mail, flags, keywords,
//! expunges and new folders reach the other side, and a run with nothing
//! new changes nothing.

use std::fs;
use std::path::Path;
use std::process::Command;

use mailkeep_testkit::BlockingClient;

use crate::harness::{DEADLINE, Server, TestDir, require_program, run_client};

const LOCAL: &str = "near";
const REMOTE: &str = "far";

/// Writes interimap's configuration for the two accounts of the server
/// listening on `port`; returns its path.
fn config(dir: &Path, port: u16) -> std::path::PathBuf {
    let side = |user: &str| {
        format!(
            "type = imap\nhost = 127.0.0.1\nport = {port}\nusername = {user}\n\
             password = {user}-secret-9\nSTARTTLS = NO\n"
        )
    };
    let text = format!(
        "database = {}\n\n[local]\n{}\n[remote]\n{}",
        dir.join("interimap.db").display(),
        side(LOCAL),
        side(REMOTE)
    );
    let path = dir.join("interimap.conf");
    fs::write(&path, text).expect("writing interimap's configuration");
    path
}

/// Runs interimap once; returns its output, after checking it succeeded.
fn sync(config: &Path, server: &Server) -> String {
    let (code, text) = run_client(
        Command::new("interimap").arg(format!("--config={}", config.display())),
        DEADLINE * 3,
    );
    assert_eq!(
        code,
        Some(0),
        "interimap failed:\n{text}\n{}",
        server.logs()
    );
    text
}

/// The subjects in `mailbox` of the account `c` is logged in to, each
/// with its flags, sorted: what must be the same on both sides.
fn contents(c: &mut BlockingClient, mailbox: &str) -> Vec<String> {
    let reply = c.run(&format!("EXAMINE {mailbox}")).expect("EXAMINE");
    assert!(reply.is_ok(), "EXAMINE {mailbox}: {reply:?}");
    let reply = c
        .run("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .expect("FETCH");
    let mut seen: Vec<String> = reply
        .fetches()
        .iter()
        .map(|f| {
            let subject = f
                .bytes("BODY[HEADER.FIELDS (SUBJECT)]")
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default();
            let mut flags: Vec<String> = f
                .item("FLAGS")
                .map(|v| format!("{v:?}"))
                .into_iter()
                .collect();
            flags.sort();
            format!("{subject} {}", flags.join(" "))
        })
        .collect();
    seen.sort();
    seen
}

/// Runs `command`, which must succeed.
fn ok(c: &mut BlockingClient, command: &str) {
    let reply = c.run(command).expect(command);
    assert!(reply.is_ok(), "{command}: {reply:?}");
}

#[test]
fn interimap_syncs_two_accounts_by_qresync() {
    if !require_program("interimap", "interimap_syncs_two_accounts_by_qresync") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    for user in [LOCAL, REMOTE] {
        server.add_user(user, &format!("{user}-secret-9"));
    }
    let mut near = server.login(LOCAL, &format!("{LOCAL}-secret-9"));
    let mut far = server.login(REMOTE, &format!("{REMOTE}-secret-9"));
    for i in 0..5 {
        let m = format!("Subject: near {i}\r\n\r\nnear body {i}\r\n");
        assert!(
            near.append("INBOX", &[], m.as_bytes())
                .expect("APPEND")
                .is_ok()
        );
        let m = format!("Subject: far {i}\r\n\r\nfar body {i}\r\n");
        assert!(
            far.append("INBOX", &["\\Seen"], m.as_bytes())
                .expect("APPEND")
                .is_ok()
        );
    }
    ok(&mut far, "CREATE Projects");
    let m = b"Subject: plan\r\n\r\nthe plan\r\n";
    assert!(far.append("Projects", &[], m).expect("APPEND").is_ok());
    let config = config(dir.path(), server.listener("imap").port());

    // First run: each side gets the other's mail and folders.
    sync(&config, &server);
    let inbox = contents(&mut near, "INBOX");
    assert_eq!(inbox.len(), 10, "{inbox:?}");
    assert_eq!(inbox, contents(&mut far, "INBOX"));
    assert_eq!(
        contents(&mut near, "Projects"),
        contents(&mut far, "Projects")
    );

    // Changes on both sides, by sequence number as a client makes them:
    // flags and a keyword, and an expunge on each.
    ok(&mut near, "SELECT INBOX");
    ok(&mut near, "STORE 1:2 +FLAGS (\\Flagged $Work)");
    ok(&mut near, "STORE 3 +FLAGS (\\Deleted)");
    ok(&mut near, "EXPUNGE");
    ok(&mut far, "SELECT INBOX");
    ok(&mut far, "STORE 10 -FLAGS (\\Seen)");
    ok(&mut far, "STORE 9 +FLAGS (\\Deleted)");
    ok(&mut far, "EXPUNGE");
    ok(&mut far, "UNSELECT");
    ok(&mut near, "UNSELECT");
    let text = sync(&config, &server);
    let inbox = contents(&mut near, "INBOX");
    assert_eq!(inbox.len(), 8, "{inbox:?}\n{text}");
    assert_eq!(inbox, contents(&mut far, "INBOX"), "{text}");
    assert!(!text.contains("Conflicting"), "{text}");

    // Nothing new: nothing changes.
    let text = sync(&config, &server);
    assert!(
        !text.contains("Added") && !text.contains("Updated") && !text.contains("Removed"),
        "{text}"
    );
    assert_eq!(contents(&mut near, "INBOX"), inbox);
}

//! fetchmail from Debian (a real client, not our code) retrieving mail the
//! way it does: over IMAP each message as `FETCH n RFC822.HEADER`, `FETCH
//! n BODY.PEEK[TEXT]` and `STORE n +FLAGS (\Seen)`; over POP3 with UIDL,
//! keeping the mail, so that a second run fetches only what is new. A
//! long run of the IMAP pattern once closed the imap process's connection
//! to the storage process (`socket_channel_reset_tests.rs` holds that
//! case); this test holds the clients' view.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{DEADLINE, TestDir, pop3, require_program, run_client};

/// Messages in the account: a few hundred, as a poller finds after a
/// holiday, yet quick in a debug build.
const COUNT: usize = 300;
const USER: &str = "fetcher";
const PASSWORD: &str = "fetcher-secret-7";

/// Message `i`: a subject and a body line that name it, and some text.
fn message(i: usize) -> Vec<u8> {
    let mut m =
        format!("From: sender@example.org\r\nSubject: message {i}\r\n\r\nbody of message {i}\r\n");
    m.push_str(&"more text of the message, as mail has\r\n".repeat(20));
    m.into_bytes()
}

/// A fetchmail run's configuration in `home`: poll the server on `port`
/// with `protocol` (and `options`), each message handed to an MDA that
/// writes it to a file of its own under `out`. No STARTTLS: the test
/// server's certificate is its own.
fn rc(home: &Path, name: &str, port: u16, protocol: &str, options: &str, out: &Path) -> PathBuf {
    let path = home.join(name);
    let text = format!(
        "set no syslog\n\
         poll 127.0.0.1 port {port} protocol {protocol} {options} auth password\n\
         \tuser \"{USER}\" password \"{PASSWORD}\" is \"root\" here\n\
         \tkeep sslproto '' mda \"cat > {}/$$\"\n",
        out.display()
    );
    fs::write(&path, text).expect("writing the fetchmail configuration");
    // fetchmail refuses a configuration others may read.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

/// Runs fetchmail with `rc`, its state (UIDs seen, lock) kept in `home`;
/// returns its exit code and output.
fn fetchmail(home: &Path, rc: &Path) -> (Option<i32>, String) {
    run_client(
        Command::new("fetchmail")
            .arg("-f")
            .arg(rc)
            .env("FETCHMAILHOME", home)
            .env("HOME", home),
        DEADLINE * 6,
    )
}

/// The messages the MDA wrote under `out`, each as the numbers its
/// subject and body name (they must agree).
fn delivered(out: &Path) -> Vec<usize> {
    let mut numbers: Vec<usize> = fs::read_dir(out)
        .expect("listing the delivered messages")
        .map(|entry| {
            let path = entry.expect("a delivered message").path();
            let text = fs::read_to_string(&path).expect("reading a delivered message");
            let subject = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: message "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no subject in {}:\n{text}", path.display()));
            assert!(
                text.contains(&format!("\nbody of message {subject}\r\n"))
                    || text.contains(&format!("\nbody of message {subject}\n")),
                "the body of message {subject} is not whole:\n{text}"
            );
            subject
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

#[test]
fn fetchmail_retrieves_over_imap_and_pop3() {
    if !require_program("fetchmail", "fetchmail_retrieves_over_imap_and_pop3") {
        return;
    }
    let dir = TestDir::new();
    let (server, ports) = pop3::start(&dir, "");
    server.add_user(USER, PASSWORD);
    let mut c = server.login(USER, PASSWORD);
    for i in 0..COUNT {
        let reply = c.append("INBOX", &[], &message(i)).expect("APPEND");
        assert!(reply.is_ok(), "APPEND {i}: {reply:?}");
    }
    let home = dir.path().join("fetchmail");
    let (imap_out, pop3_out) = (home.join("imap"), home.join("pop3"));
    for d in [&home, &imap_out, &pop3_out] {
        fs::create_dir_all(d).expect("making the fetchmail directories");
    }

    // IMAP: every message, whole, and each marked seen.
    let imap_rc = rc(&home, "imap.rc", ports["imap"], "IMAP", "", &imap_out);
    let (code, text) = fetchmail(&home, &imap_rc);
    assert_eq!(
        code,
        Some(0),
        "fetchmail over IMAP:\n{text}\n{}",
        server.logs()
    );
    assert_eq!(
        delivered(&imap_out),
        (0..COUNT).collect::<Vec<_>>(),
        "{text}"
    );
    let reply = c.run("SELECT INBOX").expect("SELECT");
    assert!(reply.is_ok(), "{reply:?}");
    let unseen = c.run("SEARCH UNSEEN").expect("SEARCH");
    assert!(unseen.is_ok() && unseen.search().is_empty(), "{unseen:?}");

    // POP3 with UIDL: everything once, then only what came since.
    let pop3_rc = rc(&home, "pop3.rc", ports["pop3"], "POP3", "uidl", &pop3_out);
    let (code, text) = fetchmail(&home, &pop3_rc);
    assert_eq!(
        code,
        Some(0),
        "fetchmail over POP3:\n{text}\n{}",
        server.logs()
    );
    assert_eq!(
        delivered(&pop3_out),
        (0..COUNT).collect::<Vec<_>>(),
        "{text}"
    );
    let reply = c.append("INBOX", &[], &message(COUNT)).expect("APPEND");
    assert!(reply.is_ok(), "{reply:?}");
    let (code, text) = fetchmail(&home, &pop3_rc);
    assert_eq!(code, Some(0), "second fetchmail over POP3:\n{text}");
    assert_eq!(
        delivered(&pop3_out),
        (0..=COUNT).collect::<Vec<_>>(),
        "only the new message is fetched again:\n{text}"
    );
}

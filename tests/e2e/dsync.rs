//! Dovecot's dsync (`doveadm`, Debian's dovecot-core) as a migration tool
//! through its IMAP client (imapc), both ways: `backup -R` copies a
//! mailkeep account into a Maildir (an administrator leaving mailkeep, or
//! keeping a copy), and `sync -1` copies that Maildir into another
//! mailkeep account (one arriving from Dovecot). Folders, flags, keywords,
//! internal dates and the messages' bytes must come through, and a second
//! run must find nothing to do. Dovecot's imapc writes a flag list of
//! keywords alone with a space after the parenthesis (`( $Label1 Junk)`),
//! which mailkeep refused until it read flag lists as Dovecot does.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use mailkeep_testkit::{Append, BlockingClient, LiteralMode, Reply};
use sha2::Digest;

use crate::harness::{DEADLINE, Server, TestDir, require_program, run_client, wait_until};

const LEAVING: &str = "leaving";
const ARRIVING: &str = "arriving";
const PASSWORD: &str = "dsync-secret-4";

/// The local user whose Maildir dsync writes (Dovecot's side).
const LOCAL: &str = "copy";

/// One message of the account, as appended.
struct Seed {
    mailbox: &'static str,
    subject: &'static str,
    flags: &'static [&'static str],
    date: &'static str,
}

const SEEDS: [Seed; 6] = [
    Seed {
        mailbox: "INBOX",
        subject: "plain",
        flags: &[],
        date: "\"01-Mar-2025 08:00:00 +0000\"",
    },
    Seed {
        mailbox: "INBOX",
        subject: "read and flagged",
        flags: &["\\Seen", "\\Flagged"],
        date: "\"02-Mar-2025 09:30:00 +0100\"",
    },
    Seed {
        mailbox: "INBOX",
        subject: "keywords only",
        flags: &["$Label1", "Junk"],
        date: "\"03-Mar-2025 10:00:00 -0500\"",
    },
    Seed {
        mailbox: "Work",
        subject: "answered and forwarded",
        flags: &["\\Answered", "$Forwarded"],
        date: "\"04-Mar-2025 11:00:00 +0000\"",
    },
    Seed {
        mailbox: "Work.Reports",
        subject: "draft",
        flags: &["\\Draft"],
        date: "\"05-Mar-2025 12:00:00 +0000\"",
    },
    Seed {
        mailbox: "Work.Reports",
        subject: "seen with a keyword",
        flags: &["\\Seen", "project-x"],
        date: "\"06-Mar-2025 13:00:00 +0000\"",
    },
];

/// A Dovecot master of its own (no protocols: only the auth service
/// doveadm asks for users), stopped when dropped.
struct Dovecot {
    child: Child,
    config: PathBuf,
}

impl Dovecot {
    /// Starts it with its state under `dir`, its imapc pointed at `port`,
    /// and a static userdb whose homes are under `dir/homes`.
    fn start(dir: &Path, port: u16) -> Dovecot {
        let base = dir.join("dovecot");
        let homes = dir.join("homes");
        for d in [base.join("run"), base.join("state"), homes.clone()] {
            fs::create_dir_all(&d).expect("Dovecot's directories");
        }
        // Mail is read and written as nobody (Dovecot refuses root).
        Command::new("chown")
            .args(["65534:65534", &homes.display().to_string()])
            .status()
            .expect("chown of the homes");
        let config = base.join("dovecot.conf");
        let text = format!(
            "protocols =\n\
             base_dir = {run}\n\
             state_dir = {state}\n\
             log_path = {log}\n\
             ssl = no\n\
             passdb {{\n  driver = static\n  args = password=unused\n}}\n\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={homes}/%u\n}}\n\
             mail_location = maildir:~/Maildir\n\
             namespace inbox {{\n  inbox = yes\n  separator = .\n}}\n\
             imapc_host = 127.0.0.1\n\
             imapc_port = {port}\n\
             imapc_features = rfc822.size fetch-headers modseq\n",
            run = base.join("run").display(),
            state = base.join("state").display(),
            log = base.join("dovecot.log").display(),
            homes = homes.display(),
        );
        fs::write(&config, text).expect("Dovecot's configuration");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting dovecot");
        // Its auth service listens once this socket exists (nothing else
        // signals readiness).
        let socket = base.join("run").join("auth-userdb");
        wait_until(DEADLINE, "Dovecot's auth-userdb socket", || {
            socket.exists().then_some(())
        });
        Dovecot { child, config }
    }

    /// Runs `doveadm` with `args` as imapc user `user`; returns its output
    /// after checking it succeeded.
    fn doveadm(&self, user: &str, args: &[&str], server: &Server) -> String {
        let (code, text) = run_client(
            Command::new("doveadm")
                .arg("-c")
                .arg(&self.config)
                .arg("-o")
                .arg(format!("imapc_user={user}"))
                .arg("-o")
                .arg(format!("imapc_password={PASSWORD}"))
                .args(args),
            DEADLINE * 3,
        );
        let log = fs::read_to_string(self.config.with_file_name("dovecot.log")).unwrap_or_default();
        assert_eq!(
            code,
            Some(0),
            "doveadm {args:?} failed:\n{text}\nDovecot's log:\n{log}\n{}",
            server.logs()
        );
        text
    }

    /// What the local copy holds: mailbox, subject, flags and received
    /// date of each message, by doveadm's own reading of the Maildir.
    fn local_contents(&self, server: &Server) -> BTreeSet<String> {
        let text = self.doveadm(
            "unused",
            &[
                "-f",
                "tab",
                "fetch",
                "-u",
                LOCAL,
                "mailbox hdr.subject flags date.received",
                "all",
            ],
            server,
        );
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                // \Recent is the doveadm session's own view.
                let mut flags: Vec<&str> = cols
                    .get(2)
                    .unwrap_or(&"")
                    .split_whitespace()
                    .filter(|f| *f != "\\Recent")
                    .collect();
                flags.sort_unstable();
                format!(
                    "{} | {} | {} | {}",
                    cols.first().unwrap_or(&""),
                    cols.get(1).unwrap_or(&"").trim(),
                    flags.join(" "),
                    cols.get(3).unwrap_or(&"")
                )
            })
            .collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mailboxes the seeds fill.
const MAILBOXES: [&str; 3] = ["INBOX", "Work", "Work.Reports"];

/// `FETCH 1:* items` in each of [`MAILBOXES`], examined in turn: each
/// mailbox with its answer.
fn fetch_all(c: &mut BlockingClient, items: &str) -> Vec<(&'static str, Reply)> {
    MAILBOXES
        .iter()
        .map(|&mailbox| {
            let reply = c.run(&format!("EXAMINE {mailbox}")).expect("EXAMINE");
            assert!(reply.is_ok(), "EXAMINE {mailbox}: {reply:?}");
            let reply = c.run(&format!("FETCH 1:* {items}")).expect("FETCH");
            assert!(reply.is_ok(), "FETCH in {mailbox}: {reply:?}");
            (mailbox, reply)
        })
        .collect()
}

/// What the mailkeep account `c` is logged in to holds, in the form of
/// [`Dovecot::local_contents`] (the date as Dovecot prints it, in the
/// machine's zone, so it is taken from Dovecot's side: here the subject
/// and flags are compared, and the date separately by the message bytes
/// and INTERNALDATE of both mailkeep accounts).
fn server_contents(c: &mut BlockingClient) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (mailbox, reply) in fetch_all(c, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])") {
        for f in reply.fetches() {
            let subject = f
                .bytes("BODY[HEADER.FIELDS (SUBJECT)]")
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default();
            let subject = subject.trim_start_matches("Subject:").trim().to_owned();
            let mut flags: Vec<String> = f
                .flags()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != "\\Recent")
                .collect();
            flags.sort();
            out.insert(format!("{mailbox} | {subject} | {}", flags.join(" ")));
        }
    }
    out
}

/// Each message's mailbox, INTERNALDATE (as an instant: a Maildir keeps
/// no zone, so Dovecot gives the date back in its own) and bytes (by
/// length and SHA-256), sorted: what both mailkeep accounts must share
/// exactly.
fn messages(c: &mut BlockingClient) -> Vec<String> {
    let format = time::macros::format_description!(
        "[day]-[month repr:short]-[year] [hour]:[minute]:[second] \
         [offset_hour sign:mandatory][offset_minute]"
    );
    let mut out = Vec::new();
    for (mailbox, reply) in fetch_all(c, "(INTERNALDATE BODY.PEEK[])") {
        for f in reply.fetches() {
            let body = f.bytes("BODY[]").unwrap_or_default();
            let date = f.bytes("INTERNALDATE").unwrap_or_default();
            let date = String::from_utf8_lossy(date);
            let instant = time::OffsetDateTime::parse(date.trim(), format)
                .unwrap_or_else(|e| panic!("INTERNALDATE {date:?}: {e}"))
                .unix_timestamp();
            let digest = sha2::Sha256::digest(body);
            out.push(format!("{mailbox} {instant} {} {digest:x}", body.len()));
        }
    }
    out.sort();
    out
}

/// The subjects and flags of [`Dovecot::local_contents`], without dates.
fn without_dates(local: &BTreeSet<String>) -> BTreeSet<String> {
    local
        .iter()
        .map(|l| {
            l.rsplit_once(" | ")
                .map_or(l.clone(), |(rest, _)| rest.to_owned())
        })
        .collect()
}

#[test]
fn dovecot_dsync_migrates_an_account_out_and_back_in() {
    if !require_program(
        "doveadm",
        "dovecot_dsync_migrates_an_account_out_and_back_in",
    ) {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user(LEAVING, PASSWORD);
    server.add_user(ARRIVING, PASSWORD);
    let mut leaving = server.login(LEAVING, PASSWORD);
    for mailbox in ["Work", "Work.Reports"] {
        let reply = leaving.run(&format!("CREATE {mailbox}")).expect("CREATE");
        assert!(reply.is_ok(), "CREATE {mailbox}: {reply:?}");
    }
    for seed in &SEEDS {
        let message = format!(
            "From: Someone <someone@mailkeep.test>\r\nSubject: {}\r\n\
             Message-ID: <{}@mailkeep.test>\r\n\r\nbody of {}\r\n",
            seed.subject,
            seed.subject.replace(' ', "."),
            seed.subject
        );
        let reply = leaving
            .append_with(&Append {
                mailbox: seed.mailbox,
                flags: seed.flags.to_vec(),
                date: Some(seed.date),
                message: message.as_bytes(),
                literal: LiteralMode::Sync,
            })
            .expect("APPEND");
        assert!(reply.is_ok(), "APPEND {}: {reply:?}", seed.subject);
    }
    let expected = server_contents(&mut leaving);
    assert_eq!(expected.len(), SEEDS.len(), "{expected:?}");
    let dovecot = Dovecot::start(dir.path(), server.listener("imap").port());

    // Out: a Maildir copy of the account.
    dovecot.doveadm(LEAVING, &["backup", "-R", "-u", LOCAL, "imapc:"], &server);
    let local = dovecot.local_contents(&server);
    assert_eq!(without_dates(&local), expected, "{local:?}");
    // Dovecot kept the dates mailkeep gave (its zone is the machine's:
    // the days are compared, all seeds being at least 8:00 from midnight
    // in any zone within 5 hours).
    for (seed, day) in SEEDS.iter().zip(["01", "02", "03", "04", "05", "06"]) {
        let line = local
            .iter()
            .find(|l| l.contains(&format!("| {} |", seed.subject)))
            .unwrap_or_else(|| panic!("{} not in the copy: {local:?}", seed.subject));
        assert!(line.contains(&format!("2025-03-{day}")), "{line}");
    }

    // Back in, to another account.
    dovecot.doveadm(ARRIVING, &["sync", "-1", "-u", LOCAL, "imapc:"], &server);
    let mut arriving = server.login(ARRIVING, PASSWORD);
    assert_eq!(server_contents(&mut arriving), expected);
    assert_eq!(messages(&mut arriving), messages(&mut leaving));

    // Again: nothing to do on either side.
    dovecot.doveadm(LEAVING, &["backup", "-R", "-u", LOCAL, "imapc:"], &server);
    dovecot.doveadm(ARRIVING, &["sync", "-1", "-u", LOCAL, "imapc:"], &server);
    assert_eq!(server_contents(&mut arriving), expected);
    assert_eq!(dovecot.local_contents(&server), local);
}

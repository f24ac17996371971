//! LMTP end to end (issue 9): the real binary, Python's smtplib.LMTP and a
//! raw client over TCP and the UNIX socket; replies per recipient, +detail,
//! loops, the size limit, bad input, a full disk; IDLE seeing a delivery; the lmtp
//! process confined like imap; `mailkeep deliver` and its exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{
    DEADLINE, MAIL_UID, NOBODY_UID, Options, Server, TestDir, require_root, run_python,
};
use mailkeep_testkit::Listeners;

const PASS: &str = "lmtp-secret-9";

/// A server with an `lmtp` TCP listener, a 1 MiB message limit, and users
/// alice and bob.
fn start(dir: &TestDir) -> Server<'_> {
    start_with_limit(dir, 1 << 20)
}

/// [`start`] with a message limit of `max` bytes.
fn start_with_limit(dir: &TestDir, max: u64) -> Server<'_> {
    let server = start_without_users(dir, max);
    server.add_user("alice", PASS);
    server.add_user("bob", PASS);
    server
}

/// [`start_with_limit`] on a data directory whose users exist already.
fn start_without_users(dir: &TestDir, max: u64) -> Server<'_> {
    let mut listeners = Listeners::new();
    for name in ["imap", "lmtp"] {
        listeners
            .bind(name, std::net::Ipv4Addr::LOCALHOST.into())
            .expect("binding");
    }
    let options = Options {
        extra_server: format!("max_message_size = {max}"),
        ..Options::default()
    };
    Server::start_opts(dir, options, listeners)
}

fn socket_path(dir: &TestDir) -> PathBuf {
    dir.data_dir().join("lmtp.sock")
}

/// A plain LMTP client: one command, its reply lines.
struct Lmtp<S: Read + Write> {
    reader: BufReader<S>,
}

impl Lmtp<TcpStream> {
    fn tcp(server: &Server<'_>) -> Lmtp<TcpStream> {
        let s = TcpStream::connect(server.listener("lmtp")).expect("connecting to lmtp");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        Lmtp::greeted(s)
    }
}

impl<S: Read + Write> Lmtp<S> {
    fn greeted(stream: S) -> Lmtp<S> {
        let mut c = Lmtp {
            reader: BufReader::new(stream),
        };
        let greeting = c.reply();
        assert!(greeting[0].starts_with("220 "), "{greeting:?}");
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("writing");
    }

    /// One reply, all its lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("reading a reply");
            assert!(n > 0, "connection closed; got {lines:?}");
            let line = line.trim_end().to_owned();
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                return lines;
            }
        }
    }

    /// Sends `line` (CRLF added) and returns the last line of its reply.
    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply().pop().expect("a reply line")
    }

    /// MAIL FROM, then each RCPT; the RCPT replies.
    fn envelope(&mut self, rcpts: &[&str]) -> Vec<String> {
        assert!(
            self.cmd("MAIL FROM:<sender@example.net>")
                .starts_with("250 2.1.0")
        );
        rcpts
            .iter()
            .map(|r| self.cmd(&format!("RCPT TO:<{r}>")))
            .collect()
    }

    /// DATA with `message` (already dot-stuffed, ending in CRLF), and the
    /// `n` per-recipient replies.
    fn data(&mut self, message: &[u8], n: usize) -> Vec<String> {
        assert!(self.cmd("DATA").starts_with("354 "));
        self.send(message);
        self.send(b".\r\n");
        (0..n).map(|_| self.reply().pop().expect("line")).collect()
    }
}

/// The bodies of `user`'s messages in `mailbox`, in UID order.
fn messages(server: &Server<'_>, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let mut c = server.try_connect().expect("imap");
    assert!(c.login(user, PASS).expect("login").is_ok());
    assert!(
        c.run(&format!("EXAMINE {mailbox}"))
            .expect("examine")
            .is_ok()
    );
    let reply = c.run("FETCH 1:* BODY.PEEK[]").expect("fetch");
    let mut out: Vec<(u32, Vec<u8>)> = reply
        .fetches()
        .iter()
        .map(|f| (f.seq, f.bytes("BODY[]").unwrap_or_default().to_vec()))
        .collect();
    out.sort_by_key(|(seq, _)| *seq);
    c.logout();
    out.into_iter().map(|(_, b)| b).collect()
}

/// Python's smtplib.LMTP over TCP and over the UNIX socket: SIZE and the
/// extensions in LHLO, a refused unknown recipient beside an accepted one
/// (`user@EXAMPLE.org` for a bare account, the domain in any case), the
/// trace fields, dot-unstuffing, `+detail` into an existing folder and into
/// INBOX when the folder does not exist, APPENDLIMIT equal to SIZE.
#[test]
fn smtplib_delivers_over_tcp_and_the_unix_socket() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = server.try_connect().expect("imap");
    assert!(c.login("alice", PASS).expect("login").is_ok());
    assert!(c.run("CREATE Lists").expect("create").is_ok());
    c.logout();
    run_python(
        "lmtp_smtplib.py",
        &[
            ("MK_HOST", "127.0.0.1".into()),
            ("MK_LMTP_PORT", server.listener("lmtp").port().to_string()),
            ("MK_LMTP_SOCKET", socket_path(&dir).display().to_string()),
            ("MK_IMAP_PORT", server.port.to_string()),
            ("MK_USER", "alice".into()),
            ("MK_PASS", PASS.into()),
        ],
        "lmtp_smtplib: all checks passed",
        Duration::from_secs(120),
    );
}

/// One reply per accepted recipient after DATA and after BDAT LAST, in
/// RCPT order; a loop refused for the recipient Delivered-To names only;
/// SIZE and an oversized DATA refused with 552 5.3.4; a bare LF refused
/// with 550 5.6.0; a command line over 1,000 bytes refused and the
/// session going on; a dot-stuffing edge; 1,000 pipelined RCPTs: the
/// first 100 accepted, the rest 452 4.5.3. Then exactly the accepted
/// copies are in the mailboxes.
#[test]
fn replies_per_recipient_and_bad_input_get_clear_answers() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = Lmtp::tcp(&server);
    let lhlo = {
        c.send(b"LHLO client.example\r\n");
        c.reply()
    };
    assert!(lhlo.iter().any(|l| l == "250 SIZE 1048576"), "{lhlo:?}");

    // Per-recipient replies; a dot-stuffing edge: "..", "..x", a "." in a line.
    let rcpts = c.envelope(&["alice", "nobody", "bob@example.org"]);
    assert!(rcpts[0].starts_with("250 2.1.5"), "{rcpts:?}");
    assert!(rcpts[1].starts_with("550 5.1.1"), "{rcpts:?}");
    assert!(rcpts[2].starts_with("250 2.1.5"), "{rcpts:?}");
    let first = b"Subject: one\r\n\r\n..\r\n..x\r\na.b\r\n";
    let replies = c.data(first, 2);
    assert!(
        replies.iter().all(|r| r.starts_with("250 2.0.0")),
        "{replies:?}"
    );

    // A loop for alice alone.
    c.envelope(&["alice", "bob"]);
    let looped = b"Delivered-To: alice\r\nSubject: loop\r\n\r\nagain\r\n";
    let replies = c.data(looped, 2);
    assert!(replies[0].starts_with("554 5.4.6"), "{replies:?}");
    assert!(replies[1].starts_with("250 2.0.0"), "{replies:?}");

    // Over the size limit: declared, and sent.
    assert!(
        c.cmd("MAIL FROM:<s@x> SIZE=2000000")
            .starts_with("552 5.3.4")
    );
    c.envelope(&["alice"]);
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..12_000 {
        big.extend_from_slice(&[b'z'; 98]);
        big.extend_from_slice(b"\r\n");
    }
    let replies = c.data(&big, 1);
    assert!(replies[0].starts_with("552 5.3.4"), "{replies:?}");

    // A bare LF.
    c.envelope(&["alice"]);
    let replies = c.data(b"Subject: lf\r\n\r\nbare\nlf\r\n", 1);
    assert!(replies[0].starts_with("550 5.6.0"), "{replies:?}");

    // A command line over 1,000 bytes, then the session goes on.
    let long = format!("NOOP {}", "x".repeat(1500));
    assert!(c.cmd(&long).starts_with("500 5.5.2"));
    assert!(c.cmd("NOOP").starts_with("250 2.0.0"));

    // BDAT in two chunks to two recipients.
    c.envelope(&["alice", "bob"]);
    let part1 = b"Subject: chunked\r\n\r\n";
    let part2 = b"in two chunks\r\n.not stuffed\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    assert!(c.reply()[0].starts_with("250 2.0.0"));
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    let replies: Vec<String> = (0..2).map(|_| c.reply().pop().expect("line")).collect();
    assert!(
        replies.iter().all(|r| r.starts_with("250 2.0.0")),
        "{replies:?}"
    );

    // 1,000 RCPTs in one pipelined write.
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(b"RCPT TO:<alice>\r\n");
    }
    c.send(&batch);
    let rcpts: Vec<String> = (0..1000).map(|_| c.reply().pop().expect("line")).collect();
    assert!(rcpts[..100].iter().all(|r| r.starts_with("250 2.1.5")));
    assert!(
        rcpts[100..].iter().all(|r| r.starts_with("452 4.5.3")),
        "{:?}",
        &rcpts[100]
    );
    let replies = c.data(b"Subject: many\r\n\r\nx\r\n", 100);
    assert!(
        replies.iter().all(|r| r.starts_with("250 2.0.0")),
        "{replies:?}"
    );
    assert!(c.cmd("QUIT").starts_with("221"));

    let alice = messages(&server, "alice", "INBOX");
    assert_eq!(alice.len(), 1 + 1 + 100, "first, chunked, 100 copies");
    assert!(alice[0].ends_with(b"Subject: one\r\n\r\n.\r\n.x\r\na.b\r\n"));
    assert!(alice[1].ends_with(b"Subject: chunked\r\n\r\nin two chunks\r\n.not stuffed\r\n"));
    let bob = messages(&server, "bob", "INBOX");
    assert_eq!(bob.len(), 3, "first, the loop alice refused, chunked");
    assert!(bob[1].windows(5).any(|w| w == b"again"));

    // One log line per stored copy (written after the replies), none for
    // the refused ones.
    let delivered = |out: &str| out.matches(": delivered user=").count();
    let stored = alice.len() + bob.len();
    server.wait_for_output(
        "a log line per stored copy",
        Duration::from_secs(30),
        |out| (delivered(out) >= stored).then_some(()),
    );
    assert_eq!(delivered(&server.output()), stored, "{}", server.logs());
    assert_eq!(
        server
            .output()
            .matches(": delivered user=\"alice\"")
            .count(),
        alice.len()
    );
}

/// A client that goes away in the middle of DATA gets nothing delivered:
/// the message never ended, so no part of it is stored.
#[test]
fn a_disconnect_mid_data_delivers_nothing() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = Lmtp::greeted(UnixStream::connect(socket_path(&dir)).expect("socket"));
    assert!(c.cmd("LHLO x").starts_with("250"));
    c.envelope(&["alice"]);
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: cut\r\n\r\nhalf a mess");
    drop(c);
    let mut c = Lmtp::tcp(&server);
    assert!(c.cmd("LHLO x").starts_with("250"));
    c.envelope(&["alice"]);
    assert!(c.data(b"Subject: marker\r\n\r\nwhole\r\n", 1)[0].starts_with("250"));
    let inbox = messages(&server, "alice", "INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].ends_with(b"Subject: marker\r\n\r\nwhole\r\n"));
}

/// A delivered message's file is written after its `250` (its bytes are
/// in the append journal first): a server stopped moments after the
/// deliveries leaves every message as a file in the Maildir all the same
/// (its storage processes write them on SIGTERM), for whatever reads the
/// Maildir next (Dovecot, mutt, a backup).
#[test]
fn a_stopped_server_leaves_every_delivered_message_in_the_maildir() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = Lmtp::tcp(&server);
    assert!(c.cmd("LHLO x").starts_with("250"));
    let bodies: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("Subject: kept {i}\r\n\r\nbody {i}\r\n").into_bytes())
        .collect();
    for body in &bodies {
        c.envelope(&["alice"]);
        assert!(c.data(body, 1)[0].starts_with("250"));
    }
    drop(c);
    let mut server = server;
    server.stop();
    let cur = dir.maildir("alice").join("cur");
    let mut found: Vec<Vec<u8>> = std::fs::read_dir(&cur)
        .expect("cur/")
        .flatten()
        .map(|e| std::fs::read(e.path()).expect("a message file"))
        .collect();
    assert_eq!(found.len(), bodies.len(), "files in {}", cur.display());
    found.sort();
    for (file, body) in found.iter().zip(&bodies) {
        assert!(file.ends_with(body), "{}", String::from_utf8_lossy(file));
    }
}

/// The peak resident memory of `pid` (`VmHWM`), in KiB.
fn peak_memory_kib(server: &Server<'_>, pid: i32) -> u32 {
    let proc = server
        .children()
        .into_iter()
        .find(|p| p.pid == pid)
        .expect("the lmtp process");
    proc.status_numbers("VmHWM:")
        .first()
        .copied()
        .expect("VmHWM in /proc/PID/status")
}

/// A 32 MiB message to two recipients streams through the lmtp process:
/// both get it whole, and the process's peak memory grows by far less than
/// one copy of the message (buffering it, let alone a copy per recipient,
/// would raise the peak by at least 32 MiB).
#[test]
fn a_big_message_streams_to_every_recipient_in_bounded_memory() {
    const BOUND_KIB: u32 = 16 * 1024;
    let dir = TestDir::new();
    let server = start_with_limit(&dir, 64 << 20);
    let mut c = Lmtp::tcp(&server);
    assert!(c.cmd("LHLO x").starts_with("250"));
    let lmtp = server.wait_role("lmtp", None, None);
    let before = peak_memory_kib(&server, lmtp.pid);
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    let line = [b"x".repeat(998), b"\r\n".to_vec()].concat();
    for _ in 0..(32 << 20) / line.len() {
        message.extend_from_slice(&line);
    }
    let replies = c.envelope(&["alice", "bob"]);
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let replies = c.data(&message, 2);
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let after = peak_memory_kib(&server, lmtp.pid);
    assert!(
        after.saturating_sub(before) < BOUND_KIB,
        "peak memory grew from {before} KiB to {after} KiB"
    );
    for user in ["alice", "bob"] {
        let mut imap = server.try_connect().expect("imap");
        assert!(imap.login(user, PASS).expect("login").is_ok());
        assert!(imap.run("EXAMINE INBOX").expect("examine").is_ok());
        let reply = imap.run("FETCH 1 RFC822.SIZE").expect("fetch");
        let size = reply.fetch(1).and_then(|f| f.number("RFC822.SIZE"));
        let size = size.expect("RFC822.SIZE");
        assert!(
            size > message.len() as u64 && size < message.len() as u64 + 1024,
            "{user}: {size} bytes stored for a {} byte message and its trace fields",
            message.len()
        );
        imap.logout();
    }
}

/// An IMAP client in IDLE is told of a message delivered over LMTP.
#[test]
fn idle_sees_a_delivered_message() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut imap = server.try_connect().expect("imap");
    assert!(imap.login("alice", PASS).expect("login").is_ok());
    assert!(imap.run("SELECT INBOX").expect("select").is_ok());
    let mut idle = imap.idle().expect("idle");
    let mut c = Lmtp::tcp(&server);
    assert!(c.cmd("LHLO x").starts_with("250"));
    c.envelope(&["alice"]);
    assert!(c.data(b"Subject: ping\r\n\r\nnew\r\n", 1)[0].starts_with("250"));
    idle.wait_for(|r| r.is_data("EXISTS"))
        .expect("EXISTS during IDLE");
    assert!(idle.done().expect("done").is_ok());
}

/// `mailkeep deliver` speaks LMTP to the UNIX socket: 0 and the message
/// in the `-m` folder; 67 for an unknown user; 75 when no server listens.
#[test]
fn mailkeep_deliver_exits_as_sysexits_says() {
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = server.try_connect().expect("imap");
    assert!(c.login("bob", PASS).expect("login").is_ok());
    assert!(c.run("CREATE Work").expect("create").is_ok());
    c.logout();
    let deliver = |user: &str, config: &std::path::Path| {
        crate::harness::run_deliver(
            config,
            &["-u", user, "-m", "Work", "-f", "from@example.net"],
            b"Subject: local\n\nunix line ends\n",
        )
    };
    assert_eq!(deliver("bob", &server.config).0, Some(0));
    let (code, stderr) = deliver("nobody", &server.config);
    assert_eq!(code, Some(67), "{stderr}");
    let work = messages(&server, "bob", "Work");
    assert_eq!(work.len(), 1);
    assert!(work[0].starts_with(b"Return-Path: <from@example.net>\r\n"));
    assert!(work[0].ends_with(b"Subject: local\r\n\r\nunix line ends\r\n"));
    // No server on the socket: a temporary failure.
    std::fs::remove_file(socket_path(&dir)).expect("removing the socket");
    let (code, stderr) = deliver("bob", &server.config);
    assert_eq!(code, Some(75), "{stderr}");
}

/// As root, the lmtp process runs like imap: as nobody, with no
/// capabilities and no_new_privs, chrooted into the empty directory,
/// under seccomp.
#[test]
fn lmtp_process_runs_as_nobody_in_the_empty_chroot() {
    if !require_root("lmtp_process_runs_as_nobody_in_the_empty_chroot") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    server.wait_confined("lmtp");
    let lmtp = server.wait_role("lmtp", None, None);
    assert_eq!(lmtp.status_numbers("Uid:"), vec![NOBODY_UID; 4]);
    let status = lmtp.status();
    for (field, want) in [("NoNewPrivs:", "1"), ("Seccomp:", "2")] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim);
        assert_eq!(value, Some(want), "{field} of {lmtp:?}");
    }
    let cap = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .expect("CapEff");
    assert!(cap.chars().all(|c| c == '0'), "capabilities: {cap}");
    let root = std::fs::read_link(format!("/proc/{}/root", lmtp.pid)).expect("root link");
    let chroot = std::fs::canonicalize(dir.chroot_dir()).expect("chroot");
    assert_eq!(root, chroot);
    // And it still delivers.
    let mut c = Lmtp::tcp(&server);
    assert!(c.cmd("LHLO x").starts_with("250"));
    c.envelope(&["alice"]);
    assert!(c.data(b"Subject: confined\r\n\r\nok\r\n", 1)[0].starts_with("250"));
}

/// A full disk: APPEND gets `NO [OVERQUOTA]` and LMTP `452 4.3.1`, and
/// nothing acknowledged is lost: after a restart on the full disk, with
/// the folder changed by another program meanwhile, the mail reads back
/// whole. With room again, mail is accepted as before. (The store's
/// `disk_full` test covers the index on a full disk in detail.)
#[test]
fn a_full_disk_refuses_new_mail_and_still_serves_what_is_there() {
    if !require_root("a_full_disk_refuses_new_mail_and_still_serves_what_is_there") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    let disk = crate::tmpfs::Tmpfs::mount(&dir.home("alice"), 2 << 20, Some(MAIL_UID));

    let mut c = server.login("alice", PASS);
    // A first message whose file is written (from the append journal,
    // by the flusher) before the disk fills: another program renames it
    // below.
    let first = crate::harness::make_message("full-first", 1_000);
    assert!(c.append("INBOX", &[], &first).expect("APPEND").is_ok());
    crate::harness::files_in(&dir.maildir("alice").join("cur"), 1);
    let mut acked: Vec<Vec<u8>> = vec![first];
    let refused = loop {
        assert!(acked.len() < 100, "a 2 MiB disk took 100 messages");
        let message = crate::harness::make_message(&format!("full-{}", acked.len()), 100_000);
        let reply = c.append("INBOX", &[], &message).expect("APPEND");
        if !reply.is_ok() {
            break reply;
        }
        acked.push(message);
    };
    assert!(refused.has_code("OVERQUOTA"), "{refused:?}");
    assert!(!acked.is_empty());
    c.logout();

    // The server stops, the disk fills up, and another program marks a
    // message seen (a rename in cur/, which the next SELECT's sync would
    // write down in the index); the server starts on the full disk.
    let mut server = server;
    server.stop();
    let filler = disk.fill();
    let cur = dir.maildir("alice").join("cur");
    let file = std::fs::read_dir(&cur)
        .expect("cur")
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .next()
        .expect("a message file");
    let seen = if file.ends_with(":2,") {
        format!("{file}S")
    } else {
        format!("{file}:2,S")
    };
    std::fs::rename(cur.join(&file), cur.join(seen)).expect("renaming");
    let server = start_without_users(&dir, 1 << 20);

    let mut l = Lmtp::tcp(&server);
    assert!(l.cmd("LHLO x").starts_with("250"));
    l.envelope(&["alice"]);
    let replies = l.data(b"Subject: no room\r\n\r\nx\r\n", 1);
    assert!(replies[0].starts_with("452 4.3.1"), "{replies:?}");
    let bodies = messages(&server, "alice", "INBOX");
    assert_eq!(bodies.len(), acked.len());
    assert!(bodies == acked, "the messages read back differ");

    // Room again: the filler goes and the disk grows (the messages whose
    // files the full disk kept in the append journal need theirs).
    std::fs::remove_file(filler).expect("removing the filler");
    disk.grow(4 << 20);
    let mut c = server.login("alice", PASS);
    let reply = c
        .append("INBOX", &[], b"Subject: room again\r\n\r\nx\r\n")
        .expect("APPEND");
    assert!(reply.is_ok(), "{reply:?}");
    c.logout();
    assert_eq!(messages(&server, "alice", "INBOX").len(), acked.len() + 1);
}

//! Delivery into a shared mailbox (issue 11): `bob+shared.alice.Team` over
//! LMTP, and `mailkeep deliver -u bob -m shared.alice.Team`, put the
//! message into alice's Team through alice's storage process (uid 5000)
//! with bob's deliver ticket (bob is uid 5001), when alice granted bob 'p'
//! (post). Without 'p' ('i' does not do, as in Dovecot), or when the
//! mailbox or its owner does not exist, the copy goes to bob's INBOX as
//! for an unknown folder of his own. `+Public.News` posts into the public
//! account's News the same way. Posting grants no reading: bob still
//! cannot open Team.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;

use crate::harness::{
    DEADLINE, Server, TestDir, files_under, require_root, run_deliver, run_user_cmd,
};
use crate::sharing::admin_acl;

pub(crate) const SENDER: &str = "sender@example.net";

/// A message that only arrives intact if every byte is kept: 8-bit text,
/// a line that needs dot-stuffing, a bare empty line, a long line.
pub(crate) fn message(subject: &str) -> Vec<u8> {
    let mut m = format!(
        "From: carol@example.net\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(".a line that starts with a dot\r\n\r\n".as_bytes());
    m.extend_from_slice("caf\u{e9} \u{2014} \u{1f4ec}\r\n".as_bytes());
    m.extend_from_slice(format!("{}\r\n", "x".repeat(900)).as_bytes());
    m
}

/// A plain LMTP client on the server's UNIX socket.
pub(crate) struct Lmtp {
    reader: BufReader<UnixStream>,
}

impl Lmtp {
    pub(crate) fn connect(dir: &TestDir) -> Lmtp {
        let s = UnixStream::connect(dir.data_dir().join("lmtp.sock")).expect("the LMTP socket");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut c = Lmtp {
            reader: BufReader::new(s),
        };
        assert!(c.reply().starts_with("220 "));
        assert!(c.cmd("LHLO test.example").starts_with("250"));
        c
    }

    /// The last line of one reply.
    fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("reading a reply");
            assert!(n > 0, "LMTP closed the connection");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("writing");
    }

    pub(crate) fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// One transaction of `message` to `rcpts`: RCPT's replies, then one
    /// reply per accepted recipient after DATA.
    pub(crate) fn deliver(&mut self, rcpts: &[&str], message: &[u8]) -> (Vec<String>, Vec<String>) {
        assert!(
            self.cmd(&format!("MAIL FROM:<{SENDER}>"))
                .starts_with("250")
        );
        let rcpt: Vec<String> = rcpts
            .iter()
            .map(|r| self.cmd(&format!("RCPT TO:<{r}>")))
            .collect();
        let accepted = rcpt.iter().filter(|r| r.starts_with("250")).count();
        assert!(self.cmd("DATA").starts_with("354"));
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                self.send(b".");
            }
            self.send(line);
        }
        self.send(b".\r\n");
        let data = (0..accepted).map(|_| self.reply()).collect();
        (rcpt, data)
    }
}

/// The full text of every message in `user`'s `mailbox`, in UID order,
/// read over IMAP as `user`.
pub(crate) fn messages(
    server: &Server<'_>,
    user: &str,
    password: &str,
    mailbox: &str,
) -> Vec<Vec<u8>> {
    let mut c = server.login(user, password);
    let examined = c.run(&format!("EXAMINE {mailbox}")).expect("EXAMINE");
    assert!(
        examined.is_ok(),
        "EXAMINE {mailbox} as {user}: {examined:?}"
    );
    if examined.exists() == Some(0) {
        c.logout();
        return Vec::new();
    }
    let reply = c.run("UID FETCH 1:* BODY.PEEK[]").expect("FETCH");
    let mut out: Vec<(u32, Vec<u8>)> = reply
        .fetches()
        .iter()
        .map(|f| (f.seq, f.bytes("BODY[]").unwrap_or_default().to_vec()))
        .collect();
    out.sort_by_key(|(seq, _)| *seq);
    c.logout();
    out.into_iter().map(|(_, b)| b).collect()
}

/// Asserts that `stored` is exactly the trace fields LMTP adds for `rcpt`
/// (Return-Path, Delivered-To naming `user`, Received with `for <rcpt>`)
/// followed by `sent`, byte for byte.
pub(crate) fn is_delivered_copy(stored: &[u8], user: &str, rcpt: &str, sent: &[u8]) {
    assert!(
        stored.ends_with(sent) && stored.len() > sent.len(),
        "the message came back changed:\n{}",
        String::from_utf8_lossy(stored)
    );
    let trace = String::from_utf8_lossy(&stored[..stored.len() - sent.len()]).into_owned();
    let expected_start =
        format!("Return-Path: <{SENDER}>\r\nDelivered-To: {user}\r\nReceived: from ");
    assert!(trace.starts_with(&expected_start), "{trace}");
    assert!(trace.contains(&format!("\tfor <{rcpt}>; ")), "{trace}");
    assert!(
        trace.ends_with("\r\n") && !trace.contains("\r\n\r\n"),
        "{trace}"
    );
}

/// A server in `mode` with alice (uid 5000: Team, on which bob may post,
/// and Projects, on which bob has `lri` but no 'p'), bob (uid 5001) and
/// the public account (uid 5002: News, on which anyone may post).
fn setup<'a>(dir: &'a TestDir, mode: &str) -> Server<'a> {
    let server = Server::start_with(
        dir,
        &format!("public_namespace_owner = \"public\"\n\n[storage]\nmode = \"{mode}\"\n"),
    );
    server.add_user("alice", "a-secret");
    for (user, id, password) in [("bob", "5001", "b-secret"), ("public", "5002", "p-secret")] {
        run_user_cmd(
            &server.config,
            &["add", user, "--uid", id, "--gid", id],
            Some(password),
        );
    }
    let mut a = server.login("alice", "a-secret");
    a.ok("CREATE Team");
    a.ok("CREATE Projects");
    a.logout();
    let mut p = server.login("public", "p-secret");
    p.ok("CREATE News");
    p.logout();
    admin_acl(&server, &["set", "alice", "Team", "bob", "p"]);
    admin_acl(&server, &["set", "alice", "Projects", "bob", "lri"]);
    admin_acl(&server, &["set", "public", "News", "anyone", "p"]);
    server
}

fn delivery_into_shared_mailboxes_in(mode: &str) {
    let dir = TestDir::new();
    let server = setup(&dir, mode);

    // LMTP: one transaction, a copy per recipient, each where it may go.
    let sent = message("team news");
    let rcpts = [
        "bob+shared.alice.Team",
        "bob+shared.alice.Projects",
        "bob+shared.alice.Nowhere",
        "bob+shared.nobody.Team",
        "bob+Public.News",
    ];
    let mut lmtp = Lmtp::connect(&dir);
    let (rcpt, data) = lmtp.deliver(&rcpts, &sent);
    assert!(rcpt.iter().all(|r| r.starts_with("250 2.1.5")), "{rcpt:?}");
    assert!(
        data.iter().all(|r| r.starts_with("250 2.0.0")),
        "{data:?}\n{}",
        server.logs()
    );
    lmtp.cmd("QUIT");

    let team = messages(&server, "alice", "a-secret", "Team");
    assert_eq!(team.len(), 1, "{}", server.logs());
    is_delivered_copy(&team[0], "bob", "bob+shared.alice.Team", &sent);
    assert!(
        messages(&server, "alice", "a-secret", "Projects").is_empty(),
        "'i' is not 'p': no delivery into Projects"
    );
    let news = messages(&server, "public", "p-secret", "News");
    assert_eq!(news.len(), 1);
    is_delivered_copy(&news[0], "bob", "bob+Public.News", &sent);
    // Projects (no 'p'), a mailbox alice does not have, an owner who
    // does not exist: bob's INBOX, as for an unknown folder of his own.
    let inbox = messages(&server, "bob", "b-secret", "INBOX");
    assert_eq!(inbox.len(), 3, "{}", server.logs());
    for rcpt in &rcpts[1..4] {
        // The copies are committed side by side: in any UID order.
        let needle = format!("\tfor <{rcpt}>; ");
        let stored = inbox
            .iter()
            .find(|m| String::from_utf8_lossy(m).contains(&needle))
            .unwrap_or_else(|| panic!("no copy for {rcpt} in bob's INBOX"));
        is_delivered_copy(stored, "bob", rcpt, &sent);
    }

    // `mailkeep deliver -m`: the same ways.
    let deliver = |mailbox: &str, subject: &str| {
        let body = format!("Subject: {subject}\n\nby mailkeep deliver\n");
        let (code, stderr) = run_deliver(
            &server.config,
            &["-u", "bob", "-m", mailbox, "-f", SENDER],
            body.as_bytes(),
        );
        assert_eq!(code, Some(0), "deliver -m {mailbox}: {stderr}");
    };
    deliver("shared.alice.Team", "deliver into Team");
    deliver("shared.alice.Projects", "deliver into Projects");
    let team = messages(&server, "alice", "a-secret", "Team");
    assert_eq!(team.len(), 2);
    assert!(team[1].ends_with(b"Subject: deliver into Team\r\n\r\nby mailkeep deliver\r\n"));
    let inbox = messages(&server, "bob", "b-secret", "INBOX");
    assert_eq!(inbox.len(), 4);
    assert!(inbox[3].ends_with(b"Subject: deliver into Projects\r\n\r\nby mailkeep deliver\r\n"));

    // Posting is no reading: Team is not there for bob over IMAP.
    let mut b = server.login("bob", "b-secret");
    let hidden = b.run("SELECT shared.alice.Team").expect("SELECT");
    assert!(hidden.has_code("NONEXISTENT"), "{hidden:?}");
    b.logout();

    // alice's messages were written by alice's uid (her storage process,
    // or a thread working as her in shared mode), open to no one else.
    let team_dir = dir.maildir("alice").join(".Team");
    let files = files_under(&team_dir);
    assert!(
        files
            .iter()
            .any(|f| f.parent().is_some_and(|p| p.ends_with("cur")))
    );
    for file in files {
        let meta = std::fs::metadata(&file).expect("stat");
        assert_eq!(meta.uid(), 5000, "{} is alice's", file.display());
        assert_eq!(
            meta.mode() & 0o077,
            0,
            "{} is open to others",
            file.display()
        );
    }
}

#[test]
fn delivery_into_shared_mailboxes_per_uid_mode() {
    if !require_root("delivery_into_shared_mailboxes_per_uid_mode") {
        return;
    }
    delivery_into_shared_mailboxes_in("per-uid");
}

#[test]
fn delivery_into_shared_mailboxes_shared_mode() {
    if !require_root("delivery_into_shared_mailboxes_shared_mode") {
        return;
    }
    delivery_into_shared_mailboxes_in("shared");
}

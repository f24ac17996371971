//! Postfix from Debian in front of mailkeep (issue 9): swaks speaks SMTP
//! to a throwaway Postfix, which relays over LMTP to mailkeep; the message
//! is read back over IMAP and POP3 byte for byte, `+detail` lands in its
//! folder, and an unknown recipient bounces with 5.1.1. Root only (Postfix
//! switches to its own user); CI installs postfix and swaks.

use crate::harness::postfix::{DOMAIN, Postfix, available};
use crate::harness::{DEADLINE, Server, TestDir, make_message, pop3, wait_until};

const PASS: &str = "postfix-secret-9";

/// A server with imap, lmtp and pop3 listeners and users alice and bob.
pub(crate) fn start(dir: &TestDir) -> Server<'_> {
    let (server, _) = Server::start_prebound(
        dir,
        &[("imap", "plain"), ("lmtp", "plain"), ("pop3", "plain")],
        "",
    );
    server.add_user("alice", PASS);
    server.add_user("bob", PASS);
    server
}

/// Waits until `user`'s `mailbox` holds at least `n` messages (polling
/// IMAP within the harness's deadline); returns their bodies in UID order.
fn wait_messages(server: &Server<'_>, user: &str, mailbox: &str, n: usize) -> Vec<Vec<u8>> {
    let mut c = server.login(user, PASS);
    let bodies = wait_until(
        DEADLINE,
        &format!("{n} messages in {user}'s {mailbox}"),
        || {
            assert!(
                c.run(&format!("EXAMINE {mailbox}"))
                    .expect("EXAMINE")
                    .is_ok()
            );
            let reply = c.run("UID FETCH 1:* BODY.PEEK[]").expect("FETCH");
            let mut found: Vec<(u32, Vec<u8>)> = reply
                .fetches()
                .iter()
                .map(|f| (f.seq, f.bytes("BODY[]").unwrap_or_default().to_vec()))
                .collect();
            found.sort_by_key(|(seq, _)| *seq);
            (found.len() >= n).then(|| found.into_iter().map(|(_, b)| b).collect())
        },
    );
    c.logout();
    bodies
}

/// The header fields of `prefix` (a run of whole header lines), by name.
fn fields(prefix: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(prefix).expect("added header fields are ASCII");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().expect("a continuation after a field").1 += line;
        } else {
            let (name, value) = line.split_once(':').expect("a header field");
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

/// `stored` is `sent` exactly, after header fields added on the way:
/// Postfix's Received, and mailkeep's Return-Path (the envelope sender),
/// Delivered-To (the recipient's address, without a `+detail`) and
/// Received; nothing else.
fn assert_sent_plus_trace(stored: &[u8], sent: &[u8], from: &str, rcpt: &str) {
    assert!(
        stored.ends_with(sent),
        "the stored message does not end with the bytes sent:\n{}",
        String::from_utf8_lossy(stored)
    );
    let added = fields(&stored[..stored.len() - sent.len()]);
    let names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| ["Return-Path", "Delivered-To", "Received"].contains(n)),
        "{added:?}"
    );
    let value = |name: &str| {
        added
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(value("Return-Path"), vec![format!("<{from}>")]);
    assert_eq!(value("Delivered-To"), vec![rcpt.to_owned()]);
    let received = value("Received");
    assert_eq!(received.len(), 2, "mailkeep's and Postfix's: {received:?}");
    assert!(received[0].contains("with LMTP"), "{received:?}");
    assert!(received[1].contains("mx.example.org"), "{received:?}");
}

/// swaks → Postfix → LMTP → mailkeep: what IMAP and POP3 read back is the
/// sent message byte for byte after the trace fields; `bob+Work@` lands
/// in bob's folder Work.
#[test]
fn postfix_relays_over_lmtp_and_imap_and_pop3_read_back_the_bytes_sent() {
    if !available("postfix_relays_over_lmtp_and_imap_and_pop3_read_back_the_bytes_sent") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    let mut c = server.login("bob", PASS);
    assert!(c.run("CREATE Work").expect("CREATE").is_ok());
    c.logout();
    let postfix = Postfix::start(&dir, server.listener("lmtp"), None);
    let from = format!("alice@{DOMAIN}");
    let inbox_rcpt = format!("bob@{DOMAIN}");
    let detail_rcpt = format!("bob+Work@{DOMAIN}");
    let first = make_message("postfix-inbox", 6000);
    let second = make_message("postfix-detail", 2000);
    for (rcpt, message) in [(&inbox_rcpt, &first), (&detail_rcpt, &second)] {
        let out = postfix.swaks(postfix.smtp, &from, rcpt, message, &[]);
        let transcript = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && transcript.contains("250 2.0.0 Ok: queued"),
            "swaks to {rcpt}: {}\n{transcript}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let inbox = wait_messages(&server, "bob", "INBOX", 1);
    assert_eq!(inbox.len(), 1, "only the first message is in INBOX");
    assert_sent_plus_trace(&inbox[0], &first, &from, &inbox_rcpt);
    let work = wait_messages(&server, "bob", "Work", 1);
    assert_eq!(work.len(), 1);
    assert_sent_plus_trace(&work[0], &second, &from, &inbox_rcpt);
    postfix.wait_log("Postfix logging both deliveries as sent", |l| {
        l.contains(&format!("to=<{detail_rcpt}>")) && l.contains("status=sent")
    });

    // POP3 reads INBOX's message with the same bytes (logging in by the
    // address, domain in another case: logins match like recipients).
    let mut p = pop3::login(&server, "bob@Example.ORG", PASS);
    let (status, listing) = p.multiline("LIST").expect("LIST");
    assert!(status.is_ok());
    assert_eq!(
        listing
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        1
    );
    let (status, retrieved) = p.multiline("RETR 1").expect("RETR");
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(retrieved, inbox[0], "POP3 and IMAP read different bytes");
    assert!(p.command("QUIT").expect("QUIT").is_ok());
}

/// A recipient mailkeep does not know gets `550 5.1.1` over LMTP: Postfix
/// logs the bounce with that status and returns the mail to its sender
/// (alice, also in mailkeep) with a bounce that names 5.1.1.
#[test]
fn postfix_bounces_an_unknown_recipient_with_5_1_1() {
    if !available("postfix_bounces_an_unknown_recipient_with_5_1_1") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    let postfix = Postfix::start(&dir, server.listener("lmtp"), None);
    let from = format!("alice@{DOMAIN}");
    let nobody = format!("nobody@{DOMAIN}");
    let out = postfix.swaks(
        postfix.smtp,
        &from,
        &nobody,
        &make_message("unknown", 500),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let line = postfix.wait_log("Postfix logging the bounce", |l| {
        l.contains(&format!("to=<{nobody}>")) && l.contains("status=bounced")
    });
    assert!(line.contains("dsn=5.1.1"), "{line}");
    assert!(line.contains("550 5.1.1"), "{line}");
    let returned = wait_messages(&server, "alice", "INBOX", 1);
    let bounce = String::from_utf8_lossy(&returned[0]);
    assert!(bounce.contains("MAILER-DAEMON"), "{bounce}");
    assert!(bounce.contains("Status: 5.1.1"), "{bounce}");
    assert!(
        bounce.contains(&format!("Final-Recipient: rfc822; {nobody}")),
        "{bounce}"
    );
}

/// Postfix's `lmtp:unix:` transport on mailkeep's LMTP UNIX socket (under
/// the data directory, what Postfix on the same host uses): the message
/// arrives with the same bytes, and Postfix logs it sent.
#[test]
fn postfix_delivers_over_the_lmtp_unix_socket() {
    if !available("postfix_delivers_over_the_lmtp_unix_socket") {
        return;
    }
    let dir = TestDir::new();
    let server = start(&dir);
    let socket = dir.data_dir().join("lmtp.sock");
    assert!(socket.exists(), "no LMTP socket at {}", socket.display());
    let transport = format!("lmtp:unix:{}", socket.display());
    let postfix = Postfix::start_with_transport(&dir, &transport, None);
    let from = format!("alice@{DOMAIN}");
    let rcpt = format!("bob@{DOMAIN}");
    let message = make_message("postfix-unix", 3000);
    let out = postfix.swaks(postfix.smtp, &from, &rcpt, &message, &[]);
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && transcript.contains("250 2.0.0 Ok: queued"),
        "swaks: {}\n{transcript}",
        out.status
    );
    let inbox = wait_messages(&server, "bob", "INBOX", 1);
    assert_eq!(inbox.len(), 1);
    assert_sent_plus_trace(&inbox[0], &message, &from, &rcpt);
    postfix.wait_log("Postfix logging the delivery over the socket", |l| {
        l.contains(&format!("to=<{rcpt}>")) && l.contains("status=sent") && l.contains("lmtp.sock")
    });
}

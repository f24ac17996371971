//! Delivery and POP3 across hosts (issue 9): a user homed on host B
//! (userdb `host=b`) gets mail delivered at host A — over LMTP and with
//! `mailkeep deliver` — and reads it with POP3 at A; the messages live
//! only in B's Maildir, reached through B's storage gateway, which takes
//! A's deliver tickets (the storage process at B lets them do only what a
//! deliver ticket may, as at home). Gateways on 127.0.0.2 (A) and
//! 127.0.0.3 (B), as in `cluster.rs`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::cluster::{PASSWORD, USER, files_with, two_hosts_with};
use crate::harness::{DEADLINE, TestDir, make_message, pop3, require_root, run_deliver};

/// Sends one LMTP transaction for `rcpt` over `stream` and returns the
/// last line of each reply: RCPT's, then the message's.
fn lmtp_deliver(stream: TcpStream, rcpt: &str, message: &[u8]) -> (String, String) {
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut reader = BufReader::new(stream);
    let reply = |reader: &mut BufReader<TcpStream>| loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("reading") > 0,
            "LMTP closed"
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_owned();
        }
    };
    let send = |reader: &mut BufReader<TcpStream>, bytes: &[u8]| {
        reader.get_mut().write_all(bytes).expect("writing");
    };
    assert!(reply(&mut reader).starts_with("220"));
    send(&mut reader, b"LHLO a.example\r\n");
    assert!(reply(&mut reader).starts_with("250"));
    send(&mut reader, b"MAIL FROM:<sender@example.net>\r\n");
    assert!(reply(&mut reader).starts_with("250"));
    send(&mut reader, format!("RCPT TO:<{rcpt}>\r\n").as_bytes());
    let rcpt_reply = reply(&mut reader);
    send(&mut reader, b"DATA\r\n");
    assert!(reply(&mut reader).starts_with("354"));
    send(&mut reader, message);
    send(&mut reader, b".\r\n");
    let data_reply = reply(&mut reader);
    send(&mut reader, b"QUIT\r\n");
    (rcpt_reply, data_reply)
}

/// LMTP at A and `mailkeep deliver` at A put the messages in B's Maildir
/// (nothing on A's disk), through B's gateway; POP3 at A lists and
/// retrieves both from B, and its DELE + QUIT removes the message at B.
#[test]
fn lmtp_deliver_and_pop3_at_one_host_reach_a_user_homed_on_another() {
    if !require_root("lmtp_deliver_and_pop3_at_one_host_reach_a_user_homed_on_another") {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let cluster_dir = admin.path().join("cluster");
    let (server_a, server_b, _) = two_hosts_with(&dir_a, &dir_b, &cluster_dir, &["lmtp", "pop3"]);
    let tag = std::process::id();

    // LMTP at A.
    let by_lmtp = format!("over-lmtp-{tag}");
    let stream = TcpStream::connect(server_a.listener("lmtp")).expect("connecting to A's lmtp");
    let (rcpt, data) = lmtp_deliver(stream, USER, &make_message(&by_lmtp, 1500));
    assert!(
        rcpt.starts_with("250 2.1.5"),
        "{rcpt}\nA: {}",
        server_a.logs()
    );
    assert!(
        data.starts_with("250 2.0.0"),
        "{data}\nA: {}\nB: {}",
        server_a.logs(),
        server_b.logs()
    );
    server_b.wait_for_output(
        "B's gateway forwarding A's delivery",
        Duration::from_secs(10),
        |out| {
            out.contains("gateway: forwarding to local storage")
                .then_some(())
        },
    );

    // mailkeep deliver at A (A's LMTP socket).
    let by_deliver = format!("over-deliver-{tag}");
    let (code, stderr) = run_deliver(
        &server_a.config,
        &["-u", USER, "-f", "sender@example.net"],
        &make_message(&by_deliver, 800),
    );
    assert_eq!(code, Some(0), "{stderr}\nA: {}", server_a.logs());

    for marker in [&by_lmtp, &by_deliver] {
        // Written from B's append journal by its flusher.
        let at_b = crate::harness::wait_until(
            std::time::Duration::from_secs(10),
            &format!("{marker}'s file at B"),
            || Some(files_with(&dir_b.maildir(USER), marker)).filter(|f| !f.is_empty()),
        );
        assert_eq!(at_b.len(), 1, "{marker} at B");
        assert!(
            files_with(&dir_a.maildir(USER), marker).is_empty(),
            "{marker} at A"
        );
    }

    // POP3 at A reads B's maildrop.
    let mut p = pop3::login(&server_a, USER, PASSWORD);
    let stat = p.command("STAT").expect("STAT");
    assert!(stat.0.starts_with("+OK 2 "), "{stat:?}");
    let mut retrieved = String::new();
    for n in [1, 2] {
        let (status, body) = p.multiline(&format!("RETR {n}")).expect("RETR");
        assert!(status.is_ok(), "{status:?}");
        retrieved.push_str(&String::from_utf8_lossy(&body));
    }
    assert!(retrieved.contains(&by_lmtp) && retrieved.contains(&by_deliver));
    assert!(p.command("DELE 1").expect("DELE").is_ok());
    assert!(p.command("QUIT").expect("QUIT").is_ok());
    assert_eq!(
        files_with(&dir_b.maildir(USER), &by_lmtp).len()
            + files_with(&dir_b.maildir(USER), &by_deliver).len(),
        1,
        "QUIT at A expunged one message at B"
    );
}

/// A compromised host A (or its lmtp process and relay) holding only a
/// deliver ticket for the user: B's gateway takes the ticket and connects
/// it to the user's storage at B, where the deliver-allowed call
/// (MailboxExists) answers and every read (ListMailboxes, MailboxStatus,
/// SelectMailbox) is refused with PERMISSION_DENIED.
#[test]
fn a_deliver_ticket_through_the_gateway_may_deliver_and_read_nothing() {
    use mailkeep_storage_rpc::metadata::with_ticket;
    use mailkeep_storage_rpc::storage as pb;
    use mailkeep_storage_rpc::storage::storage_client::StorageClient;
    use mailkeep_storage_rpc::tls::{TlsMaterial, open_gateway};
    use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};

    if !require_root("a_deliver_ticket_through_the_gateway_may_deliver_and_read_nothing") {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let cluster_dir = admin.path().join("cluster");
    let (_server_a, server_b, gateway_b) = two_hosts_with(&dir_a, &dir_b, &cluster_dir, &[]);
    // A's own material, as its relay holds it, and a deliver ticket as
    // A's auth signs it for A's lmtp process.
    let host_a = cluster_dir.join("hosts").join("a");
    let read = |path: std::path::PathBuf| std::fs::read(&path).expect("reading cluster material");
    let material = TlsMaterial {
        ca_pem: read(cluster_dir.join("ca.pem")),
        cert_pem: read(host_a.join("relay.pem")),
        key_pem: read(host_a.join("relay.key")),
    };
    let key_text = String::from_utf8(read(host_a.join("host.key"))).expect("key text");
    let key = HostKey::parse(&key_text).expect("A's ticket key");
    let deliver = sign(
        &key,
        &Claims::new(USER, Scope::Deliver, now_unix(), 60, "a"),
    );

    let config = std::sync::Arc::new(material.client_config().expect("client TLS config"));
    let hello = pb_hello(&deliver);
    let server_name = gateway_b.rsplit_once(':').expect("ip:port").0.to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let stream = open_gateway(config, &gateway_b, &server_name, &hello)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "B's gateway refused a deliver ticket: {e}\nB: {}",
                    server_b.logs()
                )
            });
        let channel = mailkeep_storage_rpc::socket_channel::socket_channel(stream)
            .await
            .expect("HTTP/2 over the gateway");
        let mut storage = StorageClient::new(channel);

        let exists = storage
            .mailbox_exists(with_ticket(
                pb::MailboxExistsRequest {
                    owner: USER.into(),
                    name: "INBOX".into(),
                },
                &deliver,
            ))
            .await
            .expect("MailboxExists with a deliver ticket")
            .into_inner();
        assert!(exists.exists);
        let denied = |what: &str, result: Result<_, tonic::Status>| {
            let status: tonic::Status = result.map(|_: ()| ()).expect_err(what);
            assert_eq!(
                status.code(),
                tonic::Code::PermissionDenied,
                "{what}: {status:?}"
            );
        };
        denied(
            "ListMailboxes",
            storage
                .list_mailboxes(with_ticket(
                    pb::ListMailboxesRequest { owner: USER.into() },
                    &deliver,
                ))
                .await
                .map(drop),
        );
        denied(
            "MailboxStatus",
            storage
                .mailbox_status(with_ticket(
                    pb::MailboxStatusRequest {
                        owner: USER.into(),
                        name: "INBOX".into(),
                        ..Default::default()
                    },
                    &deliver,
                ))
                .await
                .map(drop),
        );
        denied(
            "SelectMailbox",
            storage
                .select_mailbox(with_ticket(
                    pb::SelectMailboxRequest {
                        owner: USER.into(),
                        name: "INBOX".into(),
                        ..Default::default()
                    },
                    &deliver,
                ))
                .await
                .map(drop),
        );
    });
}

/// The hello a relay sends for a session's connection.
fn pb_hello(ticket: &str) -> mailkeep_storage_rpc::broker::GatewayHello {
    mailkeep_storage_rpc::broker::GatewayHello {
        ticket: ticket.to_owned(),
        owner: USER.to_owned(),
        ..Default::default()
    }
}

//! The client against a scripted server on the other end of an in-memory
//! stream: what it sends, and how it reads what comes back.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

use crate::client::{Client, ClientError, LiteralMode};
use crate::commands::append::Append;
use crate::response::Status;

/// The server's end: reads what the client sends, writes responses.
struct Server {
    io: BufReader<DuplexStream>,
}

impl Server {
    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.io.read_line(&mut line).await.unwrap();
        line
    }

    async fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.io.read_exact(&mut buf).await.unwrap();
        buf
    }

    async fn say(&mut self, text: &[u8]) {
        self.io.get_mut().write_all(text).await.unwrap();
    }
}

/// A connected client (greeting read) and the server's end.
async fn pair() -> (Client<DuplexStream>, Server) {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let mut server = Server {
        io: BufReader::new(theirs),
    };
    server.say(b"* OK [CAPABILITY IMAP4rev2] ready\r\n").await;
    let client = Client::connect(ours).await.unwrap();
    (client, server)
}

#[tokio::test]
async fn a_reply_collects_responses_up_to_its_tag_even_when_split_byte_by_byte() {
    let (mut c, mut s) = pair().await;
    assert!(c.greeting().unwrap().status().unwrap().code.is_some());
    let server = tokio::spawn(async move {
        assert_eq!(s.line().await, "t1 FETCH 1 BODY[]\r\n");
        for b in b"* 1 FETCH (BODY[] {4}\r\nab\r\n)\r\nt1 OK done\r\n" {
            s.say(&[*b]).await;
        }
        s
    });
    let r = c.run("FETCH 1 BODY[]").await.unwrap();
    assert!(r.is_ok());
    assert_eq!(r.fetch(1).unwrap().bytes("BODY[]"), Some(&b"ab\r\n"[..]));
    server.await.unwrap();
}

#[tokio::test]
async fn pipelined_commands_are_read_by_tag_and_other_tags_are_kept() {
    let (mut c, mut s) = pair().await;
    let search = c.send_command("UID SEARCH TEXT x").await.unwrap();
    let fetch = c.send_command("FETCH 1 (FLAGS)").await.unwrap();
    assert_eq!(s.line().await, format!("{search} UID SEARCH TEXT x\r\n"));
    assert_eq!(s.line().await, format!("{fetch} FETCH 1 (FLAGS)\r\n"));
    s.say(
        format!(
            "* 1 FETCH (FLAGS ())\r\n{fetch} OK fetched\r\n* SEARCH 4\r\n{search} OK searched\r\n"
        )
        .as_bytes(),
    )
    .await;
    let first = c.read_reply(&search).await.unwrap();
    // The FETCH finished first: its tagged response is among the SEARCH's.
    assert!(first.responses.iter().any(|r| r.is_tagged(&fetch)));
    assert_eq!(first.search(), [4]);
}

#[tokio::test]
async fn a_synchronizing_literal_waits_for_the_continuation() {
    let (mut c, mut s) = pair().await;
    let server = tokio::spawn(async move {
        assert_eq!(s.line().await, "t1 APPEND \"INBOX\" (\\Seen) {5}\r\n");
        s.say(b"+ go ahead\r\n").await;
        assert_eq!(s.bytes(7).await, b"hello\r\n");
        s.say(b"t1 OK [APPENDUID 1 2] done\r\n").await;
    });
    let r = c.append("INBOX", &["\\Seen"], b"hello").await.unwrap();
    assert_eq!(r.appenduid(), Some((1, 2)));
    assert!(r.responses[0].continuation().is_some());
    server.await.unwrap();
}

#[tokio::test]
async fn a_refused_literal_is_not_sent_and_the_refusal_is_the_reply() {
    let (mut c, mut s) = pair().await;
    let server = tokio::spawn(async move {
        assert_eq!(s.line().await, "t1 APPEND \"INBOX\" {999}\r\n");
        s.say(b"t1 NO [TOOBIG] too big\r\n").await;
        assert_eq!(s.line().await, "t2 NOOP\r\n", "the message was not sent");
        s.say(b"t2 OK\r\n").await;
    });
    let r = c.append("INBOX", &[], &[b'x'; 999]).await.unwrap();
    assert!(r.has_code("TOOBIG"));
    assert!(c.run("NOOP").await.unwrap().is_ok());
    server.await.unwrap();
}

#[tokio::test]
async fn non_synchronizing_and_binary_literals_go_at_once() {
    let (mut c, mut s) = pair().await;
    let server = tokio::spawn(async move {
        let line = s.line().await;
        assert_eq!(
            line,
            "t1 APPEND \"Sent\" \"01-Jan-2020 00:00:00 +0000\" ~{3+}\r\n"
        );
        assert_eq!(s.bytes(5).await, b"\0\x01\x02\r\n");
        s.say(b"t1 OK done\r\n").await;
    });
    let append = Append::new("Sent", b"\0\x01\x02")
        .date("\"01-Jan-2020 00:00:00 +0000\"")
        .literal(LiteralMode::BinaryNonSync);
    assert!(c.append_with(&append).await.unwrap().is_ok());
    server.await.unwrap();
}

#[tokio::test]
async fn authenticate_encodes_responses_and_decodes_challenges() {
    let (mut c, mut s) = pair().await;
    let server = tokio::spawn(async move {
        assert_eq!(
            s.line().await,
            "t1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"
        );
        s.say(b"t1 OK logged in\r\n").await;
        assert_eq!(s.line().await, "t2 AUTHENTICATE LOGIN\r\n");
        s.say(b"+ VXNlcm5hbWU6\r\n").await;
        assert_eq!(s.line().await, "YWxpY2U=\r\n");
        s.say(b"+ UGFzc3dvcmQ6\r\n").await;
        assert_eq!(s.line().await, "c2VjcmV0\r\n");
        s.say(b"t2 OK logged in\r\n").await;
        assert_eq!(s.line().await, "t3 AUTHENTICATE PLAIN\r\n");
        s.say(b"+ \r\n").await;
        assert_eq!(s.line().await, "*\r\n");
        s.say(b"t3 BAD cancelled\r\n").await;
    });
    assert!(
        c.authenticate_plain("alice", "secret")
            .await
            .unwrap()
            .is_ok()
    );
    let mut challenges = Vec::new();
    let mut answers = ["alice", "secret"].into_iter();
    let r = c
        .authenticate("LOGIN", None, |ch| {
            challenges.push(ch.to_vec());
            answers.next().map(|a| a.as_bytes().to_vec())
        })
        .await
        .unwrap();
    assert!(r.is_ok());
    assert_eq!(challenges, [b"Username:".to_vec(), b"Password:".to_vec()]);
    let r = c.authenticate("PLAIN", None, |_| None).await.unwrap();
    assert_eq!(r.status(), Status::Bad);
    server.await.unwrap();
}

#[tokio::test]
async fn idle_reads_events_until_done() {
    let (mut c, mut s) = pair().await;
    let server = tokio::spawn(async move {
        assert_eq!(s.line().await, "t1 IDLE\r\n");
        s.say(b"+ idling\r\n* 4 EXISTS\r\n* OK Still here\r\n")
            .await;
        assert_eq!(s.line().await, "DONE\r\n");
        s.say(b"* 2 EXPUNGE\r\nt1 OK IDLE terminated\r\n").await;
        assert_eq!(s.line().await, "t2 IDLE\r\n");
        s.say(b"t2 BAD not now\r\n").await;
    });
    let mut idle = c.idle().await.unwrap();
    let seen = idle
        .wait_for(|r| r.status().is_some_and(|s| s.text == "Still here"))
        .await
        .unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].data().unwrap().number, Some(4));
    assert!(idle.ready().await.unwrap().is_none());
    let done = idle.done().await.unwrap();
    assert_eq!(done.expunged(), [2]);
    match c.idle().await {
        Err(ClientError::Refused(r)) => assert_eq!(r.status(), Status::Bad),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("IDLE refused by the server was taken as started"),
    }
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_without_losing_bytes() {
    let (mut c, mut s) = pair().await;
    c.set_timeout(Some(Duration::from_secs(5)));
    s.say(b"* 1 FETCH (UID").await;
    match c.read_response().await {
        Err(ClientError::Timeout { unread, .. }) => assert_eq!(unread, b"* 1 FETCH (UID"),
        other => panic!("{other:?}"),
    }
    assert!(c.response_ready().await.unwrap().is_none());
    s.say(b" 3)\r\n").await;
    let r = c.read_response().await.unwrap();
    assert_eq!(r.data().unwrap().fetch().unwrap().uid(), Some(3));
}

#[tokio::test]
async fn a_closed_connection_is_a_disconnect_with_what_came() {
    let (mut c, mut s) = pair().await;
    s.say(b"* BYE going\r\n* partial").await;
    drop(s);
    assert!(c.read_response().await.unwrap().is_bye());
    let e = c.read_response().await.unwrap_err();
    assert!(e.is_disconnect(), "{e}");
    assert!(matches!(e, ClientError::Closed { unread } if unread == b"* partial"));
}

#[tokio::test]
async fn read_until_closed_returns_everything_unread() {
    let (mut c, mut s) = pair().await;
    s.say(b"* BYE x\r\nrest").await;
    drop(s);
    assert_eq!(c.read_until_closed().await.unwrap(), b"* BYE x\r\nrest");
}

#[tokio::test]
async fn a_bye_greeting_is_an_error() {
    let (ours, mut theirs) = tokio::io::duplex(1024);
    theirs.write_all(b"* BYE too busy\r\n").await.unwrap();
    assert!(matches!(
        Client::connect(ours).await,
        Err(ClientError::Unexpected(_))
    ));
}

#[test]
fn the_blocking_client_runs_the_same_client_over_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let (conn, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
        let mut w = conn;
        w.write_all(b"* OK hi\r\n").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "t1 LOGOUT\r\n");
        w.write_all(b"* BYE bye\r\nt1 OK done\r\n").unwrap();
    });
    let c = crate::BlockingClient::connect(addr, Duration::from_secs(10)).unwrap();
    c.logout();
    server.join().unwrap();
}

#[test]
fn the_blocking_client_takes_any_stream_made_on_its_runtime() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let mut reader = std::io::BufReader::new(theirs.try_clone().unwrap());
        let mut w = theirs;
        w.write_all(b"* PREAUTH welcome\r\n").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "t1 NOOP\r\n");
        w.write_all(b"t1 OK done\r\n").unwrap();
    });
    let mut c = crate::BlockingClient::over(async move || {
        ours.set_nonblocking(true)?;
        tokio::net::UnixStream::from_std(ours)
    })
    .unwrap();
    assert_eq!(
        c.greeting().unwrap().status().unwrap().status,
        Status::Preauth
    );
    assert!(c.ok("NOOP").is_ok());
    server.join().unwrap();
}

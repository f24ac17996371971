//! `250` means durable (issue 9): a client delivers without pause while
//! first its storage process and then the lmtp process are killed with
//! SIGKILL; every message that got `250` is in the mailbox afterwards.
//! (Messages without a `250` may or may not be there: the client sends
//! them again.)

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;

use nix::sys::signal::Signal;

use crate::harness::{DEADLINE, Options, Server, TestDir, signal};
use mailkeep_testkit::Listeners;

const PASS: &str = "durable-secret-5";
const MESSAGES: usize = 60;

/// One LMTP connection that reports a dropped connection instead of
/// panicking.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(DEADLINE))?;
        let mut c = Conn {
            reader: BufReader::new(s),
        };
        c.expect("220")?;
        c.cmd("LHLO durable.test", "250")?;
        Ok(c)
    }

    fn expect(&mut self, code: &str) -> std::io::Result<()> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return if line.starts_with(code) {
                Ok(())
            } else {
                Err(std::io::Error::other(line))
            };
        }
    }

    fn cmd(&mut self, line: &str, code: &str) -> std::io::Result<()> {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())?;
        self.expect(code)
    }

    /// Delivers message `i` to alice; `Ok` only on its `250`.
    fn deliver(&mut self, i: usize) -> std::io::Result<()> {
        self.cmd("MAIL FROM:<s@durable.test>", "250")?;
        self.cmd("RCPT TO:<alice>", "250")?;
        self.cmd("DATA", "354")?;
        let message = format!(
            "Message-ID: <{i}@durable.test>\r\nSubject: {i}\r\n\r\n{}\r\n.\r\n",
            "body line\r\n".repeat(400)
        );
        self.reader.get_mut().write_all(message.as_bytes())?;
        let result = self.expect("250");
        if result.is_err() {
            // A refused message leaves the transaction; start afresh.
            let _ = self.cmd("RSET", "250");
        }
        result
    }
}

#[test]
fn sigkill_of_storage_or_lmtp_loses_no_message_that_got_250() {
    let dir = TestDir::new();
    let mut listeners = Listeners::new();
    for name in ["imap", "lmtp"] {
        listeners
            .bind(name, std::net::Ipv4Addr::LOCALHOST.into())
            .expect("binding");
    }
    let server = Server::start_opts(&dir, Options::default(), listeners);
    server.add_user("alice", PASS);
    let addr = server.listener("lmtp");
    let (acked_tx, acked_rx) = mpsc::channel::<usize>();
    let deliverer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut conn: Option<Conn> = None;
        for i in 0..MESSAGES {
            if conn.is_none() {
                conn = Conn::open(addr).ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            match c.deliver(i) {
                Ok(()) => {
                    acked.push(i);
                    let _ = acked_tx.send(acked.len());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Other => {}
                Err(_) => conn = None,
            }
        }
        acked
    });
    let wait_acks = |n: usize| {
        while acked_rx.recv_timeout(DEADLINE).expect("deliveries go on") < n {}
    };
    wait_acks(15);
    let storage = server.wait_role("storage", None, None);
    signal(storage.pid, Signal::SIGKILL);
    wait_acks(30);
    let lmtp = server.wait_role("lmtp", None, None);
    signal(lmtp.pid, Signal::SIGKILL);
    let acked = deliverer.join().expect("the deliverer");
    assert!(acked.len() >= 30, "deliveries went on: {acked:?}");

    let mut c = server.try_connect().expect("imap");
    assert!(c.login("alice", PASS).expect("login").is_ok());
    assert!(c.run("EXAMINE INBOX").expect("examine").is_ok());
    let reply = c
        .run("FETCH 1:* BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        .expect("fetch");
    let stored: Vec<String> = reply
        .fetches()
        .iter()
        .filter_map(|f| {
            let b = f.bytes("BODY[HEADER.FIELDS (MESSAGE-ID)]")?;
            Some(String::from_utf8_lossy(b).into_owned())
        })
        .collect();
    for i in &acked {
        let id = format!("<{i}@durable.test>");
        assert!(
            stored.iter().any(|s| s.contains(&id)),
            "message {i} got 250 but is not stored; stored: {stored:?}"
        );
    }
}

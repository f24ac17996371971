//! A blocking LMTP client for the delivery benchmark: one connection, one
//! message at a time, each waited for until its per-recipient reply; and
//! the delay from a delivery's `250` to IMAP clients in IDLE seeing it.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::idle::{Delays, Idlers};

/// A delivery of about `size` bytes (at least 5,000 in the benchmark)
/// numbered `i`, to `user@example.org`: CRLF lines, none starting with a
/// dot.
pub fn delivery_message(i: usize, user: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender <sender@example.org>\r\nTo: <{user}@example.org>\r\n\
         Subject: delivery {i}\r\nMessage-ID: <{i}@bench.test>\r\n\r\n"
    );
    while m.len() < size {
        m.push_str("The quick brown fox jumps over the lazy dog, message body line.\r\n");
    }
    m.into_bytes()
}

/// One LMTP connection after LHLO.
pub struct LmtpClient {
    reader: BufReader<TcpStream>,
}

impl LmtpClient {
    /// Connects to `addr` and greets it, every read bounded by `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<LmtpClient, BenchError> {
        let io = |what: &'static str| move |e| BenchError::io(what, e);
        let stream = TcpStream::connect(addr).map_err(io("connecting to LMTP"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(io("setting the LMTP timeout"))?;
        stream.set_nodelay(true).map_err(io("TCP_NODELAY"))?;
        let mut client = LmtpClient {
            reader: BufReader::new(stream),
        };
        client.expect("greeting", "220")?;
        client.command("LHLO bench.test", "250")?;
        Ok(client)
    }

    fn expect(&mut self, what: &str, code: &str) -> Result<(), BenchError> {
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| BenchError::io(format!("reading the reply to {what}"), e))?;
            if n == 0 {
                return Err(BenchError::Refused {
                    what: what.to_owned(),
                    answer: "connection closed".into(),
                });
            }
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            if line.starts_with(code) {
                return Ok(());
            }
            return Err(BenchError::Refused {
                what: what.to_owned(),
                answer: line.trim_end().to_owned(),
            });
        }
    }

    fn command(&mut self, line: &str, code: &str) -> Result<(), BenchError> {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| BenchError::io(format!("sending {line}"), e))?;
        self.expect(line, code)
    }

    /// Delivers `message` (CRLF lines, no line starting with a dot) to
    /// `rcpt`, pipelining MAIL, RCPT and DATA; returns once it got `250`.
    pub fn deliver(&mut self, rcpt: &str, message: &[u8]) -> Result<(), BenchError> {
        let mut out =
            format!("MAIL FROM:<bench@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").into_bytes();
        self.reader
            .get_mut()
            .write_all(&out)
            .map_err(|e| BenchError::io("sending the envelope", e))?;
        self.expect("MAIL", "250")?;
        self.expect("RCPT", "250")?;
        self.expect("DATA", "354")?;
        out.clear();
        out.extend_from_slice(message);
        out.extend_from_slice(b".\r\n");
        self.reader
            .get_mut()
            .write_all(&out)
            .map_err(|e| BenchError::io("sending the message", e))?;
        self.expect("the message", "250")
    }
}

/// Delivers `deliveries` copies of `message` to `rcpt` over LMTP at
/// `lmtp`, one at a time, each once every idler heard of the one before,
/// and records the delays from each `250` to each idler's EXISTS. Needs a
/// multi-threaded runtime (the LMTP client blocks its thread meanwhile).
pub async fn idle_delays(
    lmtp: SocketAddr,
    rcpt: &str,
    idlers: &mut Idlers,
    deliveries: usize,
    message: &[u8],
) -> Result<Delays, BenchError> {
    let mut expected = idlers.exists;
    let mut found = Delays::default();
    let mut client =
        tokio::task::block_in_place(|| LmtpClient::connect(lmtp, Duration::from_secs(60)))?;
    for _ in 0..deliveries {
        tokio::task::block_in_place(|| client.deliver(rcpt, message))?;
        let ok_at = Instant::now();
        expected += 1;
        found.record(idlers, expected, ok_at).await;
    }
    Ok(found)
}

//! A small synchronous POP3 client for tests and benchmarks: status lines
//! as text, multi-line bodies as bytes with the dot-stuffing undone (CRLF
//! kept), so a test compares what RETR gave with what it stored, byte for
//! byte.

use std::io::{self, BufRead, BufReader, Read, Write};

/// A POP3 connection over any byte stream (TCP, TLS).
pub struct Pop3Client<S: Read + Write> {
    stream: BufReader<S>,
}

/// A status line: `+OK ...` or `-ERR ...`, without its CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status(pub String);

impl Status {
    /// Whether it is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.0.starts_with("+OK")
    }

    /// Whether it is `-ERR`.
    pub fn is_err(&self) -> bool {
        self.0.starts_with("-ERR")
    }

    /// The response code of an `-ERR [CODE] ...` line (RFC 2449 §8).
    pub fn code(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("-ERR [")?;
        rest.split_once(']').map(|(code, _)| code)
    }
}

impl<S: Read + Write> Pop3Client<S> {
    /// Reads the greeting from a new connection.
    pub fn new(stream: S) -> io::Result<(Pop3Client<S>, Status)> {
        let mut client = Pop3Client {
            stream: BufReader::new(stream),
        };
        let greeting = client.status()?;
        Ok((client, greeting))
    }

    /// A client on a stream whose greeting was read already (after an
    /// upgrade: STLS).
    pub fn from_stream(stream: S) -> Pop3Client<S> {
        Pop3Client {
            stream: BufReader::new(stream),
        }
    }

    /// The stream under the client (its TLS session, say).
    pub fn stream_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// The stream, for an upgrade (STLS). Bytes already buffered are lost,
    /// so call it only between replies.
    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.stream.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Sends `line` and CRLF.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        self.send_raw(format!("{line}\r\n").as_bytes())
    }

    /// Reads one line as it came, CRLF included; an error at EOF.
    pub fn read_raw_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(line)
    }

    /// Reads one status line.
    pub fn status(&mut self) -> io::Result<Status> {
        let line = self.read_raw_line()?;
        let text = String::from_utf8_lossy(&line);
        Ok(Status(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// Sends a command and reads its status line.
    pub fn command(&mut self, line: &str) -> io::Result<Status> {
        self.send(line)?;
        self.status()
    }

    /// Reads a multi-line body up to the final `.`, dot-stuffing undone.
    pub fn body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_raw_line()?;
            if line == b".\r\n" {
                return Ok(body);
            }
            let unstuffed = if line.starts_with(b".") {
                &line[1..]
            } else {
                &line[..]
            };
            body.extend_from_slice(unstuffed);
        }
    }

    /// Sends a command with a multi-line answer: its status, and the body
    /// when the status is `+OK`.
    pub fn multiline(&mut self, line: &str) -> io::Result<(Status, Vec<u8>)> {
        let status = self.command(line)?;
        if !status.is_ok() {
            return Ok((status, Vec::new()));
        }
        let body = self.body()?;
        Ok((status, body))
    }

    /// `USER` and `PASS`; the status of PASS (or of a refused USER).
    pub fn login(&mut self, user: &str, password: &str) -> io::Result<Status> {
        let status = self.command(&format!("USER {user}"))?;
        if !status.is_ok() {
            return Ok(status);
        }
        self.command(&format!("PASS {password}"))
    }

    /// A multi-line body as text lines.
    pub fn lines(body: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(body)
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

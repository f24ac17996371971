//! `mailkeep deliver`: one message from stdin to one user, spoken as LMTP
//! to the running server's UNIX socket. It holds no key and no privilege;
//! the socket's owner, group and mode decide who may deliver. The exit
//! code follows sysexits(3), as MTAs expect of a delivery agent.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// sysexits(3) codes.
const EX_OK: u8 = 0;
const EX_USAGE: u8 = 64;
const EX_NOUSER: u8 = 67;
const EX_TEMPFAIL: u8 = 75;
const EX_NOPERM: u8 = 77;

/// Delivers stdin to `user` (into `mailbox` when it exists) with the
/// envelope sender `from`; returns the exit code.
pub fn run(config: Option<&Path>, user: &str, mailbox: Option<&str>, from: &str) -> u8 {
    match deliver(config, user, mailbox, from) {
        Ok(()) => EX_OK,
        Err(Failure { code, message }) => {
            eprintln!("mailkeep deliver: {message}");
            code
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn deliver(
    config: Option<&Path>,
    user: &str,
    mailbox: Option<&str>,
    from: &str,
) -> Result<(), Failure> {
    let config = mailkeep_config::Config::load(config)
        .map_err(|e| fail(EX_USAGE, format!("configuration: {e}")))?;
    let socket = config
        .lmtp
        .listener
        .iter()
        .find(|l| l.kind == mailkeep_config::ListenerKind::Unix)
        .map(|l| l.address.clone())
        .ok_or_else(|| fail(EX_USAGE, "no [[lmtp.listener]] of kind unix is configured"))?;
    let recipient = recipient(user, mailbox, &config.lmtp.recipient_delimiter)?;
    let mut message = Vec::new();
    std::io::stdin()
        .lock()
        .take(config.server.max_message_size.saturating_add(1))
        .read_to_end(&mut message)
        .map_err(|e| fail(EX_TEMPFAIL, format!("reading the message: {e}")))?;
    let message = crlf(&message);
    let stream = UnixStream::connect(&socket)
        .map_err(|e| fail(EX_TEMPFAIL, format!("connecting to {socket}: {e}")))?;
    let mut lmtp = Lmtp::new(stream)?;
    lmtp.expect_ok(None)?;
    lmtp.command(b"LHLO localhost\r\n")?;
    let from = from.replace(['<', '>', '\r', '\n'], "");
    lmtp.command(format!("MAIL FROM:<{from}>\r\n").as_bytes())?;
    lmtp.command(format!("RCPT TO:<{recipient}>\r\n").as_bytes())?;
    let mut bdat = format!("BDAT {} LAST\r\n", message.len()).into_bytes();
    bdat.extend_from_slice(&message);
    lmtp.command(&bdat)?;
    let _ = lmtp.send(b"QUIT\r\n");
    Ok(())
}

/// `user`, or `user+mailbox` (before any `@domain`).
fn recipient(user: &str, mailbox: Option<&str>, delimiter: &str) -> Result<String, Failure> {
    if user.is_empty() || user.contains(['<', '>', '\r', '\n', ' ']) {
        return Err(fail(EX_USAGE, format!("{user:?} is not a user name")));
    }
    let Some(mailbox) = mailbox else {
        return Ok(user.to_owned());
    };
    let Some(separator) = delimiter.chars().next() else {
        return Err(fail(
            EX_USAGE,
            "-m needs lmtp.recipient_delimiter to be set",
        ));
    };
    if mailbox.contains(['<', '>', '\r', '\n', ' ', '@']) {
        return Err(fail(
            EX_USAGE,
            format!("{mailbox:?} cannot be named in an address"),
        ));
    }
    Ok(match user.rsplit_once('@') {
        Some((local, domain)) => format!("{local}{separator}{mailbox}@{domain}"),
        None => format!("{user}{separator}{mailbox}"),
    })
}

/// The message with every line ending in CRLF (MTAs hand delivery agents
/// LF-terminated lines).
fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32);
    let mut previous = 0u8;
    for &b in message {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// The LMTP conversation: one command, one reply.
struct Lmtp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Lmtp {
    fn new(stream: UnixStream) -> Result<Lmtp, Failure> {
        let writer = stream
            .try_clone()
            .map_err(|e| fail(EX_TEMPFAIL, e.to_string()))?;
        Ok(Lmtp {
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.writer
            .write_all(bytes)
            .map_err(|e| fail(EX_TEMPFAIL, format!("writing to the server: {e}")))
    }

    fn command(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.send(bytes)?;
        let verb = String::from_utf8_lossy(bytes.split(|&b| b == b' ').next().unwrap_or(b""))
            .trim()
            .to_owned();
        self.expect_ok(Some(&verb))
    }

    /// Reads one (multi-line) reply: `Ok` for 2xx/3xx, else the failure
    /// its code means.
    fn expect_ok(&mut self, after: Option<&str>) -> Result<(), Failure> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| fail(EX_TEMPFAIL, format!("reading from the server: {e}")))?;
            if n == 0 {
                return Err(fail(EX_TEMPFAIL, "the server closed the connection"));
            }
            text.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
            text.push(' ');
        }
        let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let what = after.map(|a| format!("{a}: ")).unwrap_or_default();
        match code {
            200..=399 => Ok(()),
            550 if text.get(4..9) == Some("5.1.1") => Err(fail(EX_NOUSER, format!("{what}{text}"))),
            400..=499 => Err(fail(EX_TEMPFAIL, format!("{what}{text}"))),
            500..=599 => Err(fail(EX_NOPERM, format!("{what}{text}"))),
            _ => Err(fail(
                EX_TEMPFAIL,
                format!("{what}unexpected reply {text:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_and_line_ends() {
        assert_eq!(
            recipient("bob", Some("Lists"), "+").ok(),
            Some("bob+Lists".into())
        );
        assert_eq!(
            recipient("bob@example.org", Some("L"), "+-").ok(),
            Some("bob+L@example.org".into())
        );
        assert_eq!(recipient("bob", None, "").ok(), Some("bob".into()));
        assert_eq!(
            recipient("bob", Some("x"), "").err().map(|f| f.code),
            Some(EX_USAGE)
        );
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }
}

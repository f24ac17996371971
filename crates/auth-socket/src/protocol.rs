//! The grammar of Dovecot's auth-client protocol, version 1.2 (what
//! Postfix's `smtpd_sasl_type = dovecot`, Exim's `dovecot` authenticator
//! and others speak): lines of tab-separated fields ending in LF, values
//! escaped with `\x01` (Dovecot's `str_tabescape`). Pure functions, no I/O.
//!
//! Server, on connect: `VERSION 1 2`, one `MECH name [flags]` per
//! mechanism, `SPID pid`, `CUID n`, `DONE`. Client: `VERSION 1 x`,
//! `CPID pid`, then `AUTH id mech key=value… [resp=base64]`, `CONT id
//! base64`, `CANCEL id`. Server answers each request with `CONT id
//! base64`, `OK id user=name` or `FAIL id [temp] [reason=text]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The protocol version served (major, minor).
pub const VERSION: (u32, u32) = (1, 2);

/// The longest line taken, as Dovecot's `AUTH_CLIENT_MAX_LINE_LENGTH`
/// (a SASL response in base64 fits many times over).
pub const MAX_LINE: usize = 16 * 1024;

/// What a client line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// `VERSION major minor`: the client's protocol version.
    Version {
        /// Must be 1.
        major: u32,
        /// Any.
        minor: u32,
    },
    /// `CPID pid`: the client's process id (logged only).
    Cpid(u32),
    /// `AUTH …`: a new authentication request.
    Auth(AuthRequest),
    /// `CONT id base64`: the client's next response in request `id`.
    Cont {
        /// The request.
        id: u32,
        /// The response, decoded.
        data: Vec<u8>,
    },
    /// `CANCEL id`: the client gives up request `id`.
    Cancel(u32),
}

/// An `AUTH` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The request id the answers name.
    pub id: u32,
    /// The mechanism, upper-cased.
    pub mechanism: String,
    /// `service=`: the client's protocol (`smtp`).
    pub service: String,
    /// `rip=`: the address of the client the MTA serves, which auth's
    /// penalties count against.
    pub remote_ip: Option<String>,
    /// `secured`: the MTA's client is on TLS (or otherwise trusted).
    pub secured: bool,
    /// `resp=`: the initial response, decoded; `Some(empty)` for `resp=`
    /// with nothing after it, `None` for no initial response.
    pub initial: Option<Vec<u8>>,
}

/// Why a line was refused. Dovecot's protocol has no error reply outside a
/// request: a line that names a request gets `FAIL` for it, any other
/// error ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The command is not one of the protocol's.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A field is missing or not what its place needs.
    #[error("malformed {0} line")]
    Malformed(&'static str),
    /// Request `id` carries data that is not base64.
    #[error("request {0}: response is not base64")]
    BadBase64(u32),
    /// The line is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
}

impl ParseError {
    /// The request the error belongs to, when the line named one (it is
    /// then answered with `FAIL` and the connection goes on).
    pub fn request(&self) -> Option<u32> {
        match self {
            ParseError::BadBase64(id) => Some(*id),
            _ => None,
        }
    }
}

/// Parses one line (with or without its LF, a CR before it tolerated).
pub fn parse(line: &[u8]) -> Result<ClientLine, ParseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
    let mut fields = line.split('\t');
    let command = fields.next().unwrap_or_default();
    match command {
        "VERSION" => {
            let major = number(fields.next(), "VERSION")?;
            let minor = number(fields.next(), "VERSION")?;
            Ok(ClientLine::Version { major, minor })
        }
        "CPID" => Ok(ClientLine::Cpid(number(fields.next(), "CPID")?)),
        "CANCEL" => Ok(ClientLine::Cancel(number(fields.next(), "CANCEL")?)),
        "CONT" => {
            let id = number(fields.next(), "CONT")?;
            let data = fields.next().ok_or(ParseError::Malformed("CONT"))?;
            let data = decode(&unescape(data)).ok_or(ParseError::BadBase64(id))?;
            Ok(ClientLine::Cont { id, data })
        }
        "AUTH" => auth(fields).map(ClientLine::Auth),
        other => Err(ParseError::UnknownCommand(other.chars().take(32).collect())),
    }
}

fn auth<'a>(mut fields: impl Iterator<Item = &'a str>) -> Result<AuthRequest, ParseError> {
    let id = number(fields.next(), "AUTH")?;
    let mechanism = fields
        .next()
        .filter(|m| !m.is_empty())
        .ok_or(ParseError::Malformed("AUTH"))?
        .to_ascii_uppercase();
    let mut request = AuthRequest {
        id,
        mechanism,
        service: String::new(),
        remote_ip: None,
        secured: false,
        initial: None,
    };
    for field in fields {
        match field.split_once('=') {
            Some(("service", v)) => request.service = unescape(v),
            Some(("rip", v)) => request.remote_ip = Some(unescape(v)),
            Some(("resp", v)) => {
                request.initial = Some(decode(&unescape(v)).ok_or(ParseError::BadBase64(id))?);
            }
            Some(_) => {} // lip, lport, rport, session, … : not needed here.
            None if field == "secured" => request.secured = true,
            None => {} // nologin, valid-client-cert, … : flags not needed here.
        }
    }
    Ok(request)
}

fn number(field: Option<&str>, line: &'static str) -> Result<u32, ParseError> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or(ParseError::Malformed(line))
}

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.as_bytes()).ok()
}

/// Undoes Dovecot's `str_tabescape`: `\x01` followed by `1`, `t`, `r`,
/// `n` or `0` stands for `\x01`, tab, CR, LF or NUL.
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Dovecot's `str_tabescape`: a value safe inside one field.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\x01' => out.push_str("\x011"),
            '\t' => out.push_str("\x01t"),
            '\r' => out.push_str("\x01r"),
            '\n' => out.push_str("\x01n"),
            '\0' => out.push_str("\x010"),
            c => out.push(c),
        }
    }
    out
}

/// The server's handshake: version, `mechanisms` (all sending the password
/// itself, so flagged `plaintext`), this process's id, the connection's
/// id, DONE.
pub fn handshake(mechanisms: &[&str], pid: u32, cuid: u64) -> String {
    let mut out = format!("VERSION\t{}\t{}\n", VERSION.0, VERSION.1);
    for mechanism in mechanisms {
        out.push_str(&format!("MECH\t{mechanism}\tplaintext\n"));
    }
    out.push_str(&format!("SPID\t{pid}\nCUID\t{cuid}\nDONE\n"));
    out
}

/// A server reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send this challenge; the client answers with `CONT`.
    Cont {
        /// The request.
        id: u32,
        /// The challenge, raw (encoded here).
        challenge: Vec<u8>,
    },
    /// Authenticated as `user`.
    Ok {
        /// The request.
        id: u32,
        /// The canonical user name.
        user: String,
    },
    /// Not authenticated.
    Fail {
        /// The request.
        id: u32,
        /// A temporary failure: the MTA says "try again" (4xx).
        temporary: bool,
        /// Shown to the MTA's client.
        reason: String,
    },
}

impl Reply {
    /// The reply as a line, LF included.
    pub fn encode(&self) -> String {
        match self {
            Reply::Cont { id, challenge } => {
                format!("CONT\t{id}\t{}\n", STANDARD.encode(challenge))
            }
            Reply::Ok { id, user } => format!("OK\t{id}\tuser={}\n", escape(user)),
            Reply::Fail {
                id,
                temporary,
                reason,
            } => {
                let temp = if *temporary { "\ttemp" } else { "" };
                format!("FAIL\t{id}{temp}\treason={}\n", escape(reason))
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/protocol.rs"]
mod tests;

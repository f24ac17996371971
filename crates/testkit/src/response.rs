//! Server responses (RFC 9051 §7): continuation requests, status
//! responses (tagged or untagged, with a response code and its
//! arguments) and untagged data responses, each parsed from the bytes of
//! one response.

use std::fmt;

use crate::value::{Cursor, ParseError, Value, preview};
use crate::views::{Esearch, Fetch};

/// The status of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK: success, or information.
    Ok,
    /// NO: the command failed.
    No,
    /// BAD: the command (or the client) was not understood.
    Bad,
    /// PREAUTH: a greeting saying the connection is logged in already.
    Preauth,
    /// BYE: the server is closing the connection.
    Bye,
}

impl Status {
    fn from_word(word: &str) -> Option<Status> {
        Some(match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            "PREAUTH" => Status::Preauth,
            "BYE" => Status::Bye,
            _ => return None,
        })
    }

    /// The word as IMAP writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Preauth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response code: `[NAME args]` at the start of a status response's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code's name, upper-cased (`APPENDUID`, `TOOBIG`, `CAPABILITY`).
    pub name: String,
    /// Its arguments as values (`[APPENDUID 7 5]` → 7, 5); empty when
    /// they are free text that does not parse as values.
    pub args: Vec<Value>,
    /// Its arguments as sent (everything after the name, before `]`).
    pub raw_args: String,
}

impl Code {
    /// Whether the code is `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Argument `i` as a number (`[UIDVALIDITY 3857529045]` → arg 0).
    pub fn number(&self, i: usize) -> Option<u64> {
        self.args.get(i).and_then(Value::as_number)
    }

    /// The arguments' atoms and numbers as text, flattened out of lists
    /// (`[PERMANENTFLAGS (\Seen \*)]` → `\Seen`, `\*`; `[CAPABILITY ...]`
    /// → the capabilities).
    pub fn words(&self) -> Vec<String> {
        fn collect(values: &[Value], out: &mut Vec<String>) {
            for v in values {
                match v {
                    Value::List(items) => collect(items, out),
                    other => out.extend(other.text()),
                }
            }
        }
        let mut out = Vec::new();
        collect(&self.args, &mut out);
        out
    }
}

/// A status response: `tag OK [CODE] text`, `* NO text`, `* BYE ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The tag; `None` for an untagged status response.
    pub tag: Option<String>,
    /// OK, NO, BAD, PREAUTH or BYE.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<Code>,
    /// The human-readable text after the code.
    pub text: String,
}

/// An untagged data response: `* 3 EXISTS`, `* 1 FETCH (...)`,
/// `* LIST (...) "/" INBOX`, `* ESEARCH ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The number before the name (`* 3 EXISTS` → 3), if any.
    pub number: Option<u32>,
    /// The response's name, upper-cased (`EXISTS`, `FETCH`, `LIST`).
    pub name: String,
    /// What follows the name.
    pub values: Vec<Value>,
}

impl Data {
    /// Whether this response is named `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// This FETCH response's items.
    pub fn fetch(&self) -> Option<Fetch<'_>> {
        Fetch::from_data(self)
    }

    /// This ESEARCH response's parts.
    pub fn esearch(&self) -> Option<Esearch> {
        Esearch::from_data(self)
    }

    /// Every value that is a number (`* SEARCH 2 84 882` → 2, 84, 882).
    pub fn numbers(&self) -> Vec<u32> {
        self.values.iter().filter_map(Value::as_u32).collect()
    }

    /// Every value's text (atoms, numbers, strings): a CAPABILITY or
    /// ENABLED response's words.
    pub fn words(&self) -> Vec<String> {
        self.values.iter().filter_map(Value::text).collect()
    }
}

/// What a response is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `+ text`: the server waits for more of the command (a literal, a
    /// SASL response, or IDLE's DONE).
    Continuation(String),
    /// A tagged or untagged status response.
    Status(StatusResponse),
    /// An untagged data response.
    Data(Data),
}

/// One server response: its bytes as received and what they say.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    raw: Vec<u8>,
    kind: Kind,
}

impl Response {
    /// Parses one whole response: its lines and literals, CRLF-terminated.
    pub fn parse(raw: Vec<u8>) -> Result<Response, ParseError> {
        let kind = parse_kind(&raw)?;
        Ok(Response { raw, kind })
    }

    /// The bytes as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The bytes as text (lossy), without the final CRLF.
    pub fn text(&self) -> String {
        let raw = self.raw.strip_suffix(b"\r\n").unwrap_or(&self.raw);
        String::from_utf8_lossy(raw).into_owned()
    }

    /// What the response is.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The continuation request's text.
    pub fn continuation(&self) -> Option<&str> {
        match &self.kind {
            Kind::Continuation(text) => Some(text),
            _ => None,
        }
    }

    /// The status response, tagged or not.
    pub fn status(&self) -> Option<&StatusResponse> {
        match &self.kind {
            Kind::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The untagged data response.
    pub fn data(&self) -> Option<&Data> {
        match &self.kind {
            Kind::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The tag, for a tagged status response.
    pub fn tag(&self) -> Option<&str> {
        self.status().and_then(|s| s.tag.as_deref())
    }

    /// Whether this is the tagged response to `tag`.
    pub fn is_tagged(&self, tag: &str) -> bool {
        self.tag() == Some(tag)
    }

    /// Whether this is an untagged `* BYE`.
    pub fn is_bye(&self) -> bool {
        self.status()
            .is_some_and(|s| s.tag.is_none() && s.status == Status::Bye)
    }

    /// Whether this is an untagged data response named `name`.
    pub fn is_data(&self, name: &str) -> bool {
        self.data().is_some_and(|d| d.is(name))
    }
}

/// The response's text, with literals abbreviated.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Data(d) => {
                f.write_str("* ")?;
                if let Some(n) = d.number {
                    write!(f, "{n} ")?;
                }
                f.write_str(&d.name)?;
                for v in &d.values {
                    write!(f, " {v}")?;
                }
                Ok(())
            }
            _ => write!(f, "{}", preview_long(&self.raw)),
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn preview_long(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    if raw.len() <= 400 {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        format!("{} ({} bytes)", preview(&raw[..60]), raw.len())
    }
}

fn parse_kind(raw: &[u8]) -> Result<Kind, ParseError> {
    let mut c = Cursor::new(raw);
    if c.eat(b'+') {
        // `+ text`; servers also send a bare `+` (RFC 9051 allows no text
        // only with a space, but a client accepts both).
        let text = if c.eat(b' ') || c.at_line_end() {
            c.rest_of_line()?
        } else {
            return Err(c.error("a continuation request without a space after +"));
        };
        c.finish()?;
        return Ok(Kind::Continuation(text));
    }
    let tag = c.word()?;
    c.space()?;
    if tag != "*" {
        let word = c.word()?;
        let status = match Status::from_word(&word) {
            Some(s @ (Status::Ok | Status::No | Status::Bad)) => s,
            _ => return Err(c.error(format!("a tagged response with status {word:?}"))),
        };
        return status_response(&mut c, Some(tag), status).map(Kind::Status);
    }
    let number = if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = c.word()?;
        let n = n
            .parse::<u32>()
            .map_err(|_| c.error(format!("a message number {n:?} that is not a number")))?;
        c.space()?;
        Some(n)
    } else {
        None
    };
    let word = c.word()?;
    if number.is_none()
        && let Some(status) = Status::from_word(&word)
    {
        return status_response(&mut c, None, status).map(Kind::Status);
    }
    let values = if c.at_line_end() {
        Vec::new()
    } else {
        c.space()?;
        c.values(false)?
    };
    c.finish()?;
    Ok(Kind::Data(Data {
        number,
        name: word.to_ascii_uppercase(),
        values,
    }))
}

/// The rest of a status response after its status word: `[code] text`.
fn status_response(
    c: &mut Cursor<'_>,
    tag: Option<String>,
    status: Status,
) -> Result<StatusResponse, ParseError> {
    if c.at_line_end() {
        c.finish()?;
        return Ok(StatusResponse {
            tag,
            status,
            code: None,
            text: String::new(),
        });
    }
    c.space()?;
    let code = if c.eat(b'[') { Some(code(c)?) } else { None };
    if code.is_some() && !c.at_line_end() {
        c.space()?;
    }
    let text = c.rest_of_line()?;
    c.finish()?;
    Ok(StatusResponse {
        tag,
        status,
        code,
        text,
    })
}

/// A response code after its `[`, through its `]`.
fn code(c: &mut Cursor<'_>) -> Result<Code, ParseError> {
    let name = c.word()?.to_ascii_uppercase();
    if c.eat(b']') {
        return Ok(Code {
            name,
            args: Vec::new(),
            raw_args: String::new(),
        });
    }
    c.space()?;
    // The arguments as values if they are; else as free text up to `]`
    // (RFC 9051: `atom [SP 1*<any TEXT-CHAR except "]">]`).
    let start = c.offset();
    let mut probe = c.fork();
    let args = match probe.values(true) {
        Ok(args) if probe.peek() == Some(b']') => {
            *c = probe;
            args
        }
        _ => {
            while c
                .peek()
                .is_some_and(|b| b != b']' && b != b'\r' && b != b'\n')
            {
                c.skip(1);
            }
            Vec::new()
        }
    };
    let raw_args = String::from_utf8_lossy(c.since(start)).into_owned();
    if !c.eat(b']') {
        return Err(c.error("a response code without ]"));
    }
    Ok(Code {
        name,
        args,
        raw_args,
    })
}

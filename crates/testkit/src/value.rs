//! The token tree of IMAP data (RFC 9051 §4): atoms, numbers, quoted
//! strings, literals (`{n}`) and literal8 (`~{n}`, RFC 3516), NIL and
//! nested parenthesized lists, and the reader that builds it from a
//! server response's bytes.

use std::fmt;

/// One item of IMAP data as the server sent it.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// An atom, including flags (`\Seen`), sequence sets (`1:3,7`) and
    /// FETCH item names with their section (`BODY[HEADER.FIELDS (TO)]<0>`).
    Atom(String),
    /// An atom made only of digits.
    Number(u64),
    /// A quoted string, unescaped.
    Quoted(Vec<u8>),
    /// A synchronizing literal `{n}`'s bytes.
    Literal(Vec<u8>),
    /// A literal8 `~{n}`'s bytes (BINARY).
    Literal8(Vec<u8>),
    /// NIL.
    Nil,
    /// A parenthesized list.
    List(Vec<Value>),
}

impl Value {
    /// The atom's text.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Value::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// The number.
    pub fn as_number(&self) -> Option<u64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number, if it fits 32 bits (UIDs, sequence numbers, counts).
    pub fn as_u32(&self) -> Option<u32> {
        self.as_number().and_then(|n| u32::try_from(n).ok())
    }

    /// The bytes of a string: quoted, literal or literal8 (not NIL).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Quoted(b) | Value::Literal(b) | Value::Literal8(b) => Some(b),
            _ => None,
        }
    }

    /// A string's bytes as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The text of anything that is written as one word or string: an
    /// atom, a number or a string (an astring or nstring in RFC terms);
    /// `None` for NIL, lists and non-UTF-8 strings.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Atom(a) => Some(a.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => other.as_str().map(str::to_owned),
        }
    }

    /// The list's items.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is NIL.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Whether this is an atom equal to `word`, ignoring ASCII case.
    pub fn is_atom(&self, word: &str) -> bool {
        self.as_atom().is_some_and(|a| a.eq_ignore_ascii_case(word))
    }

    /// The sum of the sizes of every literal in this value, nested ones
    /// included (what a benchmark counts as bytes received as content).
    pub fn literal_bytes(&self) -> u64 {
        match self {
            Value::Literal(b) | Value::Literal8(b) => b.len() as u64,
            Value::List(items) => items.iter().map(Value::literal_bytes).sum(),
            _ => 0,
        }
    }
}

/// Shown as IMAP, with literals and long strings abbreviated, for
/// assertion messages.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Written as IMAP; a literal shows its size and at most its first 60
/// bytes, so that a failing assertion on a large FETCH stays readable.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Atom(a) => f.write_str(a),
            Value::Number(n) => write!(f, "{n}"),
            Value::Quoted(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Value::Literal(b) => write!(f, "{{{}}}{:?}", b.len(), preview(b)),
            Value::Literal8(b) => write!(f, "~{{{}}}{:?}", b.len(), preview(b)),
            Value::Nil => f.write_str("NIL"),
            Value::List(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The first bytes of `b`, marked when cut.
pub(crate) fn preview(b: &[u8]) -> String {
    const SHOWN: usize = 60;
    let mut s = String::from_utf8_lossy(&b[..b.len().min(SHOWN)]).into_owned();
    if b.len() > SHOWN {
        s.push('…');
    }
    s
}

/// Why a response could not be read as IMAP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {at} of {:?}", preview(.raw))]
pub struct ParseError {
    /// What was wrong.
    pub reason: String,
    /// Where, as an offset into `raw`.
    pub at: usize,
    /// The whole response.
    pub raw: Vec<u8>,
}

/// A reader over one response's bytes (its lines and literals, ending in
/// CRLF).
pub(crate) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Cursor<'a> {
        Cursor { input, pos: 0 }
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> ParseError {
        ParseError {
            reason: reason.into(),
            at: self.pos,
            raw: self.input.to_vec(),
        }
    }

    /// A second cursor at the same place, for trying a parse.
    pub(crate) fn fork(&self) -> Cursor<'a> {
        Cursor {
            input: self.input,
            pos: self.pos,
        }
    }

    /// How far the cursor is into the response.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// Moves on by `n` bytes (at most to the end).
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.input.len());
    }

    /// The bytes from offset `start` to the cursor.
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        &self.input[start.min(self.pos)..self.pos]
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Whether only the final CRLF is left.
    pub(crate) fn at_line_end(&self) -> bool {
        self.input[self.pos..].starts_with(b"\r\n")
    }

    /// Consumes the final CRLF, which must be all that is left.
    pub(crate) fn finish(&mut self) -> Result<(), ParseError> {
        if &self.input[self.pos..] == b"\r\n" {
            self.pos += 2;
            Ok(())
        } else if self.pos == self.input.len() {
            Err(self.error("the response does not end in CRLF"))
        } else {
            Err(self.error("unexpected bytes before the end of the response"))
        }
    }

    /// Consumes `byte` if it comes next.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes one SP, which must come next.
    pub(crate) fn space(&mut self) -> Result<(), ParseError> {
        if self.eat(b' ') {
            Ok(())
        } else {
            Err(self.error("expected a space"))
        }
    }

    /// The bytes up to (not including) the final CRLF, consumed.
    pub(crate) fn rest_of_line(&mut self) -> Result<String, ParseError> {
        let end = self.input.len().saturating_sub(2);
        if end < self.pos || !self.input.ends_with(b"\r\n") {
            return Err(self.error("the response does not end in CRLF"));
        }
        let text = &self.input[self.pos..end];
        if text.contains(&b'\n') || text.contains(&b'\r') {
            return Err(self.error("a bare CR or LF inside response text"));
        }
        self.pos = end;
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// A word up to the next space, `[`, `]` or CRLF (a tag, a status, a
    /// response code's name, an untagged response's name).
    pub(crate) fn word(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b == 0x7f || b == b'[' || b == b']' || b == b'(' || b == b')' {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a word"));
        }
        std::str::from_utf8(&self.input[start..self.pos])
            .map(str::to_owned)
            .map_err(|_| self.error("a word that is not UTF-8"))
    }

    /// Values separated by spaces until the final CRLF or, with
    /// `until_bracket`, a `]` (left unconsumed).
    pub(crate) fn values(&mut self, until_bracket: bool) -> Result<Vec<Value>, ParseError> {
        let mut out = Vec::new();
        let ends = |c: &Cursor<'_>| c.at_line_end() || (until_bracket && c.peek() == Some(b']'));
        if ends(self) {
            return Ok(out);
        }
        loop {
            out.push(self.value()?);
            if ends(self) {
                return Ok(out);
            }
            // THREAD writes lists side by side: `(1 2)(3 4)`.
            let after_list = matches!(out.last(), Some(Value::List(_)));
            if !(after_list && self.peek() == Some(b'(')) {
                self.space()?;
            }
        }
    }

    /// One value.
    pub(crate) fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.error("expected a value, found the end")),
            Some(b'(') => self.list(),
            Some(b'"') => self.quoted().map(Value::Quoted),
            Some(b'{') => self.literal().map(Value::Literal),
            Some(b'~') if self.input.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal().map(Value::Literal8)
            }
            Some(_) => self.atom(),
        }
    }

    fn list(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        if self.eat(b')') {
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            if self.eat(b')') {
                return Ok(Value::List(items));
            }
            let after_list = matches!(items.last(), Some(Value::List(_)));
            if !(after_list && self.peek() == Some(b'(')) {
                self.space()?;
            }
        }
    }

    fn quoted(&mut self) -> Result<Vec<u8>, ParseError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return Err(self.error("a quoted string that does not end"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'\\' | b'"')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.error("a backslash before neither \\ nor \"")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{n}` CRLF and n bytes; the cursor is at the `{`.
    fn literal(&mut self) -> Result<Vec<u8>, ParseError> {
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let size: usize = std::str::from_utf8(&self.input[start..self.pos])
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.error("a literal without a valid size"))?;
        if !self.eat(b'}') {
            return Err(self.error("a literal size not closed by }"));
        }
        if !self.input[self.pos..].starts_with(b"\r\n") {
            return Err(self.error("a literal size not followed by CRLF"));
        }
        self.pos += 2;
        let end = self.pos + size;
        if end > self.input.len() {
            return Err(self.error(format!("a literal of {size} bytes cut short")));
        }
        let bytes = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(bytes)
    }

    /// An atom, a number or NIL. A `[` inside an atom opens a section that
    /// runs to its matching `]` and may hold spaces and lists
    /// (`BODY[HEADER.FIELDS (FROM TO)]`); an unmatched `]` ends the atom
    /// (it closes a response code).
    fn atom(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'\r' | b'\n' => break,
                b'[' => depth += 1,
                b']' if depth == 0 => break,
                b']' => depth -= 1,
                b' ' | b'(' | b')' | b'"' if depth == 0 => break,
                b if b < b' ' || b == 0x7f => {
                    return Err(self.error("a control character in an atom"));
                }
                _ => {}
            }
            self.pos += 1;
        }
        if depth > 0 {
            return Err(self.error("a [ without its ]"));
        }
        if self.pos == start {
            return Err(self.error("expected a value"));
        }
        let text = std::str::from_utf8(&self.input[start..self.pos])
            .map_err(|_| self.error("an atom that is not UTF-8"))?;
        if text.eq_ignore_ascii_case("NIL") {
            return Ok(Value::Nil);
        }
        if text.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = text.parse()
        {
            return Ok(Value::Number(n));
        }
        Ok(Value::Atom(text.to_owned()))
    }
}

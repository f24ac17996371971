//! A cursor over command bytes with IMAP's lexical tokens: atoms, quoted
//! strings, literals, numbers (RFC 9051 §9).

use crate::code::Code;

/// Why a parse stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The input ended before the token did (only while the command is
    /// still arriving, e.g. an APPEND parsed up to a literal).
    Incomplete,
    /// The input is wrong; the text says what was expected.
    Bad(String),
    /// The input is well-formed but asks for what this syntax layer must
    /// refuse with NO and a code (e.g. `BADCHARSET`).
    No(Code, String),
}

/// The result of a grammar rule.
pub(crate) type PResult<T> = Result<T, Fail>;

/// Shorthand for a syntax failure.
pub(crate) fn bad<T>(msg: impl Into<String>) -> PResult<T> {
    Err(Fail::Bad(msg.into()))
}

/// ATOM-CHAR: any CHAR except atom-specials.
pub(crate) fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR: ATOM-CHAR or `]`.
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// A tag character: ASTRING-CHAR except `+`.
pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// A position in a command's bytes.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// UTF8=ACCEPT (or IMAP4rev2) is on: mailbox names are UTF-8, not
    /// modified UTF-7.
    pub(crate) utf8: bool,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, for a connection without UTF-8.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor {
            buf,
            pos: 0,
            utf8: false,
        }
    }

    /// A cursor at the start of `buf` with the connection's UTF-8 switch.
    pub(crate) fn with_utf8(buf: &'a [u8], utf8: bool) -> Self {
        Cursor { buf, pos: 0, utf8 }
    }

    /// A copy of this cursor moved back to `pos`.
    pub(crate) fn rewound(&self, pos: usize) -> Cursor<'a> {
        Cursor {
            buf: self.buf,
            pos,
            utf8: self.utf8,
        }
    }

    /// Whether the bytes at the cursor are `word` (any case) followed by
    /// something that ends a token (SP, `(`, `)`, CR, LF or the end).
    pub(crate) fn at_word(&self, word: &str) -> bool {
        let end = self.pos + word.len();
        self.buf
            .get(self.pos..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            && matches!(
                self.buf.get(end),
                None | Some(b' ' | b'(' | b')' | b'\r' | b'\n')
            )
    }

    /// Consumes `word` (any case) if [`Cursor::at_word`] sees it.
    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        if self.at_word(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next byte, if any.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The byte after the next one, if any.
    pub(crate) fn peek2(&self) -> Option<u8> {
        self.buf.get(self.pos + 1).copied()
    }

    /// Whether the input is at the end of the line (CRLF or bare LF).
    pub(crate) fn at_eol(&self) -> bool {
        matches!(self.peek(), Some(b'\r' | b'\n') | None)
    }

    /// Consumes the next byte if it is `b`.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Requires the byte `b`, naming it `what` in the error.
    pub(crate) fn expect(&mut self, b: u8, what: &str) -> PResult<()> {
        match self.peek() {
            None => Err(Fail::Incomplete),
            Some(x) if x == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => bad(format!("Expected {what}")),
        }
    }

    /// Requires the single SP that precedes an argument named `what`.
    pub(crate) fn sp(&mut self, what: &str) -> PResult<()> {
        match self.peek() {
            None => Err(Fail::Incomplete),
            Some(b' ') => {
                self.pos += 1;
                if self.peek() == Some(b' ') {
                    return bad(format!("Expected one space before {what}"));
                }
                Ok(())
            }
            Some(b'\r' | b'\n') => bad(format!("Missing {what}")),
            Some(_) => bad(format!("Expected space before {what}")),
        }
    }

    /// Requires the end of the command: CRLF (or LF) and nothing after it.
    pub(crate) fn eol(&mut self) -> PResult<()> {
        match self.peek() {
            None => return Err(Fail::Incomplete),
            Some(b'\r') => {
                self.pos += 1;
                self.expect(b'\n', "LF after CR")?;
            }
            Some(b'\n') => self.pos += 1,
            Some(_) => return bad("Unexpected extra arguments"),
        }
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            bad("Unexpected data after end of line")
        }
    }

    /// Consumes bytes while `pred` holds.
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !pred(b) {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// A non-empty run of bytes satisfying `pred`; `what` names it.
    fn take_some(&mut self, pred: impl Fn(u8) -> bool, what: &str) -> PResult<&'a [u8]> {
        let got = self.take_while(pred);
        if !got.is_empty() {
            return Ok(got);
        }
        match self.peek() {
            None => Err(Fail::Incomplete),
            Some(b'\r' | b'\n') => bad(format!("Missing {what}")),
            Some(_) => bad(format!("Expected {what}")),
        }
    }

    /// The tag at the start of a command.
    pub(crate) fn tag(&mut self) -> PResult<String> {
        let raw = self.take_some(is_tag_char, "tag")?;
        Ok(String::from_utf8_lossy(raw).into_owned())
    }

    /// An atom, named `what` in errors.
    pub(crate) fn atom(&mut self, what: &str) -> PResult<&'a [u8]> {
        self.take_some(is_atom_char, what)
    }

    /// An unsigned decimal number (`number64`).
    pub(crate) fn number(&mut self, what: &str) -> PResult<u64> {
        let digits = self.take_some(|b| b.is_ascii_digit(), what)?;
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| Fail::Bad(format!("Number too large for {what}")))?;
        }
        Ok(n)
    }

    /// A number that must be greater than zero and fit in 32 bits.
    pub(crate) fn nz_number(&mut self, what: &str) -> PResult<u32> {
        let n = self.number(what)?;
        if n == 0 {
            return bad(format!("Invalid {what}: zero is not allowed"));
        }
        u32::try_from(n).map_err(|_| Fail::Bad(format!("Number too large for {what}")))
    }

    /// A mod-sequence value (RFC 7162): at most 2^63-1, and not zero
    /// unless `allow_zero` (`mod-sequence-valzer`).
    pub(crate) fn mod_sequence(&mut self, what: &str, allow_zero: bool) -> PResult<u64> {
        let n = self.number(what)?;
        if n > i64::MAX as u64 || (n == 0 && !allow_zero) {
            return bad(format!("Invalid {what}"));
        }
        Ok(n)
    }

    /// `"(" item *(SP item) ")"`, or `"()"` when `allow_empty`; `what`
    /// names one item in errors.
    pub(crate) fn paren_list<T>(
        &mut self,
        what: &str,
        allow_empty: bool,
        item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        self.expect(b'(', &format!("'(' to start the list of {what}s"))?;
        if allow_empty && self.eat(b')') {
            return Ok(Vec::new());
        }
        self.paren_list_rest(what, item)
    }

    /// The rest of a non-empty [`Cursor::paren_list`] whose `(` is read.
    pub(crate) fn paren_list_rest<T>(
        &mut self,
        what: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let mut items = Vec::new();
        loop {
            items.push(item(self)?);
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(b' ') => self.sp(what)?,
                None => return Err(Fail::Incomplete),
                Some(_) => return bad(format!("Expected ')' or another {what}")),
            }
        }
    }

    /// A quoted string (the opening DQUOTE is next).
    fn quoted(&mut self, what: &str) -> PResult<Vec<u8>> {
        self.expect(b'"', "quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(Fail::Incomplete),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(Fail::Incomplete),
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        Some(_) => return bad(format!("Invalid escape in quoted {what}")),
                    }
                }
                Some(b'\r' | b'\n') => return bad(format!("Unterminated quoted {what}")),
                Some(0) => return bad(format!("NUL in quoted {what}")),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// The header of a literal: `{N}`, `{N+}` or (when `allow_binary`)
    /// `~{N}`, then CRLF. Returns (size, non-synchronizing, binary).
    pub(crate) fn literal_header(
        &mut self,
        allow_binary: bool,
        what: &str,
    ) -> PResult<(u64, bool, bool)> {
        let binary = self.eat(b'~');
        if binary && !allow_binary {
            return bad(format!("Binary literal not allowed for {what}"));
        }
        self.expect(b'{', "literal")?;
        let size = self.number("literal size")?;
        let non_sync = self.eat(b'+');
        self.expect(b'}', "'}' after literal size")?;
        match self.peek() {
            None => return Err(Fail::Incomplete),
            Some(b'\r') => {
                self.pos += 1;
                self.expect(b'\n', "CRLF after literal size")?;
            }
            Some(b'\n') => self.pos += 1,
            Some(_) => return bad("Expected CRLF after literal size"),
        }
        Ok((size, non_sync, binary))
    }

    /// A literal (header and contents). Contents may not contain NUL
    /// unless it is a binary literal `~{N}` and `allow_binary` is set.
    fn literal(&mut self, allow_binary: bool, what: &str) -> PResult<&'a [u8]> {
        let (size, _, binary) = self.literal_header(allow_binary, what)?;
        let size = usize::try_from(size).map_err(|_| Fail::Bad("Literal too large".into()))?;
        let end = self.pos.checked_add(size).ok_or(Fail::Incomplete)?;
        let data = self.buf.get(self.pos..end).ok_or(Fail::Incomplete)?;
        if !binary && data.contains(&0) {
            return bad(format!("NUL in literal {what}"));
        }
        self.pos = end;
        Ok(data)
    }

    /// A `string` or a `literal8` (RFC 3516), e.g. a METADATA value.
    pub(crate) fn string_or_literal8(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'~') => Ok(self.literal(true, what)?.to_vec()),
            _ => self.string(what),
        }
    }

    /// A `string`: quoted or literal.
    pub(crate) fn string(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            None => Err(Fail::Incomplete),
            Some(b'"') => self.quoted(what),
            Some(b'{' | b'~') => Ok(self.literal(false, what)?.to_vec()),
            Some(b'\r' | b'\n') => bad(format!("Missing {what}")),
            Some(_) => bad(format!("Expected {what} as a string")),
        }
    }

    /// An `astring`: atom (with `]`), quoted or literal.
    pub(crate) fn astring(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') | None => self.string(what),
            Some(b'~') if self.peek2() == Some(b'{') => self.string(what),
            Some(_) => Ok(self.take_some(is_astring_char, what)?.to_vec()),
        }
    }

    /// An astring that must be UTF-8.
    pub(crate) fn astring_utf8(&mut self, what: &str) -> PResult<String> {
        String::from_utf8(self.astring(what)?)
            .map_err(|_| Fail::Bad(format!("Invalid UTF-8 in {what}")))
    }
}

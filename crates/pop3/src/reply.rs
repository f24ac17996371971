//! POP3 responses: status lines with their RFC 2449/3206 response codes,
//! and multi-line bodies with dot-stuffing (RFC 1939 §3), fed in chunks
//! as a message streams from storage.

/// A response code (RFC 2449 §8, RFC 3206): what a client may act on
/// without reading the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespCode {
    /// The maildrop is locked by another session.
    InUse,
    /// A temporary failure of the server: try again later.
    SysTemp,
    /// A permanent failure of the server.
    SysPerm,
    /// The credentials are wrong (or may not be used here).
    Auth,
}

impl RespCode {
    fn as_str(self) -> &'static str {
        match self {
            RespCode::InUse => "IN-USE",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
        }
    }
}

/// A status line: `+OK text` or `-ERR [CODE] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `+OK` or `-ERR`.
    pub ok: bool,
    /// The response code, with `-ERR` only.
    pub code: Option<RespCode>,
    /// Human-readable text.
    pub text: String,
}

impl Reply {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            code: None,
            text: text.into(),
        }
    }

    /// The same reply with a response code.
    pub fn code(mut self, code: RespCode) -> Reply {
        self.code = Some(code);
        self
    }

    /// The line, CRLF included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 20);
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            // Never let a text end the line early.
            out.extend(self.text.bytes().filter(|&b| b != b'\r' && b != b'\n'));
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Dot-stuffs a multi-line body given in chunks of CRLF text: a line
/// that starts with `.` gets another in front (RFC 1939 §3), and
/// [`DotStuffer::finish`] ends the body with `.` on a line of its own,
/// after a CRLF if the body did not end with one.
#[derive(Debug)]
pub struct DotStuffer {
    at_line_start: bool,
    empty: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            at_line_start: true,
            empty: true,
        }
    }
}

impl DotStuffer {
    /// Appends `chunk`, stuffed, to `out`. Whole runs are copied between
    /// the line starts that hold a dot (found with memchr), not byte by
    /// byte: every RETR passes the whole message through here.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(&last) = chunk.last() else {
            return;
        };
        out.reserve(chunk.len() + 8);
        if self.at_line_start && chunk[0] == b'.' {
            out.push(b'.');
        }
        let mut start = 0;
        for at in memchr::memmem::find_iter(chunk, b"\n.") {
            // The dot starts the line after the LF at `at`.
            out.extend_from_slice(&chunk[start..=at]);
            out.push(b'.');
            start = at + 1;
        }
        out.extend_from_slice(&chunk[start..]);
        self.at_line_start = last == b'\n';
        self.empty = false;
    }

    /// The end of the body: `.` on its own line.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.empty && !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// Cuts a message for `TOP msg n` (RFC 1939 §7): the header, the empty
/// line after it, and at most `n` lines of the body.
#[derive(Debug)]
pub struct TopCut {
    in_header: bool,
    /// Body lines still wanted.
    left: u32,
    /// Whether the current line has anything but its line end.
    line_has_content: bool,
    done: bool,
}

impl TopCut {
    /// A cut keeping `lines` body lines.
    pub fn new(lines: u32) -> TopCut {
        TopCut {
            in_header: true,
            left: lines,
            line_has_content: false,
            done: false,
        }
    }

    /// How many bytes at the front of `chunk` belong to the cut; after a
    /// chunk that completes it, [`TopCut::done`] is true.
    pub fn keep(&mut self, chunk: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        for (i, &b) in chunk.iter().enumerate() {
            match b {
                b'\n' => {
                    if self.in_header {
                        if !self.line_has_content {
                            self.in_header = false;
                            self.done = self.left == 0;
                        }
                    } else {
                        self.left = self.left.saturating_sub(1);
                        self.done = self.left == 0;
                    }
                    self.line_has_content = false;
                    if self.done {
                        return i + 1;
                    }
                }
                b'\r' => {}
                _ => self.line_has_content = true,
            }
        }
        chunk.len()
    }

    /// Whether the cut is complete (the rest of the message is not sent).
    pub fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = DotStuffer::default();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn status_lines_with_and_without_codes() {
        assert_eq!(Reply::ok("Done").encode(), b"+OK Done\r\n");
        assert_eq!(
            Reply::err("Locked").code(RespCode::InUse).encode(),
            b"-ERR [IN-USE] Locked\r\n"
        );
        assert_eq!(Reply::err("a\r\nb").encode(), b"-ERR ab\r\n");
        assert_eq!(Reply::ok("").encode(), b"+OK\r\n");
    }

    #[test]
    fn leading_dots_are_doubled_across_chunk_boundaries() {
        assert_eq!(stuffed(&[b".a\r\nb\r\n"]), b"..a\r\nb\r\n.\r\n");
        assert_eq!(stuffed(&[b"x\r\n", b".\r\n"]), b"x\r\n..\r\n.\r\n");
        assert_eq!(stuffed(&[b"x\r", b"\n.y"]), b"x\r\n..y\r\n.\r\n");
        assert_eq!(stuffed(&[b"a.b\r\n"]), b"a.b\r\n.\r\n");
        assert_eq!(stuffed(&[]), b".\r\n");
        assert_eq!(
            stuffed(&[b"a\r\n.b\r\n..c\r\n.", b"\r\n"]),
            b"a\r\n..b\r\n...c\r\n..\r\n.\r\n"
        );
        assert_eq!(stuffed(&[b"\n.", b"."]), b"\n...\r\n.\r\n");
    }

    #[test]
    fn a_body_without_a_final_line_end_gets_one_before_the_dot() {
        assert_eq!(stuffed(&[b"no end"]), b"no end\r\n.\r\n");
    }

    /// RETR stuffs straight into the connection's output buffer, after
    /// the status line and whatever replies are queued before it: what
    /// the buffer held must not count as the body's start or end.
    #[test]
    fn stuffing_into_a_buffer_that_holds_other_bytes() {
        let mut out = b"+OK 1 messages\r\n1 9\r\n.\r\n+OK 9 octets\r\n".to_vec();
        let queued = out.len();
        let mut s = DotStuffer::default();
        s.push(b".a\r\n", &mut out);
        s.push(b"..b\r\n.", &mut out);
        s.push(b"\nc\n.d", &mut out);
        s.finish(&mut out);
        assert_eq!(&out[queued..], b"..a\r\n...b\r\n..\nc\n..d\r\n.\r\n");
        // A buffer ending mid-line (no CRLF) does not make the body's
        // first byte a line start, nor the reverse.
        let mut out = b"no line end".to_vec();
        let mut s = DotStuffer::default();
        s.push(b"x.", &mut out);
        s.finish(&mut out);
        assert_eq!(out, b"no line endx.\r\n.\r\n");
        let mut out = b"line\r\n".to_vec();
        let s = DotStuffer::default();
        s.finish(&mut out);
        assert_eq!(out, b"line\r\n.\r\n", "an empty body is the dot alone");
    }

    /// Bare LFs are passed on as they are (storage serves CRLF; a bare LF
    /// left in a message still starts a line for stuffing), and a body
    /// ending in a bare LF gets no CRLF before the dot.
    #[test]
    fn bare_line_feeds_start_lines_and_end_the_body() {
        assert_eq!(stuffed(&[b"a\n.b\n"]), b"a\n..b\n.\r\n");
        assert_eq!(stuffed(&[b"a\n", b".b"]), b"a\n..b\r\n.\r\n");
        assert_eq!(stuffed(&[b"a\r"]), b"a\r\r\n.\r\n");
        assert_eq!(stuffed(&[b".", b".", b"\r\n"]), b"...\r\n.\r\n");
        // Chunked byte by byte, the same as whole.
        let body = b".x\r\ny\n.\r\n..z\n.";
        let chunks: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(stuffed(&chunks), stuffed(&[body]));
    }

    fn top(message: &[u8], lines: u32, chunk: usize) -> Vec<u8> {
        let mut cut = TopCut::new(lines);
        let mut out = Vec::new();
        for c in message.chunks(chunk) {
            let n = cut.keep(c);
            out.extend_from_slice(&c[..n]);
            if cut.done() {
                break;
            }
        }
        out
    }

    #[test]
    fn top_keeps_the_header_the_blank_line_and_n_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n";
        for chunk in [1, 3, 100] {
            assert_eq!(top(m, 0, chunk), b"A: 1\r\nB: 2\r\n\r\n");
            assert_eq!(top(m, 2, chunk), b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n");
            assert_eq!(top(m, 9, chunk), m.to_vec());
        }
        // No body at all: the whole message is header.
        assert_eq!(top(b"A: 1\r\n", 3, 2), b"A: 1\r\n");
    }
}

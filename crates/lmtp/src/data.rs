//! The message after DATA (RFC 5321 §4.5.2): lines up to `CRLF . CRLF`,
//! with a leading dot of a line removed. A pure state machine fed with
//! whatever bytes arrived, so it is tested without a socket and never
//! buffers more than the message.
//!
//! Only `CRLF . CRLF` ends the message: neither a `.` line ending in a bare
//! LF nor a `. CRLF` line after a line that ended in a bare LF does (those
//! ambiguities are what "SMTP smuggling" uses); a bare LF marks the message,
//! which is refused once it ends. The message is kept
//! up to `max` bytes; past that the rest is read and dropped, and the
//! message is refused as too big. A caller streaming the message takes the
//! decoded bytes as they come with [`DotDecoder::take_decoded`], so only
//! what it has not taken yet is held.

/// The state of one DATA transfer.
#[derive(Debug)]
pub struct DotDecoder {
    state: LineState,
    /// The message as received and not yet taken, leading dots removed.
    message: Vec<u8>,
    max: u64,
    /// Bytes of the message seen, kept or not.
    size: u64,
    bare_lf: bool,
    /// The last byte of the message so far (is the LF after a CR?).
    last: u8,
    /// The line before this one ended in CRLF (or this is the first line):
    /// only then can a `.` line end the message.
    after_crlf: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a line.
    Start,
    /// Inside a line.
    Middle,
    /// The message ended.
    Done,
}

/// How a DATA transfer ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// The message (what [`DotDecoder::take_decoded`] did not take),
    /// leading dots removed.
    Message(Vec<u8>),
    /// More than `max` bytes came (they were read and dropped).
    TooBig,
    /// A line ended in a bare LF.
    BareLf,
}

impl DotDecoder {
    /// A decoder keeping at most `max` bytes of message.
    pub fn new(max: u64) -> DotDecoder {
        DotDecoder {
            state: LineState::Start,
            message: Vec::new(),
            max,
            size: 0,
            bare_lf: false,
            last: b'\n',
            after_crlf: true,
        }
    }

    /// Takes what it can of `input` and returns how many bytes it used;
    /// the rest (a line start too short to judge, or what follows the end
    /// of the message) stays with the caller. Check [`DotDecoder::is_done`]
    /// after each call.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        while used < input.len() && self.state != LineState::Done {
            let rest = &input[used..];
            match self.state {
                LineState::Start => {
                    if rest[0] == b'.' {
                        if rest.len() < 3 {
                            // ".", ".\r": the end, or a stuffed dot?
                            if rest.len() == 1 || rest[1] == b'\r' {
                                return used;
                            }
                        }
                        if rest.starts_with(b".\r\n") && self.after_crlf {
                            self.state = LineState::Done;
                            return used + 3;
                        }
                        // A stuffed dot: dropped.
                        used += 1;
                    }
                    self.state = LineState::Middle;
                }
                LineState::Middle => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        let before = if i > 0 { rest[i - 1] } else { self.last };
                        self.after_crlf = before == b'\r';
                        if !self.after_crlf {
                            self.bare_lf = true;
                        }
                        self.keep(&rest[..=i]);
                        used += i + 1;
                        self.state = LineState::Start;
                    }
                    None => {
                        self.keep(rest);
                        used += rest.len();
                    }
                },
                LineState::Done => {}
            }
        }
        used
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.last = b;
        }
        self.size = self
            .size
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        if self.size <= self.max {
            self.message.extend_from_slice(bytes);
        } else if !self.message.is_empty() {
            self.message = Vec::new();
        }
    }

    /// How many decoded bytes are held, not yet taken.
    pub fn decoded_len(&self) -> usize {
        self.message.len()
    }

    /// Takes the decoded bytes held so far (empty once the message is over
    /// the limit): the message streams on while the decoder keeps only
    /// what came since.
    pub fn take_decoded(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.message)
    }

    /// Whether `CRLF . CRLF` came.
    pub fn is_done(&self) -> bool {
        self.state == LineState::Done
    }

    /// The outcome, once done.
    pub fn finish(self) -> Received {
        if self.size > self.max {
            Received::TooBig
        } else if self.bare_lf {
            Received::BareLf
        } else {
            Received::Message(self.message)
        }
    }
}

#[cfg(test)]
#[path = "tests/data.rs"]
mod tests;

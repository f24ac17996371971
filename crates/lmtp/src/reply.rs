//! LMTP replies: a code, an enhanced status code (RFC 3463, announced as
//! ENHANCEDSTATUSCODES) and text. Every refusal the session gives is one of
//! the named constructors here, so a reply and its meaning stay together.

/// One reply line (or, with [`Reply::lines`], several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code, `"2.0.0"`; empty for the greeting.
    pub status: &'static str,
    /// The text lines (at least one).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// Whether the reply is a success (2xx or 3xx).
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Whether the failure is temporary (4xx).
    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The reply on the wire: `code-status text` for all lines but the
    /// last, `code status text` for the last, each ending in CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let text: String = line
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            if self.status.is_empty() {
                out.extend_from_slice(format!("{}{sep}{text}\r\n", self.code).as_bytes());
            } else {
                out.extend_from_slice(
                    format!("{}{sep}{} {text}\r\n", self.code, self.status).as_bytes(),
                );
            }
        }
    }

    /// `250 2.0.0 Ok`.
    pub fn ok(status: &'static str, text: impl Into<String>) -> Reply {
        Reply::new(250, status, text)
    }

    /// `500 5.5.2`: not a command (or a line over the limit).
    pub fn syntax(text: impl Into<String>) -> Reply {
        Reply::new(500, "5.5.2", text)
    }

    /// `501 5.5.4`: a command with bad arguments.
    pub fn bad_arguments(text: impl Into<String>) -> Reply {
        Reply::new(501, "5.5.4", text)
    }

    /// `503 5.5.1`: a command out of sequence.
    pub fn bad_sequence(text: impl Into<String>) -> Reply {
        Reply::new(503, "5.5.1", text)
    }

    /// `550 5.1.1`: no such recipient.
    pub fn unknown_user() -> Reply {
        Reply::new(550, "5.1.1", "User unknown")
    }

    /// `451 4.3.0`: a temporary failure (userdb or storage unavailable).
    pub fn temporary(text: impl Into<String>) -> Reply {
        Reply::new(451, "4.3.0", text)
    }

    /// `552 5.3.4`: the message is over the size limit.
    pub fn too_big(max: u64) -> Reply {
        Reply::new(
            552,
            "5.3.4",
            format!("Message too big (the limit is {max} bytes)"),
        )
    }

    /// `554 5.4.6`: the message was delivered to this recipient before.
    pub fn mail_loop() -> Reply {
        Reply::new(
            554,
            "5.4.6",
            "Mail loop: Delivered-To already names this recipient",
        )
    }

    /// `552 5.2.2`: the recipient is over quota.
    pub fn over_quota() -> Reply {
        Reply::new(552, "5.2.2", "Mailbox is full")
    }

    /// `452 4.3.1`: no space on the server.
    pub fn no_space() -> Reply {
        Reply::new(452, "4.3.1", "Insufficient system storage")
    }

    /// `452 4.5.3`: more recipients than one transaction takes.
    pub fn too_many_recipients(max: usize) -> Reply {
        Reply::new(
            452,
            "4.5.3",
            format!("Too many recipients (at most {max} per message)"),
        )
    }

    /// `550 5.6.0`: a bare LF in the message (RFC 5321 §2.3.8).
    pub fn bare_lf() -> Reply {
        Reply::new(
            550,
            "5.6.0",
            "Message contains a bare LF; lines must end with CRLF",
        )
    }

    /// `421 4.4.2`: the client was silent too long.
    pub fn timeout() -> Reply {
        Reply::new(421, "4.4.2", "Timeout, closing connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_single_and_multi_line_replies() {
        let mut out = Vec::new();
        Reply::unknown_user().encode(&mut out);
        assert_eq!(out, b"550 5.1.1 User unknown\r\n");
        let mut out = Vec::new();
        Reply {
            code: 250,
            status: "",
            lines: vec!["host".into(), "PIPELINING".into()],
        }
        .encode(&mut out);
        assert_eq!(out, b"250-host\r\n250 PIPELINING\r\n");
        let mut out = Vec::new();
        Reply::new(250, "2.0.0", "a\r\nb").encode(&mut out);
        assert_eq!(out, b"250 2.0.0 a  b\r\n");
    }
}

//! LMTP command syntax (RFC 2033 over RFC 5321's grammar): one command line
//! in, one [`Command`] out. A pure function with no I/O and no state, so it
//! can be fuzzed on its own; the session decides what each command means
//! in its state. Address and parameter syntax come from `smtp-proto`.

use smtp_proto::{MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8, Request};

/// The longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4
/// says 512; addresses with SMTPUTF8 and parameters need more).
pub const MAX_COMMAND_LINE: usize = 1000;

/// The body type MAIL FROM announced (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing said, or `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// One LMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LHLO host`.
    Lhlo {
        /// The client's name for itself.
        host: String,
    },
    /// `MAIL FROM:<path> [SIZE=n] [BODY=...] [SMTPUTF8]`.
    Mail {
        /// The reverse path; empty for the null sender `<>`.
        from: String,
        /// The size the client declared (0: none).
        size: u64,
        /// The declared body type.
        body: Body,
        /// SMTPUTF8 (RFC 6531) was given.
        smtputf8: bool,
    },
    /// `RCPT TO:<path>`.
    Rcpt {
        /// The forward path as given.
        to: String,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// The chunk's size in octets.
        size: u64,
        /// The last chunk of the message.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// A command LMTP does not take here: `HELO`/`EHLO` (LMTP greets with
    /// LHLO), `VRFY`, `STARTTLS`, `AUTH`, ...
    NotImplemented(&'static str),
}

/// Why a command line is not a command; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No command of that name.
    #[error("unknown command")]
    Unknown,
    /// The line is longer than [`MAX_COMMAND_LINE`].
    #[error("line too long")]
    TooLong,
    /// The line does not end in CRLF (a bare LF, or no end at all).
    #[error("command line must end with CRLF")]
    BadLineEnd,
    /// A known command with bad arguments; the usage to show.
    #[error("syntax: {0}")]
    Syntax(&'static str),
    /// The sender address does not parse.
    #[error("invalid sender address")]
    BadSender,
    /// The recipient address does not parse.
    #[error("invalid recipient address")]
    BadRecipient,
    /// A parameter of a kind this server takes has a bad value.
    #[error("invalid value of parameter {0}")]
    BadParameter(&'static str),
    /// A parameter this server does not take.
    #[error("unsupported parameter {0}")]
    UnsupportedParameter(String),
}

/// Parses one command line, CRLF included.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    if line.len() > MAX_COMMAND_LINE {
        return Err(ParseError::TooLong);
    }
    if !line.ends_with(b"\r\n") {
        return Err(ParseError::BadLineEnd);
    }
    if line[..line.len() - 2].contains(&b'\n') || line[..line.len() - 2].contains(&b'\r') {
        return Err(ParseError::BadLineEnd);
    }
    let request = match Request::parse(&mut line.iter()) {
        Ok(request) => request,
        Err(smtp_proto::Error::InvalidRecipientAddress) => return bare_recipient(line),
        Err(smtp_proto::Error::InvalidSenderAddress) => return literal_sender(line),
        Err(e) => return Err(from_proto(e)),
    };
    Ok(match request {
        Request::Lhlo { host } => Command::Lhlo {
            host: host.into_owned(),
        },
        Request::Mail { from } => {
            let body = if from.flags & MAIL_BODY_BINARYMIME != 0 {
                return Err(ParseError::UnsupportedParameter("BODY=BINARYMIME".into()));
            } else if from.flags & MAIL_BODY_8BITMIME != 0 {
                Body::EightBitMime
            } else {
                // BODY=7BIT, or nothing said.
                Body::SevenBit
            };
            let address = if from.address.is_empty() && names_postmaster(line) {
                POSTMASTER.to_owned()
            } else {
                from.address.into_owned()
            };
            Command::Mail {
                from: address,
                size: u64::try_from(from.size).unwrap_or(u64::MAX),
                body,
                smtputf8: from.flags & MAIL_SMTPUTF8 != 0,
            }
        }
        Request::Rcpt { to } => {
            if to.address.is_empty() {
                // `<>`, refused; or `<Postmaster>`, a bare name.
                return bare_recipient(line);
            }
            Command::Rcpt {
                to: to.address.into_owned(),
            }
        }
        Request::Data => Command::Data,
        Request::Bdat { is_last, .. } => Command::Bdat {
            size: bdat_size(line).ok_or(ParseError::BadParameter("chunk size"))?,
            last: is_last,
        },
        Request::Rset => Command::Rset,
        Request::Noop { .. } => Command::Noop,
        Request::Quit => Command::Quit,
        other => Command::NotImplemented(other.name()),
    })
}

/// The chunk size of a BDAT line, read here: `smtp-proto` turns a size
/// with more digits than a `usize` holds into a small number (it starts
/// over after saturating), and the session would wait for bytes that
/// never come. `None` for a size that is no number or does not fit.
fn bdat_size(line: &[u8]) -> Option<u64> {
    let size = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .nth(1)?;
    if !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(size).ok()?.parse().ok()
}

/// The address without a domain that RFC 5321 §4.5.1 has every server
/// take.
const POSTMASTER: &str = "postmaster";

/// Whether the path in a MAIL or RCPT line is `<Postmaster>` (any case):
/// the SMTP parser gives it as the empty path, like `<>`.
fn names_postmaster(line: &[u8]) -> bool {
    let Some(start) = line.iter().position(|&b| b == b'<') else {
        return false;
    };
    line.get(start + 1..start + 1 + POSTMASTER.len())
        .is_some_and(|name| name.eq_ignore_ascii_case(POSTMASTER.as_bytes()))
        && line.get(start + 1 + POSTMASTER.len()) == Some(&b'>')
}

/// The recipients `smtp-proto` does not read: `RCPT TO:<local-part>`
/// without a domain, which RFC 5321 has no room for but LMTP setups with
/// bare user names use (Dovecot takes it too), and an address literal
/// for the domain (`<user@[192.0.2.1]>`, `<user@[IPv6:2001:db8::1]>`,
/// RFC 5321 §4.1.3), which is valid syntax and then an address like any
/// other (no account has one: `550 5.1.1`, as Dovecot answers; it was a
/// syntax error). A dot-atom local part, and after the `>` the parameters
/// an address may have, judged the same way (an unknown one is `555
/// 5.5.4`, as it would be after `<user@domain>`).
fn bare_recipient(line: &[u8]) -> Result<Command, ParseError> {
    let bad = || ParseError::BadRecipient;
    let text = std::str::from_utf8(line).map_err(|_| bad())?.trim_end();
    let (verb, rest) = text.split_at_checked(8).ok_or_else(bad)?;
    if !verb.eq_ignore_ascii_case("RCPT TO:") {
        return Err(bad());
    }
    let (address, parameters) = rest
        .trim_start()
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .ok_or_else(bad)?;
    let (local, literal) = match address.split_once('@') {
        Some((local, domain)) if is_address_literal(domain) => (local, Some(domain)),
        Some(_) => return Err(bad()),
        None => (address, None),
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let valid = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext));
    if !valid {
        return Err(bad());
    }
    if !parameters.is_empty() {
        let judged = format!("RCPT TO:<{local}@bare.invalid>{parameters}\r\n");
        Request::parse(&mut judged.as_bytes().iter()).map_err(from_proto)?;
    }
    Ok(Command::Rcpt {
        to: match literal {
            Some(domain) => format!("{local}@{domain}"),
            None => local.to_owned(),
        },
    })
}

/// `MAIL FROM:<user@[192.0.2.1]>`: a sender whose domain is an address
/// literal (RFC 5321 §4.1.3), which `smtp-proto` does not read. The line
/// is read with a stand-in domain, so its parameters are judged as
/// usual, and the sender keeps its literal. Any other sender it refused
/// stays refused.
fn literal_sender(line: &[u8]) -> Result<Command, ParseError> {
    let refused = Err(ParseError::BadSender);
    let Ok(text) = std::str::from_utf8(line) else {
        return refused;
    };
    let (Some(open), Some(close)) = (text.find('<'), text.find('>')) else {
        return refused;
    };
    let Some((local, domain)) = text
        .get(open + 1..close)
        .and_then(|address| address.rsplit_once('@'))
    else {
        return refused;
    };
    if local.is_empty() || local.contains(['<', ' ', '@']) || !is_address_literal(domain) {
        return refused;
    }
    let stand_in = format!(
        "{}<{local}@literal.invalid{}",
        &text[..open],
        &text[close..]
    );
    match parse(stand_in.as_bytes())? {
        Command::Mail {
            size,
            body,
            smtputf8,
            ..
        } => Ok(Command::Mail {
            from: format!("{local}@{domain}"),
            size,
            body,
            smtputf8,
        }),
        _ => refused,
    }
}

/// Whether `domain` is an IPv4 or IPv6 address literal of RFC 5321
/// §4.1.3: `[192.0.2.1]`, `[IPv6:2001:db8::1]` (the tag in any case).
fn is_address_literal(domain: &str) -> bool {
    let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return false;
    };
    match inner.split_at_checked(5) {
        Some((tag, v6)) if tag.eq_ignore_ascii_case("IPv6:") => {
            v6.parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

fn from_proto(e: smtp_proto::Error) -> ParseError {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => ParseError::Unknown,
        E::InvalidSenderAddress => ParseError::BadSender,
        E::InvalidRecipientAddress => ParseError::BadRecipient,
        E::SyntaxError { syntax } => ParseError::Syntax(syntax),
        E::InvalidParameter { param } => ParseError::BadParameter(param),
        E::UnsupportedParameter { param } => ParseError::UnsupportedParameter(param),
        // A whole line was given, so "needs more" means it ended too soon.
        E::NeedsMoreData { .. } => ParseError::Syntax("a complete command line"),
        E::ResponseTooLong | E::InvalidResponse { .. } => ParseError::Unknown,
    }
}

#[cfg(test)]
#[path = "tests/command.rs"]
mod tests;

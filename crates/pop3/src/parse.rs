//! POP3 command syntax (RFC 1939 §3, RFC 2449, RFC 2595, RFC 5034): one
//! line in, one [`Command`] out. Pure: no I/O, no state, so it can be
//! fuzzed as it is ([`parse`]).
//!
//! Keywords are case-insensitive; arguments are separated by one or more
//! spaces. `USER` and `PASS` take the rest of the line (a password may
//! contain spaces, RFC 1939 §7).

/// The longest command line RFC 2449 §4 allows, CRLF included; the
/// session refuses longer ones before they get here.
pub const MAX_COMMAND_LINE: usize = 255;

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS password`.
    Pass(Vec<u8>),
    /// `APOP name digest`: recognised to be refused (APOP is off).
    Apop,
    /// `AUTH` alone lists the mechanisms; `AUTH mechanism [initial]`
    /// starts an exchange (`=` is an empty initial response).
    Auth {
        /// The mechanism, upper-cased; `None` for the listing.
        mechanism: Option<String>,
        /// The initial response as sent (base64 or `=`), if any.
        initial: Option<String>,
    },
    /// `STLS`.
    Stls,
    /// `CAPA`.
    Capa,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `TOP msg n`.
    Top(u32, u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
}

/// Why a line is not a command; each maps to one `-ERR` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but the line end.
    #[error("Empty command")]
    Empty,
    /// A keyword this server does not know.
    #[error("Unknown command")]
    Unknown,
    /// A required argument is missing.
    #[error("{0}: missing argument")]
    MissingArgument(&'static str),
    /// An argument that should be a number is not one (or is too large).
    #[error("{0}: invalid message number or count")]
    BadNumber(&'static str),
    /// More arguments than the command takes.
    #[error("{0}: too many arguments")]
    TooManyArguments(&'static str),
    /// A NUL byte, a bare CR, or bytes that are not UTF-8 where text is
    /// needed.
    #[error("Invalid characters in command")]
    InvalidBytes,
}

/// Parses one command line, with or without its CRLF (or bare LF).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let line = line
        .strip_suffix(b"\n")
        .map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
    if line.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(ParseError::InvalidBytes);
    }
    if line.iter().all(|&b| b == b' ') {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, &[][..]),
    };
    let keyword = std::str::from_utf8(keyword)
        .map_err(|_| ParseError::Unknown)?
        .to_ascii_uppercase();
    match keyword.as_str() {
        // Both take the rest of the line as it is.
        "USER" => Ok(Command::User(text(rest, "USER")?.to_owned())),
        "PASS" if rest.is_empty() => Err(ParseError::MissingArgument("PASS")),
        "PASS" => Ok(Command::Pass(rest.to_vec())),
        "APOP" => Ok(Command::Apop),
        "AUTH" => auth(rest),
        _ => {
            let args = words(rest)?;
            simple(&keyword, &args)
        }
    }
}

/// The commands with numeric or no arguments.
fn simple(keyword: &str, args: &[&str]) -> Result<Command, ParseError> {
    let name: &'static str = match keyword {
        "STLS" => "STLS",
        "CAPA" => "CAPA",
        "STAT" => "STAT",
        "LIST" => "LIST",
        "UIDL" => "UIDL",
        "RETR" => "RETR",
        "TOP" => "TOP",
        "DELE" => "DELE",
        "NOOP" => "NOOP",
        "RSET" => "RSET",
        "QUIT" => "QUIT",
        _ => return Err(ParseError::Unknown),
    };
    let most = match name {
        "LIST" | "UIDL" | "RETR" | "DELE" => 1,
        "TOP" => 2,
        _ => 0,
    };
    if args.len() > most {
        return Err(ParseError::TooManyArguments(name));
    }
    // An argument of digits only, as a number if it fits in 32 bits.
    let digits = |i: usize| -> Result<Option<u32>, ParseError> {
        let arg = args.get(i).ok_or(ParseError::MissingArgument(name))?;
        if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadNumber(name));
        }
        Ok(arg.parse().ok())
    };
    let number = |i: usize| digits(i)?.ok_or(ParseError::BadNumber(name));
    // TOP's line count: more lines than the body has is the whole body
    // (RFC 1939), so a count past u32 is as good as u32::MAX.
    let lines = |i: usize| Ok::<u32, ParseError>(digits(i)?.unwrap_or(u32::MAX));
    let optional = |i: usize| args.get(i).map(|_| number(i)).transpose();
    Ok(match name {
        "STLS" => Command::Stls,
        "CAPA" => Command::Capa,
        "STAT" => Command::Stat,
        "LIST" => Command::List(optional(0)?),
        "UIDL" => Command::Uidl(optional(0)?),
        "RETR" => Command::Retr(number(0)?),
        "TOP" => Command::Top(number(0)?, lines(1)?),
        "DELE" => Command::Dele(number(0)?),
        "NOOP" => Command::Noop,
        "RSET" => Command::Rset,
        _ => Command::Quit,
    })
}

/// `AUTH [mechanism [initial-response]]` (RFC 5034 §4).
fn auth(rest: &[u8]) -> Result<Command, ParseError> {
    let args = words(rest)?;
    match args.as_slice() {
        [] => Ok(Command::Auth {
            mechanism: None,
            initial: None,
        }),
        [mechanism] => Ok(Command::Auth {
            mechanism: Some(mechanism.to_ascii_uppercase()),
            initial: None,
        }),
        [mechanism, initial] => Ok(Command::Auth {
            mechanism: Some(mechanism.to_ascii_uppercase()),
            initial: Some((*initial).to_owned()),
        }),
        _ => Err(ParseError::TooManyArguments("AUTH")),
    }
}

fn text<'a>(rest: &'a [u8], name: &'static str) -> Result<&'a str, ParseError> {
    if rest.is_empty() {
        return Err(ParseError::MissingArgument(name));
    }
    std::str::from_utf8(rest).map_err(|_| ParseError::InvalidBytes)
}

/// The space-separated words of the arguments.
fn words(rest: &[u8]) -> Result<Vec<&str>, ParseError> {
    let rest = std::str::from_utf8(rest).map_err(|_| ParseError::InvalidBytes)?;
    Ok(rest.split(' ').filter(|w| !w.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_line_ends_optional() {
        assert_eq!(parse(b"stat\r\n"), Ok(Command::Stat));
        assert_eq!(parse(b"Quit"), Ok(Command::Quit));
        assert_eq!(parse(b"NOOP\n"), Ok(Command::Noop));
        assert_eq!(parse(b"capa\r\n"), Ok(Command::Capa));
        assert_eq!(parse(b"STLS\r\n"), Ok(Command::Stls));
        assert_eq!(parse(b"rset\r\n"), Ok(Command::Rset));
    }

    #[test]
    fn message_numbers_and_counts() {
        assert_eq!(parse(b"LIST\r\n"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 3\r\n"), Ok(Command::List(Some(3))));
        assert_eq!(parse(b"UIDL  12\r\n"), Ok(Command::Uidl(Some(12))));
        assert_eq!(parse(b"RETR 1\r\n"), Ok(Command::Retr(1)));
        assert_eq!(parse(b"TOP 2 0\r\n"), Ok(Command::Top(2, 0)));
        assert_eq!(
            parse(b"TOP 2 99999999999999999999\r\n"),
            Ok(Command::Top(2, u32::MAX))
        );
        assert_eq!(parse(b"TOP 2 -1\r\n"), Err(ParseError::BadNumber("TOP")));
        assert_eq!(
            parse(b"TOP 99999999999 1\r\n"),
            Err(ParseError::BadNumber("TOP"))
        );
        assert_eq!(parse(b"DELE 7\r\n"), Ok(Command::Dele(7)));
        assert_eq!(parse(b"RETR\r\n"), Err(ParseError::MissingArgument("RETR")));
        assert_eq!(parse(b"TOP 1\r\n"), Err(ParseError::MissingArgument("TOP")));
        assert_eq!(parse(b"RETR x\r\n"), Err(ParseError::BadNumber("RETR")));
        assert_eq!(parse(b"RETR -1\r\n"), Err(ParseError::BadNumber("RETR")));
        assert_eq!(parse(b"RETR +1\r\n"), Err(ParseError::BadNumber("RETR")));
        assert_eq!(
            parse(b"RETR 99999999999\r\n"),
            Err(ParseError::BadNumber("RETR"))
        );
        assert_eq!(
            parse(b"DELE 1 2\r\n"),
            Err(ParseError::TooManyArguments("DELE"))
        );
        assert_eq!(
            parse(b"STAT 1\r\n"),
            Err(ParseError::TooManyArguments("STAT"))
        );
    }

    #[test]
    fn user_and_pass_take_the_rest_of_the_line() {
        assert_eq!(parse(b"USER alice\r\n"), Ok(Command::User("alice".into())));
        assert_eq!(
            parse(b"PASS two words \r\n"),
            Ok(Command::Pass(b"two words ".to_vec()))
        );
        assert_eq!(parse(b"PASS\r\n"), Err(ParseError::MissingArgument("PASS")));
        assert_eq!(parse(b"USER\r\n"), Err(ParseError::MissingArgument("USER")));
        assert_eq!(parse(b"APOP a b\r\n"), Ok(Command::Apop));
    }

    #[test]
    fn auth_with_and_without_initial_response() {
        assert_eq!(
            parse(b"AUTH\r\n"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            parse(b"auth plain\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: None
            })
        );
        assert_eq!(
            parse(b"AUTH PLAIN AGEAYg==\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into())
            })
        );
        assert_eq!(
            parse(b"AUTH PLAIN a b\r\n"),
            Err(ParseError::TooManyArguments("AUTH"))
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(parse(b"\r\n"), Err(ParseError::Empty));
        assert_eq!(parse(b"   \r\n"), Err(ParseError::Empty));
        assert_eq!(parse(b"XYZZY\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse(b"\xff\xfe\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse(b"STAT\0\r\n"), Err(ParseError::InvalidBytes));
        assert_eq!(parse(b"ST\rAT\r\n"), Err(ParseError::InvalidBytes));
        assert_eq!(parse(b"USER \xff\r\n"), Err(ParseError::InvalidBytes));
    }

    #[test]
    fn every_prefix_of_every_command_parses_or_errs_without_panicking() {
        let lines: [&[u8]; 6] = [
            b"TOP 1 10\r\n",
            b"AUTH SCRAM-SHA-256 biwsbj1h\r\n",
            b"PASS x\r\n",
            b"LIST 4294967295\r\n",
            b"UIDL 4294967296\r\n",
            b"\xc3\xa9\r\n",
        ];
        for line in lines {
            for end in 0..=line.len() {
                let _ = parse(&line[..end]);
            }
        }
    }
}

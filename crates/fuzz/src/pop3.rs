//! The POP3 command parser of `crates/pop3`: every line a client sends
//! before and after login goes through it.

/// Tokens of POP3's grammar for the stable engine's mutations.
pub static DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"USER ",
    b"PASS ",
    b"APOP ",
    b"AUTH ",
    b"PLAIN",
    b"SCRAM-SHA-256",
    b"STAT",
    b"LIST ",
    b"RETR ",
    b"DELE ",
    b"TOP ",
    b"UIDL",
    b"NOOP",
    b"RSET",
    b"QUIT",
    b"CAPA",
    b"STLS",
    b"*",
    b"=",
    b"4294967295",
    b"4294967296",
    b"0",
    b"-1",
];

/// Every line is answered, and the same way twice.
pub fn command(data: &[u8]) {
    crate::line_protocol::commands(data, mailkeep_pop3::parse);
}

//! The auth socket's line parser of `crates/auth-socket` (Dovecot's
//! auth-client protocol): every line an MTA sends goes through it.

/// Tokens of the protocol's grammar for the stable engine's mutations.
pub static DICTIONARY: &[&[u8]] = &[
    b"\n",
    b"\t",
    b"\x01",
    b"\x01t",
    b"VERSION\t1\t0",
    b"CPID\t",
    b"AUTH\t",
    b"CONT\t",
    b"CANCEL\t",
    b"PLAIN",
    b"LOGIN",
    b"service=smtp",
    b"rip=",
    b"resp=",
    b"secured",
    b"nologin",
    b"AGFsaWNlAHNlY3JldA==",
    b"=",
    b"4294967295",
    b"4294967296",
];

/// Every line is answered, and the same way twice.
pub fn line(data: &[u8]) {
    crate::line_protocol::commands(data, mailkeep_auth_socket::protocol::parse);
}

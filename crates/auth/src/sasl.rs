//! SASL server mechanisms: PLAIN (RFC 4616) and LOGIN
//! (draft-murchison-sasl-login).
//!
//! These are state machines only: they turn the client's responses into
//! challenges and, at the end, into [`Credentials`] for the caller to check
//! against the passdb. They never see the passdb, so they stay easy to test
//! and to fuzz. SCRAM-SHA-256 will need the stored keys in the middle of the
//! exchange; it fits as another [`Mechanism`] whose steps may also return a
//! "look the user up" outcome.
//!
//! Why not rsasl: its LOGIN server sends `User Name\0` / `Password\0`
//! instead of the customary `Username:` / `Password:`, ignores an initial
//! response, applies SASLprep to PLAIN passwords (Dovecot does not, so some
//! stored passwords would stop matching), and its synchronous validation
//! callback would run the password hashing inside the mechanism step. The
//! two mechanisms are a few dozen lines each here.

use std::fmt;

/// The longest client response accepted in one step, in bytes.
pub const MAX_RESPONSE: usize = 8 * 1024;

/// A SASL mechanism this server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: `authzid NUL authcid NUL passwd` in one response.
    Plain,
    /// Username and password, each answering a challenge.
    Login,
}

impl Mechanism {
    /// Every mechanism offered, for capability lists.
    pub const ALL: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

    /// The mechanism called `name` (case-insensitive), if offered.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What a client claims at the end of an exchange, to be verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity (the user name typed).
    pub authcid: String,
    /// The password, as sent (not normalised).
    pub password: Vec<u8>,
}

impl fmt::Debug for Credentials {
    // Never print the password, not even in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authcid", &self.authcid)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why an exchange failed before any credentials could be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The response does not follow the mechanism's syntax.
    #[error("malformed {mechanism} response: {detail}")]
    Malformed {
        /// The mechanism.
        mechanism: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// PLAIN asked to act as another user; proxy authorization is not offered.
    #[error("authorization identity differs from authentication identity")]
    AuthzidMismatch,
    /// A step came after the exchange had already ended.
    #[error("exchange already finished")]
    Finished,
}

/// The outcome of one step.
#[derive(Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge and wait for the next response.
    Challenge(Vec<u8>),
    /// The exchange is complete: verify these credentials.
    Verify(Credentials),
    /// The exchange failed.
    Fail(SaslError),
}

/// The state of one exchange.
#[derive(Debug)]
enum State {
    /// Nothing received yet.
    Start,
    /// PLAIN sent its empty challenge and waits for the response.
    PlainWaiting,
    /// LOGIN asked for the user name.
    LoginWaitingUser,
    /// LOGIN asked for the password of this user.
    LoginWaitingPassword(String),
    /// Over; further steps fail.
    Done,
}

/// One SASL exchange in progress, server side.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    state: State,
}

impl Exchange {
    /// Starts an exchange of `mechanism`; feed the initial response (or
    /// `None` if the client sent none) to [`Exchange::step`] first.
    pub fn new(mechanism: Mechanism) -> Exchange {
        Exchange {
            mechanism,
            state: State::Start,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Processes the client's next response. The first call takes the
    /// initial response (`None`: the client sent none); every later call
    /// answers a challenge and takes `Some` (a missing answer is treated as
    /// empty).
    pub fn step(&mut self, response: Option<&[u8]>) -> SaslStep {
        let state = std::mem::replace(&mut self.state, State::Done);
        let (next, outcome) = match self.mechanism {
            Mechanism::Plain => match (state, response) {
                (State::Start, None) => (State::PlainWaiting, SaslStep::Challenge(Vec::new())),
                (State::Start | State::PlainWaiting, Some(data)) => {
                    (State::Done, parse_plain(data))
                }
                (State::PlainWaiting, None) => (State::Done, parse_plain(&[])),
                _ => (State::Done, SaslStep::Fail(SaslError::Finished)),
            },
            Mechanism::Login => match (state, response) {
                // An initial response, where the protocol allows one, is the
                // user name; an empty one counts as none.
                (State::Start, Some(data)) if !data.is_empty() => login_user(data),
                (State::Start, _) => (
                    State::LoginWaitingUser,
                    SaslStep::Challenge(b"Username:".to_vec()),
                ),
                (State::LoginWaitingUser, data) => login_user(data.unwrap_or_default()),
                (State::LoginWaitingPassword(user), data) => (
                    State::Done,
                    SaslStep::Verify(Credentials {
                        authcid: user,
                        password: data.unwrap_or_default().to_vec(),
                    }),
                ),
                _ => (State::Done, SaslStep::Fail(SaslError::Finished)),
            },
        };
        self.state = next;
        outcome
    }
}

fn login_user(data: &[u8]) -> (State, SaslStep) {
    let malformed = |detail| {
        (
            State::Done,
            SaslStep::Fail(SaslError::Malformed {
                mechanism: "LOGIN",
                detail,
            }),
        )
    };
    match std::str::from_utf8(data) {
        Ok("") => malformed("empty user name"),
        Ok(user) if user.contains('\0') => malformed("NUL in user name"),
        Ok(user) => (
            State::LoginWaitingPassword(user.to_owned()),
            SaslStep::Challenge(b"Password:".to_vec()),
        ),
        Err(_) => malformed("user name is not UTF-8"),
    }
}

/// `[authzid] NUL authcid NUL passwd`; authzid must be empty or equal
/// authcid (no proxy authorization).
fn parse_plain(data: &[u8]) -> SaslStep {
    let malformed = |detail| {
        SaslStep::Fail(SaslError::Malformed {
            mechanism: "PLAIN",
            detail,
        })
    };
    let mut parts = data.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return malformed("expected exactly two NUL separators");
    };
    let (Ok(authzid), Ok(authcid)) = (std::str::from_utf8(authzid), std::str::from_utf8(authcid))
    else {
        return malformed("identity is not UTF-8");
    };
    if authcid.is_empty() {
        return malformed("empty authentication identity");
    }
    if password.is_empty() {
        return malformed("empty password");
    }
    if !authzid.is_empty() && authzid != authcid {
        return SaslStep::Fail(SaslError::AuthzidMismatch);
    }
    SaslStep::Verify(Credentials {
        authcid: authcid.to_owned(),
        password: password.to_vec(),
    })
}

#[cfg(test)]
#[path = "tests/sasl.rs"]
mod tests;

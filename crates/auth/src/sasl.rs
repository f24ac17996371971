//! SASL server mechanisms: PLAIN (RFC 4616), LOGIN
//! (draft-murchison-sasl-login), and SCRAM-SHA-1, SCRAM-SHA-256 and
//! SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel binding RFC 9266).
//!
//! These are state machines only: they turn the client's responses into
//! challenges and, at the end, into [`Credentials`] for the caller to check
//! against the passdb (PLAIN, LOGIN), or, for SCRAM, ask the caller for the
//! account's keys in the middle ([`SaslStep::NeedScramCredentials`]) and
//! check the client's proof themselves. They never see the passdb, so they
//! stay easy to test and to fuzz.
//!
//! Why not rsasl: its LOGIN server sends `User Name\0` / `Password\0`
//! instead of the customary `Username:` / `Password:`, ignores an initial
//! response, applies SASLprep to PLAIN passwords (Dovecot does not, so some
//! stored passwords would stop matching), and its synchronous validation
//! callback would run the password hashing inside the mechanism step. The
//! two mechanisms are a few dozen lines each here. For SCRAM see
//! [`crate::scram`].

use std::fmt;

use crate::scram::ScramHash;
use crate::scram::server::{ScramCredentials, ScramServer};

/// The longest client response accepted in one step, in bytes.
pub const MAX_RESPONSE: usize = 8 * 1024;

/// A SASL mechanism this server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: `authzid NUL authcid NUL passwd` in one response.
    Plain,
    /// Username and password, each answering a challenge.
    Login,
    /// RFC 5802; needs a `{SCRAM-SHA-1}` or `{PLAIN}` password.
    ScramSha1,
    /// RFC 7677; needs a `{SCRAM-SHA-256}` or `{PLAIN}` password.
    ScramSha256,
    /// SCRAM-SHA-256 bound to the TLS connection (tls-exporter, RFC 9266);
    /// only where the connection has binding data.
    ScramSha256Plus,
}

impl Mechanism {
    /// Every mechanism offered, for capability lists (the -PLUS one only on
    /// connections with channel binding, see [`Mechanism::needs_channel_binding`]).
    pub const ALL: [Mechanism; 5] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha256Plus,
    ];

    /// The mechanism called `name` (case-insensitive), if offered.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
        }
    }

    /// The SCRAM hash, for the SCRAM mechanisms.
    pub fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Mechanism::Plain | Mechanism::Login => None,
            Mechanism::ScramSha1 => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
        }
    }

    /// Whether the mechanism can only run on a connection with channel
    /// binding data (and is offered only there).
    pub fn needs_channel_binding(self) -> bool {
        self == Mechanism::ScramSha256Plus
    }
}

/// The channel binding a connection offers to SCRAM-*-PLUS.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ChannelBinding {
    /// No TLS, so nothing to bind to.
    #[default]
    None,
    /// RFC 9266: the TLS exporter output for the label
    /// `EXPORTER-Channel-Binding` (32 bytes, no context).
    TlsExporter(Vec<u8>),
}

impl fmt::Debug for ChannelBinding {
    // The exporter output is a secret of the connection.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelBinding::None => f.write_str("None"),
            ChannelBinding::TlsExporter(_) => f.write_str("TlsExporter(..)"),
        }
    }
}

/// What a client claims at the end of an exchange, to be verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user to act as when that is not the authentication identity:
    /// PLAIN's authorization identity (RFC 4616), or the user part of a
    /// master login `user*master`. Only a master user may name one; the
    /// passdb refuses everyone else as for a wrong password.
    pub authzid: Option<String>,
    /// The authentication identity (the user name typed), whose password
    /// this is.
    pub authcid: String,
    /// The password, as sent (not normalised).
    pub password: Vec<u8>,
}

impl fmt::Debug for Credentials {
    // Never print the password, not even in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why an exchange failed.
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
    /// SCRAM channel binding is missing, of the wrong kind, or does not
    /// match the connection.
    #[error("channel binding refused: {0}")]
    ChannelBinding(&'static str),
    /// The SCRAM proof does not match the account's keys (wrong password).
    #[error("wrong password")]
    WrongProof,
    /// The SCRAM exchange ran on made-up keys and could not succeed (no
    /// such user, no password, an unreadable record).
    #[error("{0}")]
    NoCredentials(&'static str),
    /// A step came after the exchange had already ended, or out of order.
    #[error("exchange already finished")]
    Finished,
}

/// The outcome of one step.
#[derive(Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge and wait for the next response.
    Challenge(Vec<u8>),
    /// The exchange is complete: verify these credentials (PLAIN, LOGIN).
    Verify(Credentials),
    /// SCRAM needs this user's keys: look them up and pass them to
    /// [`Exchange::scram_credentials`], which gives the next step.
    NeedScramCredentials {
        /// The user name from the client-first message.
        user: String,
        /// The identity the client asks to act as, if other than `user`
        /// (allowed to master users only, as PLAIN's).
        authzid: Option<String>,
        /// The hash whose keys are needed.
        hash: ScramHash,
    },
    /// SCRAM verified the client's proof: the user is authenticated, and
    /// `final_data` (server-final) goes to the client with the success.
    Authenticated {
        /// The user name (whose keys the proof was made with).
        user: String,
        /// The identity the session is to act as, if other than `user`.
        authzid: Option<String>,
        /// The SCRAM server-final message.
        final_data: Vec<u8>,
    },
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
    /// SCRAM sent an empty challenge and waits for client-first.
    ScramWaitingFirst,
    /// SCRAM under way.
    Scram(Box<ScramServer>),
    /// Over; further steps fail.
    Done,
}

/// One SASL exchange in progress, server side.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    binding: ChannelBinding,
    /// The user a SCRAM client-first message named, for the log.
    user: Option<String>,
    /// The identity that message asked to act as, if other than `user`.
    authzid: Option<String>,
    state: State,
}

impl Exchange {
    /// Starts an exchange of `mechanism` on a connection offering
    /// `binding`; feed the initial response (or `None` if the client sent
    /// none) to [`Exchange::step`] first.
    pub fn new(mechanism: Mechanism, binding: ChannelBinding) -> Exchange {
        Exchange {
            mechanism,
            binding,
            user: None,
            authzid: None,
            state: State::Start,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The user name a SCRAM client named, once it has (for the log of a
    /// failure that comes later).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The identity a SCRAM client asked to act as, if it named one other
    /// than [`Exchange::user`] (a master login).
    pub fn authzid(&self) -> Option<&str> {
        self.authzid.as_deref()
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
                        authzid: None,
                        authcid: user,
                        password: data.unwrap_or_default().to_vec(),
                    }),
                ),
                _ => (State::Done, SaslStep::Fail(SaslError::Finished)),
            },
            Mechanism::ScramSha1 | Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
                self.scram_step(state, response)
            }
        };
        self.state = next;
        if let SaslStep::NeedScramCredentials { user, authzid, .. } = &outcome {
            self.user = Some(user.clone());
            self.authzid = authzid.clone();
        }
        outcome
    }

    /// SCRAM is client-first: without an initial response the server sends
    /// an empty challenge, and the answer is the client-first message.
    fn scram_step(&self, state: State, response: Option<&[u8]>) -> (State, SaslStep) {
        match (state, response) {
            (State::Start, None) => (State::ScramWaitingFirst, SaslStep::Challenge(Vec::new())),
            (State::Start | State::ScramWaitingFirst, data) => {
                let Some(hash) = self.mechanism.scram_hash() else {
                    return (State::Done, SaslStep::Fail(SaslError::Finished));
                };
                let binding = match &self.binding {
                    ChannelBinding::None => None,
                    ChannelBinding::TlsExporter(data) => Some(data.clone()),
                };
                let plus = self.mechanism.needs_channel_binding();
                let mut server = Box::new(ScramServer::new(hash, plus, binding));
                match server.client_first(data.unwrap_or_default()) {
                    Ok(names) => (
                        State::Scram(server),
                        SaslStep::NeedScramCredentials {
                            user: names.username,
                            authzid: names.authzid,
                            hash,
                        },
                    ),
                    Err(error) => (State::Done, SaslStep::Fail(error)),
                }
            }
            (State::Scram(mut server), data) => {
                match server.client_final(data.unwrap_or_default()) {
                    Ok(verified) => (
                        State::Done,
                        SaslStep::Authenticated {
                            user: verified.names.username,
                            authzid: verified.names.authzid,
                            final_data: verified.server_final,
                        },
                    ),
                    Err(error) => (State::Done, SaslStep::Fail(error)),
                }
            }
            _ => (State::Done, SaslStep::Fail(SaslError::Finished)),
        }
    }

    /// Answers [`SaslStep::NeedScramCredentials`] with what the passdb has
    /// for the user: the next step (the server-first challenge).
    pub(crate) fn scram_credentials(&mut self, credentials: ScramCredentials) -> SaslStep {
        let State::Scram(mut server) = std::mem::replace(&mut self.state, State::Done) else {
            return SaslStep::Fail(SaslError::Finished);
        };
        match server.server_first(credentials) {
            Ok(challenge) => {
                self.state = State::Scram(server);
                SaslStep::Challenge(challenge)
            }
            Err(error) => SaslStep::Fail(error),
        }
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

/// `[authzid] NUL authcid NUL passwd`. An authzid other than authcid is
/// passed on (proxy authorization, RFC 4616 §2): the passdb allows it
/// only when authcid is a master user.
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
    let authzid = (!authzid.is_empty() && authzid != authcid).then(|| authzid.to_owned());
    SaslStep::Verify(Credentials {
        authzid,
        authcid: authcid.to_owned(),
        password: password.to_vec(),
    })
}

#[cfg(test)]
#[path = "tests/sasl.rs"]
mod tests;

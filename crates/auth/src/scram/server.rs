//! The server side of one SCRAM exchange (RFC 5802 §5, §7), as a state
//! machine that never sees the passdb: the client-first message yields the
//! user name (and the authorization identity, if the client named one),
//! the caller answers with that account's keys (or a made-up salt when
//! there are none to use), and the client-final message is checked
//! against them. Whether the user may act as the authorization identity
//! (a master user) is the caller's decision, as it is for PLAIN.
//!
//! Channel binding (RFC 5802 §6, RFC 9266): a -PLUS exchange must bind to
//! the connection's `tls-exporter` data, and a client that says `y` ("I
//! could bind, but the server offers no -PLUS") is refused when this
//! connection did offer SCRAM-SHA-256-PLUS, since then someone removed it
//! from the list the client saw.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::message::{CbindFlag, ClientFirst, parse_client_final, parse_client_first};
use super::{ScramHash, ScramKeys};
use crate::sasl::SaslError;

/// The only channel binding type offered (RFC 9266).
pub(crate) const TLS_EXPORTER: &str = "tls-exporter";

/// Random bytes in a server nonce (base64: 24 characters).
const SERVER_NONCE_BYTES: usize = 18;

/// What the passdb gave for the account named in client-first.
#[derive(Debug, Clone)]
pub(crate) enum ScramCredentials {
    /// The account's keys: the exchange can succeed.
    Keys(ScramKeys),
    /// Nothing usable (no such user, no password, a record that cannot be
    /// read): the exchange goes on with this salt and iteration count, as
    /// if the account existed, and fails at the end for `reason` (logged,
    /// never shown).
    Fake {
        salt_b64: String,
        iterations: u32,
        reason: &'static str,
    },
}

/// Who a client-first message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScramNames {
    /// The user whose keys the proof is made with (authentication
    /// identity).
    pub(crate) username: String,
    /// The user to act as, when the client named one other than
    /// `username` (authorization identity, `a=` of the GS2 header).
    pub(crate) authzid: Option<String>,
}

impl ScramNames {
    fn of(first: &ClientFirst) -> ScramNames {
        ScramNames {
            username: first.username.clone(),
            authzid: first
                .authzid
                .clone()
                .filter(|a| !a.is_empty() && *a != first.username),
        }
    }
}

/// A verified exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The authenticated user name and the identity it acts as.
    pub(crate) names: ScramNames,
    /// server-final-message (`v=…`), for the client to check the server.
    pub(crate) server_final: Vec<u8>,
}

#[derive(Debug)]
enum State {
    WaitingClientFirst,
    WaitingCredentials(ClientFirst),
    WaitingClientFinal {
        first: ClientFirst,
        server_first: String,
        nonce: String,
        credentials: ScramCredentials,
    },
    Done,
}

/// One SCRAM exchange, server side.
#[derive(Debug)]
pub(crate) struct ScramServer {
    hash: ScramHash,
    plus: bool,
    /// The connection's tls-exporter data, when it has one.
    binding: Option<Vec<u8>>,
    state: State,
}

impl ScramServer {
    /// An exchange of SCRAM-`hash` (`plus`: the -PLUS variant) on a
    /// connection whose tls-exporter data is `binding` (`None`: no TLS).
    pub(crate) fn new(hash: ScramHash, plus: bool, binding: Option<Vec<u8>>) -> Self {
        ScramServer {
            hash,
            plus,
            binding,
            state: State::WaitingClientFirst,
        }
    }

    fn mechanism(&self) -> &'static str {
        match (self.hash, self.plus) {
            (ScramHash::Sha1, false) => "SCRAM-SHA-1",
            (ScramHash::Sha1, true) => "SCRAM-SHA-1-PLUS",
            (ScramHash::Sha256, false) => "SCRAM-SHA-256",
            (ScramHash::Sha256, true) => "SCRAM-SHA-256-PLUS",
        }
    }

    fn malformed(&self, detail: &'static str) -> SaslError {
        SaslError::Malformed {
            mechanism: self.mechanism(),
            detail,
        }
    }

    /// Takes the client-first message; gives the user name whose
    /// credentials [`ScramServer::server_first`] needs, and the identity
    /// the client asks to act as.
    pub(crate) fn client_first(&mut self, data: &[u8]) -> Result<ScramNames, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        if !matches!(state, State::WaitingClientFirst) {
            return Err(SaslError::Finished);
        }
        let first = parse_client_first(data).map_err(|detail| self.malformed(detail))?;
        match (&first.cbind, self.plus) {
            (CbindFlag::Used(name), true) => {
                if name != TLS_EXPORTER {
                    return Err(SaslError::ChannelBinding(
                        "the client asked for a channel binding type other than tls-exporter",
                    ));
                }
                if self.binding.is_none() {
                    return Err(SaslError::ChannelBinding(
                        "this connection has no tls-exporter data",
                    ));
                }
            }
            (_, true) => {
                return Err(SaslError::ChannelBinding(
                    "a -PLUS mechanism without channel binding (flag n or y)",
                ));
            }
            (CbindFlag::Used(_), false) => {
                return Err(SaslError::ChannelBinding(
                    "channel binding (flag p=) on a mechanism without -PLUS",
                ));
            }
            (CbindFlag::ClientOnly, false) => {
                // Only SHA-256 has a -PLUS variant here; it was offered
                // exactly when the connection has binding data.
                if self.hash == ScramHash::Sha256 && self.binding.is_some() {
                    return Err(SaslError::ChannelBinding(
                        "the client did not see SCRAM-SHA-256-PLUS, which was offered \
                         (flag y: a downgrade)",
                    ));
                }
            }
            (CbindFlag::NotSupported, false) => {}
        }
        let names = ScramNames::of(&first);
        self.state = State::WaitingCredentials(first);
        Ok(names)
    }

    /// Answers client-first with `credentials`: the server-first message.
    pub(crate) fn server_first(
        &mut self,
        credentials: ScramCredentials,
    ) -> Result<Vec<u8>, SaslError> {
        let random: [u8; SERVER_NONCE_BYTES] = rand::random();
        self.server_first_with_nonce(credentials, &STANDARD.encode(random))
    }

    /// [`ScramServer::server_first`] with a chosen server nonce (tests use
    /// the RFCs' examples).
    pub(crate) fn server_first_with_nonce(
        &mut self,
        credentials: ScramCredentials,
        server_nonce: &str,
    ) -> Result<Vec<u8>, SaslError> {
        let State::WaitingCredentials(first) = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(SaslError::Finished);
        };
        let (salt_b64, iterations) = match &credentials {
            ScramCredentials::Keys(keys) => (keys.salt_b64.as_str(), keys.iterations),
            ScramCredentials::Fake {
                salt_b64,
                iterations,
                ..
            } => (salt_b64.as_str(), *iterations),
        };
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!("r={nonce},s={salt_b64},i={iterations}");
        let message = server_first.clone().into_bytes();
        self.state = State::WaitingClientFinal {
            first,
            server_first,
            nonce,
            credentials,
        };
        Ok(message)
    }

    /// Takes the client-final message and checks the channel binding, the
    /// nonce and the proof.
    pub(crate) fn client_final(&mut self, data: &[u8]) -> Result<Verified, SaslError> {
        let State::WaitingClientFinal {
            first,
            server_first,
            nonce,
            credentials,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(SaslError::Finished);
        };
        let last = parse_client_final(data).map_err(|detail| self.malformed(detail))?;
        let mut expected_binding = first.gs2_header.as_bytes().to_vec();
        if self.plus {
            expected_binding.extend_from_slice(self.binding.as_deref().unwrap_or_default());
        }
        if last.channel_binding != expected_binding {
            return Err(SaslError::ChannelBinding(
                "the client's channel binding does not match this connection",
            ));
        }
        if last.nonce != nonce {
            return Err(self.malformed("nonce differs from the one agreed"));
        }
        let keys = match credentials {
            ScramCredentials::Keys(keys) => keys,
            ScramCredentials::Fake { reason, .. } => return Err(SaslError::NoCredentials(reason)),
        };
        if last.proof.len() != self.hash.output_len() {
            return Err(self.malformed("proof has the wrong length"));
        }
        let auth_message = [
            first.bare.as_bytes(),
            b",",
            server_first.as_bytes(),
            b",",
            last.without_proof.as_bytes(),
        ];
        let client_signature = self.hash.hmac(&keys.stored_key, &auth_message);
        let client_key: Vec<u8> = last
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let stored_key = self.hash.digest(&client_key);
        if !bool::from(stored_key.ct_eq(&keys.stored_key)) {
            return Err(SaslError::WrongProof);
        }
        let server_signature = self.hash.hmac(&keys.server_key, &auth_message);
        Ok(Verified {
            names: ScramNames::of(&first),
            server_final: format!("v={}", STANDARD.encode(server_signature)).into_bytes(),
        })
    }
}

#[cfg(test)]
#[path = "../tests/scram_server.rs"]
mod tests;

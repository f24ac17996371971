//! The SASL relay: a protocol process hands each step of a client's SASL
//! exchange to auth and gets back a challenge, a failure, or a login with
//! its ticket. The protocol only moves the bytes (IMAP `+ base64`, POP3
//! `+ base64`); what a mechanism means lives in auth.

use std::sync::Arc;

use mailkeep_storage_rpc::auth::{StepRequest, StepResponse, step_response};

use crate::auth_link::{AuthLink, CallError, Purpose, ReplyTo};

/// Mechanisms that send the password itself (only over TLS, or where the
/// configuration allows plaintext logins).
pub const PLAINTEXT_MECHANISMS: &[&str] = &["PLAIN", "LOGIN"];

/// Mechanisms that never reveal the password, offered on every connection.
pub const HASHED_MECHANISMS: &[&str] = &["SCRAM-SHA-256", "SCRAM-SHA-1"];

/// The channel-bound mechanism, offered on TLS connections only: auth
/// refuses a client that could bind but says it saw no -PLUS offer, so
/// offering it elsewhere would lock honest clients out.
pub const CHANNEL_BOUND_MECHANISM: &str = "SCRAM-SHA-256-PLUS";

/// The SASL mechanisms to offer a client: the channel-bound one on TLS,
/// the hashed ones always, the plaintext ones when `plaintext` allows.
pub fn mechanisms(tls: bool, plaintext: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if tls {
        out.push(CHANNEL_BOUND_MECHANISM);
    }
    out.extend_from_slice(HASHED_MECHANISMS);
    if plaintext {
        out.extend_from_slice(PLAINTEXT_MECHANISMS);
    }
    out
}

/// What auth needs to know about the client besides its SASL data.
#[derive(Debug, Clone, Default)]
pub struct ClientFacts {
    /// The client's address, for the failed-login penalty and the log.
    pub remote_ip: String,
    /// The protocol: "imap", "pop3", "lmtp", or a program's name.
    pub protocol: String,
    /// The channel binding the connection offers to SCRAM-*-PLUS.
    pub channel_binding: Option<ChannelBinding>,
}

/// A channel binding (RFC 5056): its type and data.
#[derive(Debug, Clone)]
pub struct ChannelBinding {
    /// "tls-exporter" (RFC 9266).
    pub kind: String,
    /// The binding data.
    pub data: Vec<u8>,
}

/// A successful login.
#[derive(Clone)]
pub struct LoggedIn {
    /// The canonical user name (also the owner of their mail).
    pub user: String,
    /// The session ticket, opaque; wiped from memory when dropped. Empty
    /// on an auth-socket connection, which gets none.
    pub ticket: zeroize::Zeroizing<String>,
    /// When the ticket expires (Unix seconds).
    pub expires_unix: i64,
    /// Additional data with success (SCRAM's server-final), may be empty.
    pub final_data: Vec<u8>,
    /// Auth's request key (an X25519 public key): a renewal of the
    /// session's ticket seals the old ticket to it, so that no ticket is
    /// ever written in clear to the auth connection. Public: kept with the
    /// session, nothing to wipe.
    pub request_key: Vec<u8>,
}

impl std::fmt::Debug for LoggedIn {
    /// Never shows the ticket.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedIn")
            .field("user", &self.user)
            .field("expires_unix", &self.expires_unix)
            .finish_non_exhaustive()
    }
}

/// Why a login did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Wrong credentials (or an unknown user; auth does not say which).
    Rejected,
    /// Auth or its user database is unreachable: try again later.
    Temporary,
    /// The credentials are right but the account is not served here; the
    /// text says why and may be shown.
    ContactAdmin(String),
    /// This mechanism cannot be used with the account; another may work.
    MechanismUnavailable,
    /// The client sent something that is not a valid step.
    Malformed,
}

/// One step's result.
#[derive(Debug, Clone)]
pub enum SaslStep {
    /// Send this challenge and step again with the client's answer.
    Challenge(Vec<u8>),
    /// Logged in.
    Success(LoggedIn),
    /// The exchange is over without a login.
    Failure(AuthFailure),
}

/// One client's SASL exchange with auth.
pub struct SaslExchange {
    link: Arc<AuthLink>,
    id: u64,
    mechanism: String,
    facts: ClientFacts,
    started: bool,
    /// Whether a success must bring a ticket (every protocol process but
    /// the auth socket, which gets none).
    needs_ticket: bool,
}

impl SaslExchange {
    /// A new exchange of `mechanism` (upper-cased by the caller) for a
    /// client; nothing is sent before the first [`SaslExchange::step`].
    pub fn new(link: Arc<AuthLink>, mechanism: &str, facts: ClientFacts) -> SaslExchange {
        let id = link.next_exchange();
        SaslExchange {
            link,
            id,
            mechanism: mechanism.to_owned(),
            facts,
            started: false,
            needs_ticket: true,
        }
    }

    /// The same exchange for a caller that gets no ticket on success (the
    /// auth socket, which only answers an MTA whether a login is good).
    pub fn without_ticket(mut self) -> SaslExchange {
        self.needs_ticket = false;
        self
    }

    /// Sends the client's data (`None`: the client sent none, e.g. no
    /// initial response) and says what comes next. Each step says where
    /// its ticket is to be sealed (a chain index or a reply key of its
    /// own): whichever step succeeds, its ticket comes back sealed so.
    pub async fn step(&mut self, data: Option<Vec<u8>>) -> SaslStep {
        let first = !self.started;
        self.started = true;
        let binding = self.facts.channel_binding.as_ref().filter(|_| first);
        let request = StepRequest {
            exchange_id: self.id,
            mechanism: if first {
                self.mechanism.clone()
            } else {
                String::new()
            },
            has_data: data.is_some(),
            data: data.unwrap_or_default(),
            remote_ip: self.facts.remote_ip.clone(),
            protocol: self.facts.protocol.clone(),
            abort: false,
            channel_binding_type: binding.map(|b| b.kind.clone()).unwrap_or_default(),
            channel_binding: binding.map(|b| b.data.clone()).unwrap_or_default(),
            ..StepRequest::default()
        };
        match send(&self.link, request, first, self.needs_ticket).await {
            Some((response, reply)) => outcome(response, reply),
            None => SaslStep::Failure(AuthFailure::Temporary),
        }
    }

    /// Tells auth to forget the exchange (the client cancelled it, or the
    /// protocol gave up on it).
    pub async fn abort(self) {
        if !self.started {
            return;
        }
        let request = StepRequest {
            exchange_id: self.id,
            abort: true,
            remote_ip: self.facts.remote_ip.clone(),
            protocol: self.facts.protocol.clone(),
            ..StepRequest::default()
        };
        let _ = send(&self.link, request, false, false).await;
    }
}

/// A login with a user name and password (IMAP LOGIN, POP3 USER/PASS): a
/// PLAIN exchange of one step.
pub async fn login_with_password(
    link: Arc<AuthLink>,
    user: &str,
    password: &[u8],
    facts: ClientFacts,
) -> SaslStep {
    if user.contains('\0') || password.contains(&0) {
        return SaslStep::Failure(AuthFailure::Rejected);
    }
    let mut data = Vec::with_capacity(user.len() + password.len() + 2);
    data.push(0);
    data.extend_from_slice(user.as_bytes());
    data.push(0);
    data.extend_from_slice(password);
    let mut exchange = SaslExchange::new(link, "PLAIN", facts);
    match exchange.step(Some(data)).await {
        SaslStep::Challenge(_) => {
            // PLAIN with data never challenges; end the exchange.
            exchange.abort().await;
            SaslStep::Failure(AuthFailure::Rejected)
        }
        other => other,
    }
}

/// One step to auth, with where its ticket is to be sealed when
/// `sealed` (on the connection it goes over: a retry on a new one gets a
/// new place). The first step of an exchange is retried once on a new auth
/// connection when the old one is UNAVAILABLE; later steps are not (the
/// exchange lived in the lost connection's process). `None`: auth could
/// not be reached.
async fn send(
    link: &AuthLink,
    request: StepRequest,
    first: bool,
    sealed: bool,
) -> Option<(StepResponse, Option<ReplyTo>)> {
    let sent = link
        .call(sealed, first, |mut client, seal| {
            let mut request = request.clone();
            if sealed {
                request.reply_key = seal.reply_key;
                request.reply_index = seal.reply_index;
            }
            async move { client.step(request).await }
        })
        .await;
    match sent {
        Ok((response, reply)) => Some((response.into_inner(), reply)),
        Err(CallError::NoConnection(e)) => {
            tracing::warn!(error = %e, "no auth connection");
            None
        }
        Err(CallError::Failed(status)) => {
            // The next exchange makes a new connection if this one is gone.
            tracing::warn!(code = ?status.code(), message = status.message(), "auth step failed");
            None
        }
    }
}

/// What a step response means; a success's ticket is opened with the
/// step's `reply`. A step that asked for no ticket (the auth socket) has
/// no `reply`, and gets none; one that did, a success without one is no
/// login: the session could reach no mail, and an auth that answers so is
/// not ours (an older one would send the ticket in clear).
fn outcome(response: StepResponse, reply: Option<ReplyTo>) -> SaslStep {
    match response.outcome {
        Some(step_response::Outcome::Challenge(challenge)) => SaslStep::Challenge(challenge),
        Some(step_response::Outcome::Success(success)) => {
            let ticket = match reply {
                None => zeroize::Zeroizing::new(String::new()),
                Some(_) if success.sealed_ticket.is_empty() => {
                    tracing::warn!(user = ?success.user, "auth's login success brought no sealed ticket");
                    return SaslStep::Failure(AuthFailure::Temporary);
                }
                Some(reply) => {
                    match reply.open(&success.sealed_ticket, Purpose::Login, &success.user) {
                        Ok(ticket) => ticket,
                        Err(error) => {
                            tracing::warn!(%error, user = ?success.user, "auth's sealed ticket does not open");
                            return SaslStep::Failure(AuthFailure::Temporary);
                        }
                    }
                }
            };
            SaslStep::Success(LoggedIn {
                user: success.user,
                ticket,
                expires_unix: success.expires_unix,
                final_data: success.final_data,
                request_key: success.request_key,
            })
        }
        Some(step_response::Outcome::Failure(failure)) => SaslStep::Failure(if failure.temporary {
            AuthFailure::Temporary
        } else if failure.contact_admin {
            AuthFailure::ContactAdmin(failure.reason)
        } else if failure.mechanism_unavailable {
            AuthFailure::MechanismUnavailable
        } else {
            AuthFailure::Rejected
        }),
        None => {
            tracing::warn!("auth step without an outcome");
            SaslStep::Failure(AuthFailure::Rejected)
        }
    }
}

#[cfg(test)]
#[path = "tests/sasl.rs"]
mod tests;

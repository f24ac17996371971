//! LOGIN and AUTHENTICATE: SASL exchanges relayed to the auth process, and
//! ticket renewal.

use mailkeep_imap_proto::{Parser, SaslResponse, StatusKind, base64_encode, continuation};
use mailkeep_storage_rpc::auth::{RenewRequest, StepRequest, StepResponse, step_response};
use tonic::Code;

use crate::backend::Backend;
use crate::errors::{ImapError, Reply};
use crate::session::{Login, Session};

/// Mechanisms relayed to auth (only PLAIN and LOGIN are advertised).
const MECHANISMS: &[&str] = &["PLAIN", "LOGIN", "SCRAM-SHA-256"];

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The result of one auth step call.
enum StepResult {
    /// Auth answered.
    Answer(StepResponse),
    /// Auth could not be reached.
    Unavailable,
}

impl<B: Backend> Session<B> {
    /// One SASL step to auth. The first step of an exchange is retried once
    /// on a new auth connection when the old one is UNAVAILABLE; later steps
    /// are not (the exchange lived in the lost connection's process).
    async fn step(&self, request: StepRequest, first: bool) -> StepResult {
        for fresh in [false, true] {
            let mut client = match self.shared.auth_client(fresh).await {
                Ok(client) => client,
                Err(message) => {
                    tracing::warn!(%message, "no auth connection");
                    return StepResult::Unavailable;
                }
            };
            match client.step(request.clone()).await {
                Ok(response) => return StepResult::Answer(response.into_inner()),
                Err(status) if status.code() == Code::Unavailable && first && !fresh => {
                    tracing::info!(message = status.message(), "auth unavailable, reconnecting");
                }
                Err(status) => {
                    tracing::warn!(code = ?status.code(), message = status.message(), "auth step failed");
                    if status.code() == Code::Unavailable {
                        // Make the next exchange use a new connection.
                        let _ = self.shared.auth_client(true).await;
                    }
                    return StepResult::Unavailable;
                }
            }
        }
        StepResult::Unavailable
    }

    /// A step request of a new or ongoing exchange.
    fn step_request(
        &self,
        exchange_id: u64,
        mechanism: &str,
        data: Option<Vec<u8>>,
    ) -> StepRequest {
        StepRequest {
            exchange_id,
            mechanism: mechanism.to_string(),
            has_data: data.is_some(),
            data: data.unwrap_or_default(),
            remote_ip: self.peer.clone(),
            protocol: "imap".into(),
            abort: false,
            ..StepRequest::default()
        }
    }

    /// LOGIN user password: a PLAIN exchange of one step.
    pub async fn login_command(
        &mut self,
        username: &str,
        password: &[u8],
    ) -> Result<Reply, ImapError> {
        if username.contains('\0') || password.contains(&0) {
            return Ok(Reply::no_code(
                "AUTHENTICATIONFAILED",
                "Authentication failed.",
            ));
        }
        let mut data = Vec::with_capacity(username.len() + password.len() + 2);
        data.push(0);
        data.extend_from_slice(username.as_bytes());
        data.push(0);
        data.extend_from_slice(password);
        let id = self.shared.next_exchange();
        let request = self.step_request(id, "PLAIN", Some(data));
        match self.step(request, true).await {
            StepResult::Unavailable => Ok(unavailable()),
            StepResult::Answer(response) => match response.outcome {
                Some(step_response::Outcome::Challenge(_)) => {
                    // PLAIN with data never challenges; end the exchange.
                    self.abort(id).await;
                    Ok(failed())
                }
                other => Ok(self.outcome(other)),
            },
        }
    }

    /// AUTHENTICATE mechanism [initial-response].
    pub async fn authenticate(
        &mut self,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<Reply, ImapError> {
        let mechanism = mechanism.to_ascii_uppercase();
        if !MECHANISMS.contains(&mechanism.as_str()) {
            return Ok(Reply::no("Unsupported authentication mechanism"));
        }
        let id = self.shared.next_exchange();
        let mut request = self.step_request(id, &mechanism, initial);
        let mut first = true;
        loop {
            let response = match self.step(request, first).await {
                StepResult::Unavailable => return Ok(unavailable()),
                StepResult::Answer(response) => response,
            };
            first = false;
            let challenge = match response.outcome {
                Some(step_response::Outcome::Challenge(challenge)) => challenge,
                Some(step_response::Outcome::Success(success))
                    if !success.final_data.is_empty() =>
                {
                    // Additional data with success: send it as a challenge
                    // and expect an empty answer (RFC 9051 §6.2.2).
                    match self.client_response(&success.final_data).await? {
                        Some(SaslResponse::Data(data)) if data.is_empty() => {}
                        Some(SaslResponse::Cancel) => {
                            return Ok(Reply::bad("Authentication cancelled"));
                        }
                        Some(SaslResponse::Data(_)) | None => {
                            return Ok(Reply::bad("Invalid SASL response"));
                        }
                    }
                    return Ok(self.outcome(Some(step_response::Outcome::Success(success))));
                }
                other => return Ok(self.outcome(other)),
            };
            match self.client_response(&challenge).await? {
                Some(SaslResponse::Data(data)) => {
                    request = self.step_request(id, "", Some(data));
                }
                Some(SaslResponse::Cancel) => {
                    self.abort(id).await;
                    return Ok(Reply::bad("Authentication cancelled"));
                }
                None => {
                    self.abort(id).await;
                    return Ok(Reply::bad("Invalid SASL response"));
                }
            }
        }
    }

    /// Sends a challenge and reads the client's one-line answer; `None` when
    /// it is not valid base64 or too long.
    async fn client_response(
        &mut self,
        challenge: &[u8],
    ) -> Result<Option<SaslResponse>, ImapError> {
        let mut out = Vec::new();
        if challenge.is_empty() {
            out.extend_from_slice(b"+ \r\n");
        } else {
            continuation(&mut out, &base64_encode(challenge));
        }
        self.send(&out).await?;
        let max = self.settings.limits.max_line;
        let line = match self.conn.read_line(max, self.deadline()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                self.untagged(StatusKind::Bye, None, "SASL response too long")
                    .await?;
                self.closing = true;
                return Ok(None);
            }
            Err(crate::conn::ReadError::Io(e)) => return Err(e.into()),
            Err(crate::conn::ReadError::Timeout) => {
                self.untagged(StatusKind::Bye, None, "Autologout; idle for too long")
                    .await?;
                self.closing = true;
                return Ok(None);
            }
            Err(crate::conn::ReadError::Eof) => {
                self.closing = true;
                return Ok(None);
            }
        };
        Ok(Parser::parse_sasl_response(&line).ok())
    }

    /// Tells auth to forget an exchange.
    async fn abort(&self, id: u64) {
        let mut request = self.step_request(id, "", None);
        request.abort = true;
        let _ = self.step(request, false).await;
    }

    /// The reply for a final step outcome; records the login on success.
    fn outcome(&mut self, outcome: Option<step_response::Outcome>) -> Reply {
        match outcome {
            Some(step_response::Outcome::Success(success)) => {
                tracing::info!(user = %success.user, peer = %self.peer, "logged in");
                let now = unix_now();
                self.login = Some(Login {
                    user: success.user,
                    ticket: success.ticket,
                    obtained_unix: now,
                    expires_unix: success.expires_unix,
                    retry_renew_unix: 0,
                });
                Reply::ok_code(
                    format!("CAPABILITY {}", self.capabilities().join(" ")),
                    "Logged in",
                )
            }
            Some(step_response::Outcome::Failure(failure)) if failure.temporary => {
                tracing::info!(peer = %self.peer, reason = %failure.reason, "temporary auth failure");
                unavailable()
            }
            Some(step_response::Outcome::Failure(failure)) if failure.contact_admin => {
                Reply::no_code("CONTACTADMIN", &failure.reason)
            }
            Some(step_response::Outcome::Failure(_)) => failed(),
            Some(step_response::Outcome::Challenge(_)) | None => {
                tracing::warn!("auth step without an outcome");
                failed()
            }
        }
    }

    /// Renews the ticket through auth when less than half its life is left.
    pub async fn renew_if_needed(&mut self) {
        let Some(login) = &self.login else {
            return;
        };
        let now = unix_now();
        let life = login.expires_unix - login.obtained_unix;
        if now < login.obtained_unix + life / 2 || now < login.retry_renew_unix {
            return;
        }
        let request = RenewRequest {
            ticket: login.ticket.clone(),
        };
        for fresh in [false, true] {
            let mut client = match self.shared.auth_client(fresh).await {
                Ok(client) => client,
                Err(message) => {
                    tracing::warn!(%message, "no auth connection for ticket renewal");
                    break;
                }
            };
            match client.renew(request.clone()).await {
                Ok(response) => {
                    let response = response.into_inner();
                    if let Some(login) = self.login.as_mut() {
                        login.ticket = response.ticket;
                        login.obtained_unix = now;
                        login.expires_unix = response.expires_unix;
                    }
                    return;
                }
                Err(status) if status.code() == Code::Unavailable && !fresh => {}
                Err(status) => {
                    tracing::warn!(code = ?status.code(), message = status.message(), "ticket renewal failed");
                    break;
                }
            }
        }
        if let Some(login) = self.login.as_mut() {
            login.retry_renew_unix = now + 60;
        }
    }
}

/// `NO [AUTHENTICATIONFAILED]`.
fn failed() -> Reply {
    Reply::no_code("AUTHENTICATIONFAILED", "Authentication failed.")
}

/// `NO [UNAVAILABLE]`.
fn unavailable() -> Reply {
    Reply {
        kind: StatusKind::No,
        code: Some("UNAVAILABLE".into()),
        text: "Authentication service unavailable".into(),
    }
}

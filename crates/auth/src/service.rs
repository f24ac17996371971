//! The Auth gRPC service: SASL steps in, challenges or tickets out, with
//! the failed-login penalty; and ticket renewal.

use std::sync::Arc;

use mailkeep_storage_rpc::auth::auth_server::Auth;
use mailkeep_storage_rpc::auth::step_response::Outcome;
use mailkeep_storage_rpc::auth::{
    Failure, RenewRequest, RenewResponse, StepRequest, StepResponse, Success,
};
use mailkeep_ticket::{Claims, Scope, TicketKey, now_unix, sign, verify};
use tonic::{Request, Response, Status};

use crate::AuthError;
use crate::exchanges::{ConnectionKey, Exchanges};
use crate::penalty::Penalty;
use crate::reload::WatchedPasswdFile;
use crate::sasl::{Credentials, Exchange, MAX_RESPONSE, Mechanism, SaslStep};
use crate::scheme::verify_password;
use crate::settings::AuthSettings;

/// The one reason shown for wrong credentials of any kind, so a client
/// cannot tell an unknown user from a wrong password.
const FAILED: &str = "Authentication failed.";

/// Shown when the passdb cannot be read: the client may retry later.
const UNAVAILABLE: &str = "Authentication temporarily unavailable.";

/// The Auth service, shared by every connection.
#[derive(Debug, Clone)]
pub(crate) struct AuthService {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    settings: AuthSettings,
    key: TicketKey,
    passwd: WatchedPasswdFile,
    penalty: Penalty,
    exchanges: Arc<Exchanges>,
}

/// What checking credentials against the passdb found.
enum Checked {
    /// The password matches; the canonical user name.
    Valid(String),
    /// Refused, with the reason for the log (never shown to the client).
    Refused(&'static str),
    /// Right credentials, but the account may not be used: the reason is
    /// shown to the client.
    NotServed(String),
}

/// Context of one step for the log lines.
struct Attempt<'a> {
    remote: &'a str,
    protocol: &'a str,
    mechanism: &'a str,
}

impl AuthService {
    /// The service with its settings, signing key and the exchange table
    /// shared with the connections.
    pub(crate) fn new(settings: AuthSettings, key: TicketKey, exchanges: Arc<Exchanges>) -> Self {
        AuthService {
            shared: Arc::new(Shared {
                passwd: WatchedPasswdFile::new(settings.passwd_file.clone()),
                penalty: Penalty::new(settings.failure_delay, settings.max_failure_delay),
                settings,
                key,
                exchanges,
            }),
        }
    }

    /// One SASL step on connection `conn`.
    async fn step_on(&self, conn: ConnectionKey, req: StepRequest) -> Outcome {
        let exchanges = &self.shared.exchanges;
        let remote = if req.remote_ip.is_empty() {
            "unknown"
        } else {
            req.remote_ip.as_str()
        };
        if req.abort {
            exchanges.take(conn, req.exchange_id);
            return failure("Authentication aborted.", false);
        }
        let mut exchange = if req.mechanism.is_empty() {
            match exchanges.take(conn, req.exchange_id) {
                Some(exchange) => exchange,
                None => return failure("No authentication exchange in progress.", false),
            }
        } else {
            // A new first step under an id in use restarts that exchange.
            exchanges.take(conn, req.exchange_id);
            match Mechanism::from_name(&req.mechanism) {
                Some(mechanism) => Exchange::new(mechanism),
                None => {
                    tracing::info!(remote, protocol = %req.protocol, mechanism = ?req.mechanism,
                        "login refused: unsupported SASL mechanism");
                    return failure("Unsupported mechanism", false);
                }
            }
        };
        let attempt = Attempt {
            remote,
            protocol: &req.protocol,
            mechanism: exchange.mechanism().name(),
        };
        if req.data.len() > MAX_RESPONSE {
            return self.refuse(&attempt, None, "SASL response too long").await;
        }
        let response = req.has_data.then_some(req.data.as_slice());
        match exchange.step(response) {
            SaslStep::Challenge(challenge) => {
                if exchanges.put(conn, req.exchange_id, exchange).is_err() {
                    tracing::warn!(remote, "too many SASL exchanges open; refusing a new one");
                    return failure(UNAVAILABLE, true);
                }
                Outcome::Challenge(challenge)
            }
            SaslStep::Fail(error) => {
                let reason = error.to_string();
                self.refuse(&attempt, None, &reason).await
            }
            SaslStep::Verify(credentials) => self.verify(&attempt, credentials).await,
        }
    }

    /// Checks credentials (off the async threads: hashing is slow) and
    /// answers with a ticket or, after the penalty, a failure.
    async fn verify(&self, attempt: &Attempt<'_>, credentials: Credentials) -> Outcome {
        let user = credentials.authcid.clone();
        let shared = Arc::clone(&self.shared);
        let checked = tokio::task::spawn_blocking(move || shared.check(&credentials)).await;
        match checked {
            Ok(Ok(Checked::Valid(canonical))) => self.succeed(attempt, canonical),
            Ok(Ok(Checked::Refused(reason))) => self.refuse(attempt, Some(&user), reason).await,
            Ok(Ok(Checked::NotServed(reason))) => {
                tracing::warn!(user = ?user, remote = attempt.remote, %reason, "login refused");
                Outcome::Failure(Failure {
                    reason,
                    temporary: false,
                    contact_admin: true,
                    ..Failure::default()
                })
            }
            Ok(Err(error)) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: passdb unavailable");
                failure(UNAVAILABLE, true)
            }
            Err(error) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: password check task failed");
                failure(UNAVAILABLE, true)
            }
        }
    }

    fn succeed(&self, attempt: &Attempt<'_>, user: String) -> Outcome {
        let shared = &self.shared;
        shared.penalty.reset(attempt.remote);
        let (ticket, expires_unix) = shared.issue(&user);
        tracing::info!(user = ?user, remote = attempt.remote, protocol = attempt.protocol,
            mechanism = attempt.mechanism, "login");
        Outcome::Success(Success {
            user,
            ticket,
            expires_unix,
            final_data: Vec::new(),
        })
    }

    /// Counts a failure against the remote address, waits the penalty
    /// (without blocking other requests) and answers with the failure.
    async fn refuse(&self, attempt: &Attempt<'_>, user: Option<&str>, reason: &str) -> Outcome {
        let delay = self.shared.penalty.record_failure(attempt.remote);
        tracing::info!(user = ?user, remote = attempt.remote, protocol = attempt.protocol,
            mechanism = attempt.mechanism, reason, delay_ms = delay.as_millis() as u64,
            "login failed");
        tokio::time::sleep(delay).await;
        failure(FAILED, false)
    }
}

impl Shared {
    /// Looks the user up and checks the password. Blocking (file I/O and
    /// deliberately slow hashes).
    fn check(&self, credentials: &Credentials) -> Result<Checked, AuthError> {
        let Some(entry) = self.passwd.lookup(&credentials.authcid)? else {
            return Ok(Checked::Refused("unknown user"));
        };
        if entry.password.is_empty() {
            return Ok(Checked::Refused("user has no password"));
        }
        match verify_password(&entry.password, &credentials.password) {
            Ok(true) => {
                let floor = self.settings.first_valid_uid;
                match entry.uid {
                    Some(uid) if floor > 0 && (uid == 0 || uid < floor) => {
                        Ok(Checked::NotServed(format!(
                            "This account's mail cannot be served: its uid {uid} is below \
                             first_valid_uid {floor}."
                        )))
                    }
                    _ => Ok(Checked::Valid(entry.name)),
                }
            }
            Ok(false) => Ok(Checked::Refused("wrong password")),
            Err(error) => {
                // Fails closed; the administrator must fix the stored value.
                tracing::warn!(user = ?entry.name, %error, path = %self.passwd.path().display(),
                    "stored password cannot be checked");
                Ok(Checked::Refused("stored password cannot be checked"))
            }
        }
    }

    /// Signs a session ticket for `user`: the ticket and its expiry.
    fn issue(&self, user: &str) -> (String, i64) {
        let claims = Claims::new(
            user,
            Scope::Session,
            now_unix(),
            self.settings.ticket_lifetime_secs,
            &self.settings.issuer,
        );
        (sign(&self.key, &claims), claims.expires_unix)
    }
}

fn failure(reason: &str, temporary: bool) -> Outcome {
    Outcome::Failure(Failure {
        reason: reason.to_owned(),
        temporary,
        contact_admin: false,
        ..Failure::default()
    })
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn step(&self, request: Request<StepRequest>) -> Result<Response<StepResponse>, Status> {
        // Every connection the server accepts is an AuthConnection, whose
        // key tonic puts here; without one, no exchange can be kept.
        let Some(conn) = request.extensions().get::<ConnectionKey>().copied() else {
            return Err(Status::internal("request without a connection key"));
        };
        let outcome = self.step_on(conn, request.into_inner()).await;
        Ok(Response::new(StepResponse {
            outcome: Some(outcome),
        }))
    }

    async fn renew(
        &self,
        request: Request<RenewRequest>,
    ) -> Result<Response<RenewResponse>, Status> {
        let shared = &self.shared;
        let old = request.into_inner().ticket;
        let claims = verify(&shared.key, &old, now_unix()).map_err(|error| {
            tracing::info!(%error, "ticket renewal refused");
            Status::unauthenticated(format!("ticket refused: {error}"))
        })?;
        // Renewing must never widen a ticket: only session tickets qualify.
        if claims.scope != Scope::Session {
            tracing::warn!(user = ?claims.user, scope = %claims.scope, "ticket renewal refused: not a session ticket");
            return Err(Status::permission_denied(
                "only session tickets are renewed",
            ));
        }
        let lookup_shared = Arc::clone(shared);
        let user = claims.user.clone();
        let entry = tokio::task::spawn_blocking(move || lookup_shared.passwd.lookup(&user))
            .await
            .map_err(|error| Status::internal(format!("user lookup task failed: {error}")))?
            .map_err(|error| {
                tracing::error!(%error, "ticket renewal not possible: passdb unavailable");
                Status::unavailable(UNAVAILABLE)
            })?;
        let Some(entry) = entry else {
            tracing::info!(user = ?claims.user, "ticket renewal refused: user no longer exists");
            return Err(Status::unauthenticated("user no longer exists"));
        };
        let (ticket, expires_unix) = shared.issue(&entry.name);
        tracing::info!(user = ?entry.name, "ticket renewed");
        Ok(Response::new(RenewResponse {
            ticket,
            expires_unix,
        }))
    }
}

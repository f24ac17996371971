//! The Auth gRPC service: SASL steps in, challenges or tickets out, with
//! the failed-login penalty; and ticket renewal.

use std::sync::Arc;

use mailkeep_storage_rpc::auth::auth_server::Auth;
use mailkeep_storage_rpc::auth::step_response::Outcome;
use mailkeep_storage_rpc::auth::{
    DeliverRequest, DeliverResponse, Failure, OpenChainRequest, OpenChainResponse, RenewRequest,
    RenewResponse, StepRequest, StepResponse, Success,
};
use mailkeep_ticket::{HostKey, now_unix};
use mailkeep_ticket_seal::{Purpose, SealError, SealTo};
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

use crate::chains::{ChainRefused, ReplyChains, ReplyTo};
use crate::conn::{ConnectionTag, PeerRole};
use crate::exchanges::{ConnectionKey, Exchanges};
use crate::hashing::{GateError, HashGate};
use crate::master::{MasterUsers, Who};
use crate::passdb::{Checked, Passdb, ScramLookup, Verifier};
use crate::penalty::Penalty;
use crate::reload::WatchedPasswdFile;
use crate::sasl::{ChannelBinding, Credentials, Exchange, MAX_RESPONSE, Mechanism, SaslStep};
use crate::scram::ScramHash;
use crate::scram::server::TLS_EXPORTER;
use crate::settings::AuthSettings;
use crate::tickets::{RenewRefused, TicketOffice};
use crate::userdb::{PasswdFile, UserEntry};
use crate::vouch::Vouching;

/// The one reason shown for wrong credentials of any kind, so a client
/// cannot tell an unknown user from a wrong password.
const FAILED: &str = "Authentication failed.";

/// Shown when the passdb cannot be read: the client may retry later.
const UNAVAILABLE: &str = "Authentication temporarily unavailable.";

/// Shown when too many logins are being checked at once.
const BUSY: &str = "Too many logins at once; try again shortly.";

/// The Auth service, shared by every connection.
#[derive(Debug, Clone)]
pub(crate) struct AuthService {
    shared: Arc<Shared>,
    /// Where login tickets are vouched for to the master; `None` in tests
    /// that run the service without a control socket.
    vouching: Option<Vouching>,
}

#[derive(Debug)]
struct Shared {
    tickets: TicketOffice,
    passdb: Passdb,
    penalty: Penalty,
    hashing: HashGate,
    exchanges: Arc<Exchanges>,
    chains: Arc<ReplyChains>,
}

/// Context of one step for the log lines.
struct Attempt<'a> {
    remote: &'a str,
    protocol: &'a str,
    mechanism: &'a str,
    /// Where a success's session ticket is sealed to; `None`: no ticket,
    /// for the auth-socket role, whose MTA only needs to know that the
    /// password was right.
    seal_to: Option<ReplyTo>,
}

impl AuthService {
    /// Records sessions the master reports ended: their tickets are
    /// renewed no more.
    pub(crate) fn revoke(&self, sessions: Vec<(mailkeep_ticket::SessionId, i64)>) {
        self.shared.tickets.revoke(sessions, now_unix());
    }

    /// The service with its settings, signing key and the exchange table
    /// shared with the connections.
    pub(crate) fn new(settings: AuthSettings, key: HostKey, exchanges: Arc<Exchanges>) -> Self {
        Self::with_verifier(
            settings,
            key,
            exchanges,
            Arc::new(crate::scheme::verify_password),
        )
    }

    /// [`AuthService::new`] checking passwords with `verify` (tests count
    /// and hold the hashes with it).
    pub(crate) fn with_verifier(
        settings: AuthSettings,
        key: HostKey,
        exchanges: Arc<Exchanges>,
        verify: Verifier,
    ) -> Self {
        let tickets = TicketOffice::new(
            key,
            &settings.issuer,
            settings.ticket_lifetime_secs,
            settings.session_max_secs,
        );
        AuthService {
            shared: Arc::new(Shared {
                passdb: Passdb::with_verifier(
                    WatchedPasswdFile::new(settings.passwd_file.clone()),
                    settings.first_valid_uid,
                    verify,
                )
                .with_local_domains(settings.local_domains)
                .with_master_users(MasterUsers::new(
                    settings.master_users,
                    settings.master_user_separator,
                )),
                penalty: Penalty::new(settings.failure_delay, settings.max_failure_delay),
                tickets,
                hashing: HashGate::new(settings.hashing),
                exchanges,
                chains: Arc::new(ReplyChains::default()),
            }),
            vouching: None,
        }
    }

    /// The service, vouching for the login tickets it signs through
    /// `vouching` (see `crate::vouch`).
    pub(crate) fn vouching_through(mut self, vouching: Vouching) -> Self {
        self.vouching = Some(vouching);
        self
    }

    /// The reply chains of the connections, which each connection forgets
    /// its own from when it closes.
    pub(crate) fn chains(&self) -> Arc<ReplyChains> {
        Arc::clone(&self.shared.chains)
    }

    /// Where the ticket of a request on `conn` goes: under the message key
    /// of its `index` in the connection's chain, or else sealed to its
    /// `key`. A request with neither, or whose index gives no key, is
    /// refused (INVALID_ARGUMENT) before anything else is done.
    fn reply_to(
        &self,
        conn: Option<ConnectionKey>,
        key: &[u8],
        index: u64,
        request: &str,
    ) -> Result<ReplyTo, Status> {
        if index == 0 {
            return reply_key(key, request).map(ReplyTo::Key);
        }
        let Some(conn) = conn else {
            return Err(Status::internal("request without a connection key"));
        };
        self.shared
            .chains
            .key_for(conn, index)
            .map(ReplyTo::Chained)
            .map_err(|error| {
                tracing::warn!(request, index, %error, "request refused: no key for its reply index");
                Status::invalid_argument(error.to_string())
            })
    }

    /// One SASL step on connection `conn`. Every step but an abort must
    /// carry the key a success's ticket is sealed to, or its index in the
    /// connection's reply chain (INVALID_ARGUMENT otherwise, before
    /// anything is checked), except on the auth-socket role's
    /// connections, which get no ticket.
    async fn step_on(
        &self,
        conn: ConnectionKey,
        role: PeerRole,
        req: StepRequest,
    ) -> Result<Outcome, Status> {
        let exchanges = &self.shared.exchanges;
        let remote = if req.remote_ip.is_empty() {
            "unknown"
        } else {
            req.remote_ip.as_str()
        };
        if req.abort {
            exchanges.take(conn, req.exchange_id);
            return Ok(failure("Authentication aborted.", false));
        }
        let seal_to = if role == PeerRole::AuthSocket {
            None
        } else {
            Some(self.reply_to(Some(conn), &req.reply_key, req.reply_index, "Step")?)
        };
        Ok(self.step_with(conn, seal_to, remote, &req).await)
    }

    /// [`AuthService::step_on`] once the reply key is known.
    async fn step_with(
        &self,
        conn: ConnectionKey,
        seal_to: Option<ReplyTo>,
        remote: &str,
        req: &StepRequest,
    ) -> Outcome {
        let exchanges = &self.shared.exchanges;
        let mut exchange = if req.mechanism.is_empty() {
            match exchanges.take(conn, req.exchange_id) {
                Some(exchange) => exchange,
                None => return failure("No authentication exchange in progress.", false),
            }
        } else {
            // A new first step under an id in use restarts that exchange.
            exchanges.take(conn, req.exchange_id);
            let binding = channel_binding(req, remote);
            match Mechanism::from_name(&req.mechanism) {
                Some(mechanism)
                    if mechanism.needs_channel_binding() && binding == ChannelBinding::None =>
                {
                    tracing::info!(remote, protocol = %req.protocol, mechanism = mechanism.name(),
                        "login refused: a -PLUS mechanism on a connection without channel binding");
                    return failure("Unsupported mechanism", false);
                }
                Some(mechanism) => Exchange::new(mechanism, binding),
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
            seal_to,
        };
        if req.data.len() > MAX_RESPONSE {
            return self.refuse(&attempt, None, "SASL response too long").await;
        }
        let response = req.has_data.then_some(req.data.as_slice());
        let step = exchange.step(response);
        self.answer(conn, req.exchange_id, &attempt, exchange, step)
            .await
    }

    /// Turns a step's outcome into the reply: keeps the exchange for the
    /// client's next response, or checks what it produced.
    async fn answer(
        &self,
        conn: ConnectionKey,
        id: u64,
        attempt: &Attempt<'_>,
        mut exchange: Exchange,
        step: SaslStep,
    ) -> Outcome {
        match step {
            SaslStep::Challenge(challenge) => self.keep(conn, id, attempt, exchange, challenge),
            SaslStep::Fail(error) => {
                let masters = self.shared.passdb.masters();
                match exchange.user().map(|u| masters.who(u, exchange.authzid())) {
                    Some(who) => {
                        let master = who.master.as_deref();
                        self.refuse_as(attempt, Some(&who.user), master, &error.to_string())
                            .await
                    }
                    None => self.refuse(attempt, None, &error.to_string()).await,
                }
            }
            SaslStep::Verify(credentials) => self.verify(attempt, credentials).await,
            SaslStep::NeedScramCredentials {
                user,
                authzid,
                hash,
            } => {
                // A master login runs on the master's keys.
                let who = self.shared.passdb.masters().who(&user, authzid.as_deref());
                let (user, master) = (who.user.as_str(), who.master.as_deref());
                match self.scram_lookup(attempt, who.account(), hash).await {
                    Ok(ScramLookup::Credentials(credentials)) => {
                        match exchange.scram_credentials(credentials) {
                            SaslStep::Challenge(challenge) => {
                                self.keep(conn, id, attempt, exchange, challenge)
                            }
                            SaslStep::Fail(error) => {
                                self.refuse_as(attempt, Some(user), master, &error.to_string())
                                    .await
                            }
                            // Server-first is the only other answer there is.
                            _ => {
                                self.refuse_as(attempt, Some(user), master, "SCRAM state")
                                    .await
                            }
                        }
                    }
                    Ok(ScramLookup::Unavailable(reason)) => {
                        tracing::info!(user = ?user, remote = attempt.remote,
                            protocol = attempt.protocol, mechanism = attempt.mechanism, reason,
                            "login refused: mechanism unavailable for this account");
                        Outcome::Failure(Failure {
                            reason: format!(
                                "{} is not available for this account; another mechanism may work.",
                                attempt.mechanism
                            ),
                            mechanism_unavailable: true,
                            ..Failure::default()
                        })
                    }
                    Err(outcome) => outcome,
                }
            }
            SaslStep::Authenticated {
                user,
                authzid,
                final_data,
            } => {
                let who = self.shared.passdb.masters().who(&user, authzid.as_deref());
                let shared = Arc::clone(&self.shared);
                let asked = who.clone();
                let checked = tokio::task::spawn_blocking(move || {
                    shared.passdb.check_authenticated_as(&asked)
                })
                .await;
                self.conclude(attempt, &who, checked, final_data).await
            }
        }
    }

    /// Keeps the exchange for the client's answer to `challenge`.
    fn keep(
        &self,
        conn: ConnectionKey,
        id: u64,
        attempt: &Attempt<'_>,
        exchange: Exchange,
        challenge: Vec<u8>,
    ) -> Outcome {
        if self.shared.exchanges.put(conn, id, exchange).is_err() {
            tracing::warn!(
                remote = attempt.remote,
                "too many SASL exchanges open; refusing a new one"
            );
            return failure(UNAVAILABLE, true);
        }
        Outcome::Challenge(challenge)
    }

    /// The keys for a SCRAM exchange, looked up off the async threads
    /// (file I/O, PBKDF2 for `{PLAIN}` accounts); `Err` is the reply when
    /// the passdb cannot be read.
    async fn scram_lookup(
        &self,
        attempt: &Attempt<'_>,
        user: &str,
        hash: ScramHash,
    ) -> Result<ScramLookup, Outcome> {
        self.wait_penalty(attempt, user).await;
        let shared = Arc::clone(&self.shared);
        let name = user.to_owned();
        match self
            .shared
            .hashing
            .run(move || shared.passdb.scram_lookup(&name, hash))
            .await
        {
            Ok(Ok(lookup)) => Ok(lookup),
            Ok(Err(error)) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: passdb unavailable");
                Err(failure(UNAVAILABLE, true))
            }
            Err(error) => Err(self.not_checked(attempt, user, &error)),
        }
    }

    /// Checks credentials (off the async threads: hashing is slow) and
    /// answers with a ticket or, after the penalty, a failure. A master
    /// login (`user*master`, or PLAIN naming an authzid) waits and counts
    /// its failures on the master, whose password it carries.
    async fn verify(&self, attempt: &Attempt<'_>, credentials: Credentials) -> Outcome {
        let credentials = self.shared.passdb.masters().resolve(credentials);
        let who = Who::of(&credentials);
        self.wait_penalty(attempt, who.account()).await;
        // Cheap schemes are checked at once (see `on_users_file`), and a
        // valid login's entry (for its ticket) is read with the check;
        // slow ones wait for the pool.
        let first = credentials.clone();
        let cheap = self
            .on_users_file(move |passdb, file| cheap_check(passdb, file, &first))
            .await;
        match cheap {
            Ok(Ok(Some((checked, entry)))) => {
                return self
                    .conclude_with(attempt, &who, Ok(Ok(checked)), Vec::new(), entry)
                    .await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => {
                return self
                    .conclude(attempt, &who, Ok(Err(error)), Vec::new())
                    .await;
            }
            Err(error) => return self.conclude(attempt, &who, Err(error), Vec::new()).await,
        }
        let shared = Arc::clone(&self.shared);
        let checked = match self
            .shared
            .hashing
            .run(move || shared.passdb.check_password(&credentials))
            .await
        {
            Ok(checked) => checked,
            Err(error) => return self.not_checked(attempt, who.account(), &error),
        };
        self.conclude(attempt, &who, Ok(checked), Vec::new()).await
    }

    /// Runs `read` on the users file as it is now: here, on the async
    /// thread, while the file is as last read (one `stat`: a hand-over to
    /// the blocking pool and back costs two thread wake-ups, more than any
    /// lookup); else on the blocking pool, which reads the file again (a
    /// large file takes long, and must not hold up the other logins).
    /// `read` must not hash slowly: that is the hashing pool's.
    async fn on_users_file<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Passdb, &PasswdFile) -> T + Send + 'static,
    ) -> Result<Result<T, crate::AuthError>, tokio::task::JoinError> {
        if let Some(file) = self.shared.passdb.file().cached_if_unchanged() {
            return Ok(Ok(read(&self.shared.passdb, &file)));
        }
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let file = shared.passdb.file().current()?;
            Ok(read(&shared.passdb, &file))
        })
        .await
    }

    /// Waits what earlier failures of this address, its network and the
    /// account owe, before anything is hashed for the attempt.
    async fn wait_penalty(&self, attempt: &Attempt<'_>, user: &str) {
        let now = tokio::time::Instant::now();
        let wait = self.shared.penalty.admit(attempt.remote, Some(user), now);
        if !wait.is_zero() {
            crate::audit::login_delayed(attempt.remote, user, wait);
            tokio::time::sleep(wait).await;
        }
    }

    /// The reply when the password could not be checked at all: hashing is
    /// saturated (shed, a temporary failure) or its task failed.
    fn not_checked(&self, attempt: &Attempt<'_>, user: &str, error: &GateError) -> Outcome {
        match error {
            GateError::Busy(waiting) => {
                tracing::warn!(user = ?user, remote = attempt.remote, waiting,
                    "login shed: too many password checks at once");
                failure(BUSY, true)
            }
            GateError::Task(error) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: password check task failed");
                failure(UNAVAILABLE, true)
            }
        }
    }

    /// The reply once the passdb has judged: a ticket (with `final_data`),
    /// a penalised failure, or a refusal the client is told the reason of.
    async fn conclude(
        &self,
        attempt: &Attempt<'_>,
        who: &Who,
        checked: Result<Result<Checked, crate::AuthError>, tokio::task::JoinError>,
        final_data: Vec<u8>,
    ) -> Outcome {
        self.conclude_with(attempt, who, checked, final_data, None)
            .await
    }

    /// [`AuthService::conclude`] with the session user's entry when it was
    /// read already (else it is read now).
    async fn conclude_with(
        &self,
        attempt: &Attempt<'_>,
        who: &Who,
        checked: Result<Result<Checked, crate::AuthError>, tokio::task::JoinError>,
        final_data: Vec<u8>,
        entry: Option<UserEntry>,
    ) -> Outcome {
        let user = who.user.as_str();
        let master = who.master.as_deref();
        match checked {
            Ok(Ok(Checked::Valid(canonical))) => {
                self.succeed(attempt, canonical, None, final_data, entry)
                    .await
            }
            Ok(Ok(Checked::ValidMaster { user, master })) => {
                self.succeed(attempt, user, Some(master), final_data, entry)
                    .await
            }
            Ok(Ok(Checked::Refused(reason))) => {
                self.refuse_as(attempt, Some(user), master, reason).await
            }
            Ok(Ok(Checked::NotServed(reason))) => {
                tracing::warn!(user = ?user, master, remote = attempt.remote, %reason,
                    "login refused");
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

    /// Issues the ticket of `user`'s session (a master login's too: the
    /// session and its mail are the user's, `master` is only logged).
    async fn succeed(
        &self,
        attempt: &Attempt<'_>,
        user: String,
        master: Option<String>,
        final_data: Vec<u8>,
        known: Option<UserEntry>,
    ) -> Outcome {
        let shared = &self.shared;
        // The entry as it is now, for the ticket's password stamp.
        let entry = match known {
            Some(entry) => Ok(Ok(Some(entry))),
            None => {
                let name = user.clone();
                self.on_users_file(move |_, file| file.lookup(&name).cloned())
                    .await
            }
        };
        let entry = match entry {
            Ok(Ok(Some(entry))) => entry,
            Ok(Ok(None)) => {
                return self
                    .refuse_as(attempt, Some(&user), master.as_deref(), "user removed")
                    .await;
            }
            Ok(Err(error)) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: passdb unavailable");
                return failure(UNAVAILABLE, true);
            }
            Err(error) => {
                tracing::error!(user = ?user, remote = attempt.remote, %error,
                    "login not possible: user lookup task failed");
                return failure(UNAVAILABLE, true);
            }
        };
        // Clears the failures of the account whose password it was.
        shared
            .penalty
            .record_success(attempt.remote, master.as_deref().unwrap_or(&user));
        let (sealed_ticket, expires_unix) = match &attempt.seal_to {
            Some(seal_to) => {
                let (ticket, expires_unix) = shared.tickets.issue_login(&entry, now_unix());
                // Queued before the login is answered (see crate::vouch).
                if let Some(vouching) = &self.vouching {
                    vouching.issued(&ticket);
                }
                match seal_to.seal(&ticket, Purpose::Login, &user) {
                    Ok(sealed) => (sealed, expires_unix),
                    Err(error) => {
                        tracing::error!(user = ?user, remote = attempt.remote, %error,
                            "login not possible: the ticket could not be sealed");
                        return failure(UNAVAILABLE, true);
                    }
                }
            }
            None => (Vec::new(), 0),
        };
        crate::audit::login_succeeded(
            attempt.remote,
            &user,
            master.as_deref(),
            attempt.protocol,
            attempt.mechanism,
        );
        Outcome::Success(Success {
            user,
            sealed_ticket,
            expires_unix,
            final_data,
            request_key: shared.tickets.request_key(),
        })
    }

    /// Counts a failure against the address, its network and the account
    /// (the next attempt on them waits), logs it in the line operators'
    /// tools match (README "Failed logins") and answers with the failure.
    async fn refuse(&self, attempt: &Attempt<'_>, user: Option<&str>, reason: &str) -> Outcome {
        self.refuse_as(attempt, user, None, reason).await
    }

    /// [`AuthService::refuse`] of a login as `user` that `master` tried
    /// with their password: the failure counts against the master's
    /// account, and the line names both.
    async fn refuse_as(
        &self,
        attempt: &Attempt<'_>,
        user: Option<&str>,
        master: Option<&str>,
        reason: &str,
    ) -> Outcome {
        let now = tokio::time::Instant::now();
        self.shared
            .penalty
            .record_failure(attempt.remote, master.or(user), now);
        crate::audit::login_failed(
            attempt.remote,
            user,
            master,
            reason,
            attempt.protocol,
            attempt.mechanism,
        );
        failure(FAILED, false)
    }
}

impl AuthService {
    /// A deliver ticket for the recipient of `req`, asked on a connection
    /// of `role`: refused unless that is the lmtp role, whatever the
    /// recipient (a compromised imap process must not get one).
    pub(crate) async fn deliver_for(
        &self,
        conn: Option<ConnectionKey>,
        role: PeerRole,
        req: DeliverRequest,
    ) -> Result<DeliverResponse, Status> {
        if role != PeerRole::Lmtp {
            tracing::warn!(recipient = ?req.recipient, ?role,
                "deliver ticket refused: asked on a connection not of the lmtp role");
            return Err(Status::permission_denied(
                "deliver tickets are issued to the lmtp role only",
            ));
        }
        let seal_to = self.reply_to(conn, &req.reply_key, req.reply_index, "Deliver")?;
        let recipient = req.recipient.clone();
        let checked = self
            .on_users_file(move |passdb, file| passdb.recipient_in(file, &recipient))
            .await
            .map_err(|error| Status::internal(format!("recipient lookup task failed: {error}")))?
            .map_err(|error| {
                tracing::error!(recipient = ?req.recipient, %error,
                "delivery not possible: userdb unavailable");
                Status::unavailable(UNAVAILABLE)
            })?;
        match checked {
            // A recipient is never a master login; named for completeness.
            Checked::Valid(user) | Checked::ValidMaster { user, .. } => {
                let (ticket, expires_unix) = self.shared.tickets.issue_deliver(&user, now_unix());
                let sealed_ticket = seal_to
                    .seal(&ticket, Purpose::Deliver, &user)
                    .map_err(|error| Status::internal(format!("sealing the ticket: {error}")))?;
                tracing::debug!(recipient = ?req.recipient, user = ?user, "deliver ticket issued");
                Ok(DeliverResponse {
                    user,
                    sealed_ticket,
                    expires_unix,
                })
            }
            Checked::Refused(reason) => {
                tracing::info!(recipient = ?req.recipient, reason, "delivery refused");
                Err(Status::not_found("no such recipient"))
            }
            Checked::NotServed(reason) => {
                tracing::warn!(recipient = ?req.recipient, %reason, "delivery refused");
                Err(Status::failed_precondition(reason))
            }
        }
    }
}

impl AuthService {
    /// The old ticket of a renewal, opened from its seal to auth's request
    /// key: a request without one (an old client's, whose ticket came in
    /// clear in a field no longer read) or with a malformed one is
    /// INVALID_ARGUMENT; one that does not open (sealed to another key,
    /// for another user or another reply key), UNAUTHENTICATED.
    fn old_ticket(&self, request: &RenewRequest) -> Result<Zeroizing<String>, Status> {
        if request.sealed_ticket.is_empty() {
            tracing::warn!(user = ?request.user,
                "ticket renewal refused: no sealed old ticket (a ticket is never sent in clear)");
            return Err(Status::invalid_argument(
                "renewal without a sealed old ticket",
            ));
        }
        self.shared
            .tickets
            .open_renewal(&request.sealed_ticket, &request.user, &request.reply_key)
            .map_err(|error| {
                tracing::info!(user = ?request.user, %error, "ticket renewal refused");
                match error {
                    SealError::WontOpen => {
                        Status::unauthenticated(format!("ticket refused: {error}"))
                    }
                    _ => Status::invalid_argument(error.to_string()),
                }
            })
    }
}

/// The channel binding the first step offers: the connection's
/// tls-exporter data, or none (no TLS, or a type this server does not
/// know, which is logged).
fn channel_binding(req: &StepRequest, remote: &str) -> ChannelBinding {
    match req.channel_binding_type.as_str() {
        "" => ChannelBinding::None,
        TLS_EXPORTER if !req.channel_binding.is_empty() => {
            ChannelBinding::TlsExporter(req.channel_binding.clone())
        }
        other => {
            tracing::warn!(remote, binding_type = ?other,
                "channel binding type unknown or without data; treated as none");
            ChannelBinding::None
        }
    }
}

/// The key a request's ticket is to be sealed to: a request without a
/// usable one is refused, whatever else it asks (every client of ours
/// sends one; a ticket is never sent in clear).
fn reply_key(bytes: &[u8], request: &str) -> Result<SealTo, Status> {
    SealTo::from_bytes(bytes).map_err(|error| {
        tracing::warn!(request, %error, "request refused: no usable reply key");
        Status::invalid_argument(error.to_string())
    })
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
        let Some(conn) = request.extensions().get::<ConnectionTag>().copied() else {
            return Err(Status::internal("request without a connection key"));
        };
        let outcome = self
            .step_on(conn.key, conn.role, request.into_inner())
            .await?;
        Ok(Response::new(StepResponse {
            outcome: Some(outcome),
        }))
    }

    async fn deliver(
        &self,
        request: Request<DeliverRequest>,
    ) -> Result<Response<DeliverResponse>, Status> {
        let tag = request.extensions().get::<ConnectionTag>().copied();
        let role = tag.map_or(PeerRole::Other, |tag| tag.role);
        self.deliver_for(tag.map(|tag| tag.key), role, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn open_chain(
        &self,
        request: Request<OpenChainRequest>,
    ) -> Result<Response<OpenChainResponse>, Status> {
        let Some(conn) = request.extensions().get::<ConnectionTag>().copied() else {
            return Err(Status::internal("request without a connection key"));
        };
        let sealer_key = self
            .shared
            .chains
            .open(conn.key, &request.get_ref().requester_key)
            .map_err(|error| {
                tracing::warn!(%error, "reply chain refused");
                match error {
                    ChainRefused::TooMany => Status::resource_exhausted(error.to_string()),
                    _ => Status::invalid_argument(error.to_string()),
                }
            })?;
        Ok(Response::new(OpenChainResponse { sealer_key }))
    }

    async fn renew(
        &self,
        request: Request<RenewRequest>,
    ) -> Result<Response<RenewResponse>, Status> {
        let shared = &self.shared;
        let request = request.into_inner();
        let seal_to = reply_key(&request.reply_key, "Renew")?;
        let old = self.old_ticket(&request)?;
        let refused = |error: RenewRefused| match error {
            RenewRefused::NotSession => Status::permission_denied(error.to_string()),
            _ => Status::unauthenticated(error.to_string()),
        };
        let claims = shared
            .tickets
            .check_renewable(&old, now_unix())
            .map_err(|error| {
                tracing::info!(%error, "ticket renewal refused");
                refused(error)
            })?;
        drop(old);
        if claims.user != request.user {
            tracing::warn!(user = ?request.user, owner = ?claims.user, session = %claims.session,
                "ticket renewal refused: the old ticket is another user's");
            return Err(Status::unauthenticated(
                "ticket refused: not the named user's",
            ));
        }
        let user = claims.user.clone();
        let entry = self
            .on_users_file(move |_, file| file.lookup(&user).cloned())
            .await
            .map_err(|error| Status::internal(format!("user lookup task failed: {error}")))?
            .map_err(|error| {
                tracing::error!(%error, "ticket renewal not possible: passdb unavailable");
                Status::unavailable(UNAVAILABLE)
            })?;
        let (ticket, expires_unix) = shared
            .tickets
            .renew(&claims, entry.as_ref(), now_unix())
            .map_err(|error| {
                tracing::info!(user = ?claims.user, session = %claims.session, %error,
                    "ticket renewal refused");
                refused(error)
            })?;
        let sealed_ticket = seal_to
            .seal(&ticket, Purpose::Renew, &claims.user)
            .map_err(|error| Status::internal(format!("sealing the ticket: {error}")))?;
        tracing::info!(user = ?claims.user, session = %claims.session, "ticket renewed");
        Ok(Response::new(RenewResponse {
            sealed_ticket,
            expires_unix,
        }))
    }
}

#[cfg(test)]
#[path = "tests/service.rs"]
mod tests;

#[cfg(test)]
#[path = "tests/service_master.rs"]
mod master_tests;

/// A cheap scheme's check of `credentials` in the users file version
/// `file`, with a valid login's entry (for its ticket); `None` when the
/// check would hash slowly (or the user is unknown: the decoy is hashed
/// as slowly as a real password would be).
fn cheap_check(
    passdb: &Passdb,
    file: &PasswdFile,
    credentials: &Credentials,
) -> Option<(Checked, Option<UserEntry>)> {
    let checked = passdb.check_password_if_cheap_in(file, credentials)?;
    let entry = match &checked {
        Checked::Valid(user) | Checked::ValidMaster { user, .. } => file.lookup(user).cloned(),
        _ => None,
    };
    Some((checked, entry))
}

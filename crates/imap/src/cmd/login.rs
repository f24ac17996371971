//! LOGIN (RFC 9051 §6.2.3) and what every login shares: the relay result
//! turned into a session (storage path) or a NO with the right code.

use mailkeep_frontend::sasl::login_with_password;
use mailkeep_frontend::{AuthFailure, ChannelBinding, ClientFacts, LoggedIn, SaslStep, Storage};
use mailkeep_imap_proto::{Code, Login};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{Authed, NotAuthenticated, State, Transition};

impl Command for Login {
    type State = NotAuthenticated;

    const SPEC: Spec = Spec {
        name: "LOGIN",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, cx: Cx, _state: NotAuthenticated) -> Result<Done, ImapError> {
        if !cx.process.plaintext_allowed(&cx.conn) {
            return Ok(Done::reply(privacy_required()));
        }
        let step = login_with_password(
            cx.process.auth.clone(),
            &self.username,
            &self.password,
            client_facts(&cx),
        )
        .await;
        Ok(finish_login(&cx, step))
    }
}

/// `NO [PRIVACYREQUIRED]`: a password may not travel in clear here.
pub(crate) fn privacy_required() -> Reply {
    Reply::no("Plaintext authentication is disabled on this connection; use STARTTLS or TLS")
        .code(Code::PrivacyRequired)
}

/// What auth learns about this client: its address as the limits know it
/// (the peer, or what a trusted proxy stated).
pub(crate) fn client_facts(cx: &Cx) -> ClientFacts {
    ClientFacts {
        remote_ip: cx
            .admission
            .client_address()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "local".into()),
        protocol: "imap".into(),
        channel_binding: cx.conn.channel_binding().map(|data| ChannelBinding {
            kind: "tls-exporter".into(),
            data: data.to_vec(),
        }),
    }
}

/// The end of a login: a session on success, else the NO that says why.
pub(crate) fn finish_login(cx: &Cx, step: SaslStep) -> Done {
    match step {
        SaslStep::Success(login) => logged_in(cx, &login),
        SaslStep::Failure(failure) => Done::reply(failed(failure)),
        SaslStep::Challenge(_) => Done::reply(failed(AuthFailure::Rejected)),
    }
}

/// A successful login: the storage path, and the capabilities as they
/// are now; or a NO when the user already has as many connections from
/// this address as allowed (the ticket is dropped unused).
fn logged_in(cx: &Cx, login: &LoggedIn) -> Done {
    if let Err(refused) = cx.admission.log_in(&login.user) {
        tracing::warn!(user = %login.user, %refused, "login refused: per-user-and-address limit");
        return Done::reply(
            Reply::no("Too many connections for this user from your address").code(Code::Limit),
        );
    }
    // Auth's audit line records every login (user, address, mechanism)
    // and the session's end is logged with its figures; this line, at
    // info, cost every login a third line through the master's log relay.
    tracing::debug!(user = %login.user, peer = ?cx.conn.peer, "logged in");
    let public = &cx.process.settings.public_owner;
    let authed = Authed {
        storage: Storage::new(cx.process.auth.clone(), login, cx.process.clock.clone()),
        public_owner: (!public.is_empty()).then(|| std::sync::Arc::from(public.as_str())),
        owners_refresh: cx.process.settings.notify_owners_refresh,
    };
    // The broker is asked while the OK travels and the client sends its
    // first command (nearly always one on the user's own mail).
    authed.storage.attach_ahead();
    let caps = cx
        .process
        .capabilities(&State::Authenticated(authed.clone()), &cx.conn, false);
    Done::reply(Reply::ok("Logged in").code(Code::Capability(caps)))
        .with(Transition::LoggedIn(authed))
}

/// The NO for a login that did not succeed.
pub(crate) fn failed(failure: AuthFailure) -> Reply {
    match failure {
        AuthFailure::Rejected | AuthFailure::Malformed => {
            Reply::no("Authentication failed.").code(Code::AuthenticationFailed)
        }
        AuthFailure::Temporary => {
            Reply::no("Authentication service unavailable, try again").code(Code::Unavailable)
        }
        AuthFailure::ContactAdmin(reason) => Reply::no(reason).code(Code::ContactAdmin),
        AuthFailure::MechanismUnavailable => {
            Reply::no("This mechanism cannot be used with this account").code(Code::Cannot)
        }
    }
}

//! The auth service in process, as the tests drive it: a control socket
//! as the master would hold it, connections handed over with their fd, the
//! generated gRPC client over each, and helpers for SASL steps.

#![allow(dead_code)] // each test file uses a different part

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use mailkeep_auth::{AuthError, AuthSettings, add_user, serve};
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::step_response;
use mailkeep_storage_rpc::auth::{DeliverRequest, Failure, RenewRequest, StepRequest};
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::{Claims, HostKey, TicketError, TrustedHosts, now_unix};
use mailkeep_ticket_seal::{Purpose, ReplyKey, SealTo};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub const BASE: Duration = Duration::from_millis(100);

pub struct Harness {
    pub control: UnixStream,
    pub server: JoinHandle<Result<(), AuthError>>,
    /// A copy of auth's signing key, for tickets the tests mint.
    pub key: HostKey,
    /// Auth's host alone, as a verifier trusts it.
    pub trusted: TrustedHosts,
    pub passwd: PathBuf,
    _dir: tempfile::TempDir,
}

/// The test users: alice `{PLAIN}secret`, bob `{ARGON2ID}` of "bob-pw",
/// carol with an unknown scheme.
pub async fn start(base: Duration) -> Harness {
    start_with(base, "").await
}

/// [`start`] with `more` lines appended to the passwd-file.
pub async fn start_with(base: Duration, more: &str) -> Harness {
    start_keyed(base, more, HostKey::generate()).await
}

/// [`start_with`] signing with `key` (a copy of it), as an auth restarted
/// with the same key file would.
pub async fn start_keyed(base: Duration, more: &str, key: HostKey) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        format!(
            "# test users\nalice:{{PLAIN}}secret:1000:1000::/home/alice\ncarol:{{NOSUCH}}x\n{more}"
        ),
    )
    .unwrap();
    add_user(&passwd, "bob", "bob-pw", 1001, 1001, "/home/bob".as_ref()).unwrap();
    let (auth_end, control) = QuietStream::with_peer().unwrap();
    control.set_nonblocking(true).unwrap();
    let control = UnixStream::from_std(control).unwrap();
    let auth_key = HostKey::parse(&key.to_file_contents()).unwrap();
    let mut trusted = TrustedHosts::new();
    trusted.insert(ISSUER, key.public()).unwrap();
    let settings = AuthSettings {
        passwd_file: passwd.clone(),
        ticket_lifetime_secs: 3600,
        session_max_secs: 7200,
        issuer: ISSUER.to_owned(),
        failure_delay: base,
        max_failure_delay: base * 4,
        first_valid_uid: 0,
        hashing: Default::default(),
        local_domains: vec!["example.org".to_owned()],
        ..AuthSettings::default()
    };
    let server = tokio::spawn(serve(settings, auth_key, auth_end));
    Harness {
        control,
        server,
        key,
        trusted,
        passwd,
        _dir: dir,
    }
}

/// The host name auth issues tickets as.
pub const ISSUER: &str = "test-host";

impl Harness {
    /// Verifies `ticket` as the broker would.
    pub fn verify(&self, ticket: &str) -> Result<Claims, TicketError> {
        self.trusted.verify(ticket, now_unix())
    }

    pub async fn connect(&self, connection_id: u64) -> AuthClient<Channel> {
        self.connect_as(connection_id, "imap").await
    }

    /// A connection the master made for a process of `role`.
    pub async fn connect_as(&self, connection_id: u64, role: &str) -> AuthClient<Channel> {
        let (client_end, server_end) = UnixStream::pair().unwrap();
        let fd: OwnedFd = server_end.into_std().unwrap().into();
        let message = ControlMessage {
            kind: Some(Kind::NewConnection(NewConnection {
                connection_id,
                role: role.to_owned(),
            })),
        };
        send_frame(&self.control, &message, Some(&fd))
            .await
            .unwrap();
        drop(fd);
        AuthClient::new(channel_over(client_end).await.unwrap())
    }
}

pub fn first(id: u64, mechanism: &str, data: Option<&[u8]>, ip: &str) -> StepRequest {
    StepRequest {
        exchange_id: id,
        mechanism: mechanism.to_owned(),
        data: data.unwrap_or_default().to_vec(),
        has_data: data.is_some(),
        remote_ip: ip.to_owned(),
        protocol: "imap".to_owned(),
        abort: false,
        ..StepRequest::default()
    }
}

pub fn next(id: u64, data: &[u8], ip: &str) -> StepRequest {
    first(id, "", Some(data), ip)
}

/// A step's outcome as a protocol process sees it: a success's ticket
/// opened with the step's reply key.
#[derive(Debug)]
pub enum Outcome {
    Challenge(Vec<u8>),
    Success(LoggedIn),
    Failure(Failure),
}

/// A success with its ticket opened (empty when auth sent none).
#[derive(Debug)]
pub struct LoggedIn {
    pub user: String,
    pub ticket: String,
    /// Auth's request key, which a renewal seals the old ticket to.
    pub request_key: Vec<u8>,
    pub expires_unix: i64,
    pub final_data: Vec<u8>,
}

/// One step with a reply key of its own, as the frontend sends it.
pub async fn step(client: &mut AuthClient<Channel>, mut req: StepRequest) -> Outcome {
    let key = ReplyKey::generate();
    req.reply_key = key.public_bytes();
    match client
        .step(req)
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
    {
        step_response::Outcome::Challenge(c) => Outcome::Challenge(c),
        step_response::Outcome::Failure(f) => Outcome::Failure(f),
        step_response::Outcome::Success(s) => {
            let ticket = if s.sealed_ticket.is_empty() {
                String::new()
            } else {
                key.open(&s.sealed_ticket, Purpose::Login, &s.user)
                    .expect("the ticket opens with the step's reply key")
                    .to_string()
            };
            Outcome::Success(LoggedIn {
                user: s.user,
                ticket,
                request_key: s.request_key,
                expires_unix: s.expires_unix,
                final_data: s.final_data,
            })
        }
    }
}

/// The renewal request of `user`'s `ticket` as the frontend makes it:
/// the old ticket sealed to auth's `request_key` for `reply_key`.
pub fn renew_request(
    request_key: &[u8],
    user: &str,
    ticket: &str,
    reply_key: &ReplyKey,
) -> RenewRequest {
    RenewRequest {
        sealed_ticket: SealTo::from_bytes(request_key)
            .expect("auth's request key")
            .seal_renewal(ticket, user, &reply_key.public_bytes())
            .expect("sealing the old ticket"),
        user: user.to_owned(),
        reply_key: reply_key.public_bytes(),
    }
}

/// Renews `user`'s `ticket`, sealed to auth's `request_key`, with a reply
/// key: the new ticket, opened, and its expiry.
pub async fn renew(
    client: &mut AuthClient<Channel>,
    request_key: &[u8],
    user: &str,
    ticket: &str,
) -> Result<(String, i64), tonic::Status> {
    let key = ReplyKey::generate();
    let got = client
        .renew(renew_request(request_key, user, ticket, &key))
        .await?
        .into_inner();
    let ticket = key
        .open(&got.sealed_ticket, Purpose::Renew, user)
        .expect("the renewed ticket opens with the request's reply key");
    Ok((ticket.to_string(), got.expires_unix))
}

/// Asks for `recipient`'s deliver ticket with a reply key: the user and
/// the ticket, opened.
pub async fn deliver(
    client: &mut AuthClient<Channel>,
    recipient: &str,
) -> Result<(String, String), tonic::Status> {
    let key = ReplyKey::generate();
    let got = client
        .deliver(DeliverRequest {
            recipient: recipient.to_owned(),
            reply_key: key.public_bytes(),
            reply_index: 0,
        })
        .await?
        .into_inner();
    let ticket = key
        .open(&got.sealed_ticket, Purpose::Deliver, &got.user)
        .expect("the deliver ticket opens with the request's reply key");
    Ok((got.user, ticket.to_string()))
}

pub fn success(outcome: Outcome) -> LoggedIn {
    match outcome {
        Outcome::Success(s) => s,
        other => panic!("expected success, got {other:?}"),
    }
}

pub fn failure(outcome: Outcome) -> Failure {
    match outcome {
        Outcome::Failure(f) => f,
        other => panic!("expected failure, got {other:?}"),
    }
}

pub fn challenge(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Challenge(c) => c,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The gRPC client type the tests use.
pub type AuthClientChannel = AuthClient<Channel>;

/// Sets `path`'s modification time a minute back, so that auth keeps its
/// parse of the users file and looks accounts up where a request arrives
/// (a file changed in the last two seconds is read again every time).
pub fn settle(path: &std::path::Path) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

//! The auth service (`mailkeep_auth::serve`), fed what a compromised
//! protocol process can send on its auth connection (DESIGN §3: auth holds
//! the ticket-signing key, and every protocol process talks to it): any
//! bytes as the request of any auth method (SASL steps, ticket renewal,
//! deliver tickets, reply chains), on a connection of the imap, pop3 or
//! lmtp role, to a fresh auth serving a passwd-file of two accounts.
//!
//! The input is a sequence of calls, each a method byte, a 2-byte
//! little-endian length and that many bytes of request, sent as they are.
//! The method byte's low two bits pick the method ([`METHODS`]); its high
//! bit sends the call on the lmtp connection, else the next one on the
//! pop3 connection, else it goes on the imap one.
//!
//! Properties checked:
//! * nothing panics in auth's tasks and threads (a panic hook counts
//!   panics), and every call is answered (a hang is a find, bounded by
//!   [`crate::rpc::CALL_LIMIT`]);
//! * no refusal is auth's own fault (`INTERNAL` or `UNKNOWN`), except
//!   bytes that are not the method's protobuf, which tonic refuses;
//! * a login succeeds only for an account whose password the input holds,
//!   and names that account;
//! * the imap and pop3 roles never get a deliver ticket; the lmtp role
//!   gets one only for an account;
//! * no renewal succeeds (the input cannot hold a ticket auth sealed);
//! * afterwards auth still logs the first account in with its password
//!   over the imap connection (no input locks an account out).

use mailkeep_auth::AuthSettings;
use mailkeep_storage_rpc::auth::step_response::Outcome;
use mailkeep_storage_rpc::auth::*;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::HostKey;
use prost::Message;
use tokio::net::UnixStream;
use tonic::Status;
use tonic::transport::Channel;

use crate::rpc::{CALL_LIMIT, RawCodec, bounded, passed_channel, ready, undecodable};

/// Every method of the auth RPC.
pub static METHODS: [&str; 4] = ["Step", "Renew", "Deliver", "OpenChain"];

/// The accounts of the passwd-file and their passwords ({PLAIN}, so that
/// a login costs no hash; an unknown user still costs one, against the
/// decoy).
pub static ACCOUNTS: [(&str, &str); 2] = [("alice", "alice-pw-7f3a"), ("bob", "bob-pw-91c2")];

/// The method byte's bit that sends a call on the lmtp connection.
const LMTP_BIT: u8 = 0x80;

/// The method byte's bit that sends a call on the pop3 connection (unless
/// [`LMTP_BIT`] is set).
const POP3_BIT: u8 = 0x40;

/// The role of the connection a call goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An imap process's connection.
    Imap,
    /// A pop3 process's connection.
    Pop3,
    /// An lmtp process's connection (the only role deliver tickets go to).
    Lmtp,
}

/// Most calls of one input.
const MAX_CALLS: usize = 8;

/// Tokens for the stable engine's mutations.
pub static DICTIONARY: &[&[u8]] = &[
    b"\x12\x05PLAIN",
    b"\x12\x05LOGIN",
    b"\x12\x0dSCRAM-SHA-256",
    b"\x1a\x17\x00alice\x00alice-pw-7f3a",
    b"\x20\x01",
    b"\x2a\x09127.0.0.1",
    b"\x32\x04imap",
    b"\x38\x01",
    b"\x0a\x11alice@example.org",
    b"\x52\x20",
    b"\x58\x01",
    b"\x00",
    b"\x01",
    b"\x02",
    b"\x03",
    b"\x40",
    b"\x42",
    b"\x80",
    b"\x82",
];

/// Runs the calls `data` encodes against a fresh auth.
pub fn request_stream(data: &[u8]) {
    crate::rpc::runtime().block_on(exchange(data));
}

/// One call of an input: `method` (a name in [`METHODS`]) with `request`,
/// on the connection of `role`.
pub fn call(method: &str, request: &[u8], role: Role) -> Vec<u8> {
    let index = METHODS
        .iter()
        .position(|m| *m == method)
        .unwrap_or_else(|| panic!("no method {method}"));
    let selector = u8::try_from(index).expect("four methods")
        | match role {
            Role::Imap => 0,
            Role::Pop3 => POP3_BIT,
            Role::Lmtp => LMTP_BIT,
        };
    crate::rpc::call(selector, request)
}

/// The calls `data` encodes: (method, the connection's role, request).
fn calls(data: &[u8]) -> Vec<(&'static str, Role, &[u8])> {
    crate::rpc::calls(data, MAX_CALLS)
        .into_iter()
        .map(|(selector, request)| {
            (
                METHODS[usize::from(selector) % METHODS.len()],
                if selector & LMTP_BIT != 0 {
                    Role::Lmtp
                } else if selector & POP3_BIT != 0 {
                    Role::Pop3
                } else {
                    Role::Imap
                },
                request,
            )
        })
        .collect()
}

/// A fresh auth serving [`ACCOUNTS`], with one connection of each role.
struct Served {
    imap: Channel,
    pop3: Channel,
    lmtp: Channel,
    control: UnixStream,
    auth: tokio::task::JoinHandle<Result<(), mailkeep_auth::AuthError>>,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start() -> Served {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let passwd = dir.path().join("passwd");
        let lines: String = ACCOUNTS
            .iter()
            .map(|(user, password)| format!("{user}:{{PLAIN}}{password}\n"))
            .collect();
        std::fs::write(&passwd, lines).expect("writing the passwd-file");
        let settings = AuthSettings {
            passwd_file: passwd,
            issuer: "fuzz.example".into(),
            failure_delay: std::time::Duration::ZERO,
            max_failure_delay: std::time::Duration::ZERO,
            first_valid_uid: 0,
            ..AuthSettings::default()
        };
        let (auth_end, control) = QuietStream::with_peer().expect("a control socket pair");
        control
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let control = UnixStream::from_std(control).expect("a tokio socket");
        let auth = tokio::spawn(mailkeep_auth::serve(
            settings,
            HostKey::generate(),
            auth_end,
        ));
        Served {
            imap: passed_channel(&control, 1, "imap").await,
            lmtp: passed_channel(&control, 2, "lmtp").await,
            pop3: passed_channel(&control, 3, "pop3").await,
            control,
            auth,
            _dir: dir,
        }
    }

    /// The connection of `role`.
    fn channel(&self, role: Role) -> &Channel {
        match role {
            Role::Imap => &self.imap,
            Role::Pop3 => &self.pop3,
            Role::Lmtp => &self.lmtp,
        }
    }

    /// Closes the connections and the control socket, as an exiting master
    /// does, and waits for auth to end.
    async fn stop(self) {
        let Served {
            imap,
            pop3,
            lmtp,
            control,
            auth,
            _dir,
        } = self;
        drop((imap, pop3, lmtp, control));
        let ended = tokio::time::timeout(CALL_LIMIT, auth)
            .await
            .expect("auth ends when its master goes");
        ended
            .expect("auth's task does not panic")
            .expect("auth ends cleanly");
    }
}

/// A PLAIN login of `user` with `password`, as an imap process relays it.
fn plain_login(user: &str, password: &str) -> StepRequest {
    StepRequest {
        exchange_id: u64::MAX,
        mechanism: "PLAIN".into(),
        data: format!("\0{user}\0{password}").into_bytes(),
        has_data: true,
        remote_ip: "127.0.0.1".into(),
        protocol: "imap".into(),
        reply_key: mailkeep_ticket_seal::ReplyKey::generate().public_bytes(),
        ..StepRequest::default()
    }
}

/// The outcome of a Step's answer.
fn outcome(answer: &[u8]) -> Option<Outcome> {
    StepResponse::decode(answer)
        .expect("a StepResponse")
        .outcome
}

async fn exchange(data: &[u8]) {
    let served = Served::start().await;
    let panics = crate::rpc::panics();
    for (method, role, request) in calls(data) {
        let answered = send(served.channel(role), method, request).await;
        check(method, role, data, &answered);
        assert_eq!(
            crate::rpc::panics(),
            panics,
            "a panic while serving {method}"
        );
    }
    let (user, password) = ACCOUNTS[0];
    let login = plain_login(user, password).encode_to_vec();
    let answer = send(&served.imap, "Step", &login)
        .await
        .expect("auth answers a login");
    let outcome = outcome(&answer);
    assert!(
        matches!(outcome, Some(Outcome::Success(ref s)) if s.user == user),
        "auth no longer logs {user} in with the password: {outcome:?}"
    );
    served.stop().await;
}

/// What one call answered must be.
fn check(method: &str, role: Role, input: &[u8], answered: &Result<Vec<u8>, Status>) {
    let answer = match answered {
        Err(status) => {
            assert!(
                undecodable(status)
                    || !matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown),
                "{method} failed as auth's own fault: {status:?}"
            );
            return;
        }
        Ok(answer) => answer.as_slice(),
    };
    match method {
        "Step" => {
            if let Some(Outcome::Success(success)) = outcome(answer) {
                let password = ACCOUNTS
                    .iter()
                    .find(|(user, _)| *user == success.user)
                    .map(|(_, password)| *password)
                    .unwrap_or_else(|| panic!("a login as {:?}, no account", success.user));
                assert!(
                    memchr::memmem::find(input, password.as_bytes()).is_some(),
                    "{} logged in without the password",
                    success.user
                );
                assert!(
                    !success.sealed_ticket.is_empty(),
                    "a login without a ticket"
                );
            }
        }
        "Renew" => panic!("a renewal of a ticket auth never sealed was answered"),
        "Deliver" => {
            assert_eq!(
                role,
                Role::Lmtp,
                "a deliver ticket on a connection of another role"
            );
            let got = DeliverResponse::decode(answer).expect("a DeliverResponse");
            assert!(
                ACCOUNTS.iter().any(|(user, _)| *user == got.user),
                "a deliver ticket for {:?}, no account",
                got.user
            );
            assert!(!got.sealed_ticket.is_empty(), "a delivery without a ticket");
        }
        _ => {}
    }
}

async fn send(channel: &Channel, method: &str, request: &[u8]) -> Result<Vec<u8>, Status> {
    let path = format!("/mailkeep.auth.v1.Auth/{method}")
        .parse()
        .expect("a method path is a valid URI path");
    bounded(method, async {
        ready(channel)
            .await?
            .unary(tonic::Request::new(request.to_vec()), path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
    })
    .await
}

/// The committed seeds of this target, by file name.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    // A fixed public key (the X25519 base point): seeds stay the same
    // bytes from run to run.
    let key = || {
        let mut k = vec![0u8; mailkeep_ticket_seal::REPLY_KEY_LEN];
        k[0] = 9;
        k
    };
    let step = |mechanism: &str, data: &[u8], exchange_id: u64| StepRequest {
        exchange_id,
        mechanism: mechanism.into(),
        data: data.to_vec(),
        has_data: true,
        remote_ip: "127.0.0.1".into(),
        protocol: "imap".into(),
        reply_key: key(),
        ..StepRequest::default()
    };
    let (alice, alice_pw) = ACCOUNTS[0];
    let plain = step("PLAIN", format!("\0{alice}\0{alice_pw}").as_bytes(), 1);
    let wrong = step("PLAIN", format!("\0{alice}\0wrong").as_bytes(), 2);
    let login_user = step("LOGIN", alice.as_bytes(), 3);
    let login_pass = step("LOGIN", alice_pw.as_bytes(), 3);
    let scram = step("SCRAM-SHA-256", b"n,,n=alice,r=fuzznonce", 4);
    let deliver = DeliverRequest {
        recipient: "alice@example.org".into(),
        reply_key: key(),
        reply_index: 0,
    };
    let chained = DeliverRequest {
        recipient: "bob".into(),
        reply_key: Vec::new(),
        reply_index: 7,
    };
    let chain = OpenChainRequest {
        requester_key: key(),
    };
    let renew = RenewRequest {
        sealed_ticket: vec![0x5a; 96],
        user: alice.into(),
        reply_key: key(),
    };
    vec![
        (
            "plain_login",
            call("Step", &plain.encode_to_vec(), Role::Imap),
        ),
        (
            "wrong_then_right",
            [
                call("Step", &wrong.encode_to_vec(), Role::Imap),
                call("Step", &plain.encode_to_vec(), Role::Imap),
            ]
            .concat(),
        ),
        (
            "login_mechanism",
            [
                call("Step", &login_user.encode_to_vec(), Role::Imap),
                call("Step", &login_pass.encode_to_vec(), Role::Imap),
            ]
            .concat(),
        ),
        (
            "scram_first",
            call("Step", &scram.encode_to_vec(), Role::Imap),
        ),
        (
            "deliver_on_both_roles",
            [
                call("Deliver", &deliver.encode_to_vec(), Role::Lmtp),
                call("Deliver", &deliver.encode_to_vec(), Role::Imap),
            ]
            .concat(),
        ),
        (
            "deliver_on_pop3",
            [
                call("Deliver", &chained.encode_to_vec(), Role::Pop3),
                call("Deliver", &chained.encode_to_vec(), Role::Lmtp),
            ]
            .concat(),
        ),
        (
            "chain_then_deliver",
            [
                call("OpenChain", &chain.encode_to_vec(), Role::Lmtp),
                call("Deliver", &chained.encode_to_vec(), Role::Lmtp),
                call("OpenChain", &chain.encode_to_vec(), Role::Imap),
            ]
            .concat(),
        ),
        (
            "renew_forged",
            call("Renew", &renew.encode_to_vec(), Role::Imap),
        ),
        ("garbage", call("Step", b"\xff\xff\xff", Role::Imap)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_auth_method_is_in_the_table() {
        let declared: Vec<String> = crate::rpc::declared_methods("mailkeep/auth/v1")
            .into_iter()
            .map(|(_, name, request_streamed, response_streamed)| {
                assert!(!request_streamed && !response_streamed, "{name} streams");
                name
            })
            .collect();
        let mut table: Vec<String> = METHODS.iter().map(|m| (*m).to_owned()).collect();
        table.sort();
        assert_eq!(table, declared);
    }

    /// The harness gives what the properties lean on: a login with the
    /// password succeeds and one without does not, and a deliver ticket
    /// comes on the lmtp connection and not on the others (so a refusal
    /// in a run is auth's decision, not a harness that never connects as
    /// the role it names).
    #[test]
    fn the_harness_logs_in_and_gets_deliver_tickets_on_lmtp_only() {
        crate::rpc::runtime().block_on(async {
            let served = Served::start().await;
            let (user, password) = ACCOUNTS[0];
            let right = plain_login(user, password).encode_to_vec();
            let right = send(&served.imap, "Step", &right).await;
            let right = outcome(&right.expect("an answer"));
            assert!(matches!(right, Some(Outcome::Success(_))), "{right:?}");
            let wrong = plain_login(user, "wrong").encode_to_vec();
            let wrong = send(&served.imap, "Step", &wrong).await;
            let wrong = outcome(&wrong.expect("an answer"));
            assert!(matches!(wrong, Some(Outcome::Failure(_))), "{wrong:?}");
            let deliver = DeliverRequest {
                recipient: ACCOUNTS[1].0.into(),
                reply_key: mailkeep_ticket_seal::ReplyKey::generate().public_bytes(),
                reply_index: 0,
            }
            .encode_to_vec();
            let got = send(&served.lmtp, "Deliver", &deliver)
                .await
                .expect("a ticket");
            let got = DeliverResponse::decode(got.as_slice()).expect("a DeliverResponse");
            assert_eq!(got.user, ACCOUNTS[1].0);
            assert!(!got.sealed_ticket.is_empty());
            for role in [Role::Imap, Role::Pop3] {
                let refused = send(served.channel(role), "Deliver", &deliver).await;
                let status = refused.expect_err("no deliver ticket for this role");
                assert_eq!(
                    status.code(),
                    tonic::Code::PermissionDenied,
                    "{role:?}: {status:?}"
                );
            }
            served.stop().await;
        });
    }
}

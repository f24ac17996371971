//! The broker (`crates/master/src/broker.rs`), fed what a compromised
//! protocol process can write on its broker channel: the input is the raw
//! byte stream (4-byte big-endian length, a `BrokerRequest`, and again),
//! served by the master's real `serve_client` on a socket pair, with a
//! master of three local users and one on another host, no auth process,
//! and no storage process it could start.
//!
//! Properties checked:
//! * the broker decodes the stream exactly as far as it is well framed
//!   (this target decodes it too) and answers every request of a stream
//!   that ends on a frame boundary before it closes the channel; a stream
//!   that does not is closed, never waited on for ever;
//! * every reply carries the id of a request it answers and the answer
//!   that request must get: an attach whose ticket does not verify with
//!   the trusted key is refused as unauthenticated, one for another owner
//!   as refused; auth is unavailable; a request with no kind is invalid;
//!   status and end-session are acknowledged;
//! * nothing is ever handed over: no reply is a storage or auth
//!   connection, none carries a descriptor (no input holds a ticket that
//!   could make the master start a storage process it can reach);
//! * the broker's task ends when the channel does, without a panic.

use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};

use mailkeep_master::broker::serve_client;
use mailkeep_master::layout::Prepared;
use mailkeep_master::serve::Shared;
use mailkeep_storage_rpc::broker::{
    BrokerReply, BrokerRequest, RefusalCode, broker_reply, broker_request,
};
use mailkeep_storage_rpc::framing::{FrameError, MAX_FRAME, recv_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::{HostKey, Scope, TrustedHosts, now_unix};
use prost::Message;
use tokio::net::UnixStream;

/// The trusted host's name and key seed: fixed, so that corpus tickets
/// signed with it verify (until 2096).
pub const HOST: &str = "fuzz.example";
const SEED: &str = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

/// Tokens of the broker channel for the stable engine's mutations: frame
/// lengths, field keys of each request kind, owners, a ticket prefix.
pub static DICTIONARY: &[&[u8]] = &[
    b"\x00\x00\x00\x00",
    b"\x00\x00\x00\x02",
    b"\x00\x01\x00\x00",
    b"\x00\x01\x00\x01",
    b"\xff\xff\xff\xff",
    b"\x08\x01",
    b"\x12\x00",
    b"\x1a\x00",
    b"\x22\x02\x08\x05",
    b"\x2a\x00",
    b"\x0a\x01a",
    b"\x12\x01a",
    b"\x12\x01d",
    b"\x12\x04root",
    b"\x1a\x01\x07",
    b"mk2.",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
];

/// A master to broker for, made once per process.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    trusted: TrustedHosts,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = mailkeep_config::Config::default();
        config.server.data_dir = dir.path().join("data");
        config.storage.mode = mailkeep_config::StorageMode::PerUid;
        config.resolve().expect("the default configuration");
        std::fs::create_dir_all(config.data_dir()).expect("the data directory");
        let homes = dir.path().join("home");
        let mut users: String = ["a", "b", "c"]
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}x:5000:5000::{}::\n", homes.join(u).display()))
            .collect();
        users.push_str(&format!(
            "d:{{PLAIN}}x:5000:5000::{}::host=far\n",
            homes.join("d").display()
        ));
        config
            .cluster
            .hosts
            .insert("far".into(), "127.0.0.9:4190".into());
        std::fs::write(config.users_file(), users).expect("the users file");
        let key = host_key();
        let mut trusted = TrustedHosts::new();
        trusted
            .insert(HOST, key.public())
            .expect("one host in an empty list");
        let prepared = Prepared {
            privileged: false,
            protocol_uid: 0,
            protocol_gid: 0,
            auth_uid: 0,
            auth_gid: 0,
            mail_uid: 5000,
            mail_gid: 5000,
            chroot: dir.path().join("empty"),
            keys: mailkeep_master::host_keys::HostKeys {
                name: HOST.into(),
                public: key.public(),
                trusted: trusted.clone(),
            },
            demo_password: None,
        };
        // No binary to start: an attach that gets that far finds storage
        // unavailable.
        let shared = Arc::new(Shared::new(
            config,
            None,
            prepared,
            dir.path().join("no-such-binary"),
        ));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        Fixture {
            runtime,
            shared,
            trusted,
            _dir: dir,
        }
    })
}

/// The trusted host's signing key (for making corpus tickets).
pub fn host_key() -> HostKey {
    HostKey::parse(SEED).expect("the fixed seed is a key")
}

/// Runs one input as a protocol process's broker channel.
pub fn request_stream(data: &[u8]) {
    let fx = fixture();
    fx.runtime.block_on(exchange(fx, data));
}

/// The requests of `data` as the broker reads them, and whether the
/// stream ends on a frame boundary (a clean end) rather than on a frame
/// that is cut short, too long or does not decode (where the broker stops
/// reading).
pub fn frames(data: &[u8]) -> (Vec<BrokerRequest>, bool) {
    let mut rest = data;
    let mut requests = Vec::new();
    while !rest.is_empty() {
        let Some((header, body)) = rest.split_first_chunk::<4>() else {
            return (requests, false);
        };
        let len = u32::from_be_bytes(*header) as usize;
        if len > MAX_FRAME || body.len() < len {
            return (requests, false);
        }
        match BrokerRequest::decode(&body[..len]) {
            Ok(request) => requests.push(request),
            Err(_) => return (requests, false),
        }
        rest = &body[len..];
    }
    (requests, true)
}

/// The refusal codes a request may get, or `None` for an acknowledgment.
fn expected(trusted: &TrustedHosts, request: &BrokerRequest) -> Option<&'static [RefusalCode]> {
    use RefusalCode::{ContactAdmin, Invalid, Refused, Unauthenticated, Unavailable};
    match &request.kind {
        None => Some(&[Invalid]),
        Some(broker_request::Kind::ConnectAuth(_)) => Some(&[Unavailable]),
        Some(broker_request::Kind::Status(_) | broker_request::Kind::EndSession(_)) => None,
        // Answered with the owners (see `answers`) for a live session or
        // deliver ticket; refused otherwise (an admin's).
        Some(broker_request::Kind::SharingOwners(asked)) => {
            match trusted.verify(&asked.ticket, now_unix()) {
                Err(_) => Some(&[Unauthenticated]),
                Ok(claims) if claims.scope == Scope::Admin => Some(&[Refused]),
                // Revoked by an earlier EndSession, or answered.
                Ok(_) => Some(&[Unauthenticated]),
            }
        }
        Some(broker_request::Kind::AttachStorage(a)) => {
            match trusted.verify(&a.ticket, now_unix()) {
                Err(_) => Some(&[Unauthenticated]),
                // Another user's session or deliver ticket is a guest's,
                // whom the owner's storage process admits by its ACLs: the
                // broker treats it as valid. An admin ticket is for its user.
                Ok(claims)
                    if claims.scope == Scope::Admin
                        && claims.authorize(&a.owner, Scope::Deliver).is_err() =>
                {
                    Some(&[Refused])
                }
                // Valid for the owner: revoked by an earlier EndSession,
                // or refused further on; never attached.
                Ok(_) => Some(&[Unauthenticated, Refused, Unavailable, ContactAdmin]),
            }
        }
    }
}

/// Whether `reply` is an answer `request` may get.
fn answers(trusted: &TrustedHosts, request: &BrokerRequest, reply: &BrokerReply) -> bool {
    if reply.id != request.id {
        return false;
    }
    if let (
        Some(broker_request::Kind::SharingOwners(asked)),
        Some(broker_reply::Kind::SharingOwners(_)),
    ) = (&request.kind, &reply.kind)
    {
        return trusted
            .verify(&asked.ticket, now_unix())
            .is_ok_and(|claims| claims.scope != Scope::Admin);
    }
    match (expected(trusted, request), &reply.kind) {
        (None, Some(broker_reply::Kind::Acknowledged(_))) => true,
        (Some(codes), Some(broker_reply::Kind::Error(e))) => {
            codes.iter().any(|&c| c as i32 == e.code)
        }
        _ => false,
    }
}

fn shut_write(stream: &UnixStream) {
    // The broker may have closed its end already: nothing to tell it.
    let _ = nix::sys::socket::shutdown(stream.as_raw_fd(), nix::sys::socket::Shutdown::Write);
}

async fn exchange(fx: &'static Fixture, data: &[u8]) {
    let (theirs, ours) = QuietStream::with_peer().expect("a socket pair");
    ours.set_nonblocking(true).expect("a non-blocking socket");
    let ours = UnixStream::from_std(ours).expect("a tokio socket");
    let client_id = fx.shared.next_connection_id();
    let broker = tokio::spawn(serve_client(
        Arc::clone(&fx.shared),
        client_id,
        "imap",
        theirs,
    ));
    let (mut pending, clean) = frames(data);
    let total = pending.len();
    let ours = Arc::new(ours);
    let writer = {
        let (ours, data) = (Arc::clone(&ours), data.to_vec());
        tokio::spawn(async move {
            let mut sent = 0;
            while sent < data.len() {
                if ours.writable().await.is_err() {
                    return;
                }
                match ours.try_write(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    // The broker closed the channel (a bad frame).
                    Err(_) => return,
                }
            }
            if !clean {
                shut_write(&ours);
            }
        })
    };
    if clean && total == 0 {
        shut_write(&ours);
    }
    let mut answered = 0;
    loop {
        match recv_frame::<BrokerReply>(&ours).await {
            Ok((reply, fd)) => {
                assert!(fd.is_none(), "a reply carried a descriptor: {reply:?}");
                let Some(at) = pending.iter().position(|r| answers(&fx.trusted, r, &reply)) else {
                    panic!("reply {reply:?} answers none of {pending:?}");
                };
                pending.swap_remove(at);
                answered += 1;
                if clean && answered == total {
                    shut_write(&ours);
                }
            }
            Err(FrameError::Closed) => break,
            // Closed with some of our bytes unread (a bad frame).
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the broker's reply stream broke: {e}"),
        }
    }
    if clean {
        assert!(
            pending.is_empty(),
            "the broker closed with {} of {total} requests unanswered: {pending:?}",
            pending.len()
        );
    }
    writer.await.expect("the writer");
    if let Err(e) = broker.await {
        panic!("the broker's task failed: {e}");
    }
}

//! The broker with a stand-in storage process: the test holds the storage
//! process's end of the control socket, sees every AddOwner and
//! NewConnection the broker sends, and answers AddOwner when it chooses.
//! Everything is driven by those events; nothing waits on time.

use std::collections::HashSet;
use std::sync::Arc;

use mailkeep_storage_rpc::broker::{
    AttachStorage, BrokerReply, BrokerRequest, ControlMessage, ControlReply, EndSession,
    RefusalCode, broker_reply, broker_request, control_message,
};
use mailkeep_storage_rpc::framing::{recv_frame, send_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::{Claims, HostKey, Scope, TrustedHosts, now_unix, sign};
use tokio::net::UnixStream;

use super::serve_client;
use crate::layout::Prepared;
use crate::serve::Shared;
use crate::storage_procs::{ControlChannel, StorageProc};

/// A channel as the master makes one: its end (woken for reading only,
/// as `children::socket_pair` gives) and the test's end.
fn quiet_pair() -> (QuietStream, UnixStream) {
    let (master_end, ours) = QuietStream::with_peer().unwrap();
    ours.set_nonblocking(true).unwrap();
    (master_end, UnixStream::from_std(ours).unwrap())
}

/// A storage process `pid` that the test plays through `control`'s other
/// end: serving no owner yet, with `open_connections` connections.
fn stand_in(pid: u32, control: &Arc<ControlChannel>, open_connections: u32) -> StorageProc {
    StorageProc {
        pid,
        control: Arc::clone(control),
        connections: Default::default(),
        owners: HashSet::new(),
        open_connections,
        idle_since: None,
        in_flight: 0,
        busy: false,
        pressed: false,
        adding: Default::default(),
        reach: Vec::new(),
    }
}

/// A master in per-uid mode whose users a, b and c share uid 5000, with
/// one storage process of that uid in its table that serves none of them
/// yet. The test plays that process through `storage`.
struct Setup {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    key: HostKey,
    /// The storage process's end of its control socket.
    storage: UnixStream,
    /// The master's end, to hand it the process's replies.
    control: Arc<ControlChannel>,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut config = mailkeep_config::Config::default();
        config.server.data_dir = dir.path().join("data");
        config.storage.mode = mailkeep_config::StorageMode::PerUid;
        config.resolve().unwrap();
        std::fs::create_dir_all(config.data_dir()).unwrap();
        let homes = dir.path().join("home");
        let mut users: String = ["a", "b", "c"]
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}x:5000:5000::{}::\n", homes.join(u).display()))
            .collect();
        // d's mail lives on host "far", reached through the relay.
        users.push_str(&format!(
            "d:{{PLAIN}}x:5000:5000::{}::host=far\n",
            homes.join("d").display()
        ));
        config
            .cluster
            .hosts
            .insert("far".into(), "127.0.0.9:4190".into());
        std::fs::write(config.users_file(), users).unwrap();
        let key = HostKey::generate();
        let mut trusted = TrustedHosts::new();
        trusted.insert("test", key.public()).unwrap();
        let prepared = Prepared {
            privileged: false,
            protocol_uid: 0,
            protocol_gid: 0,
            auth_uid: 0,
            auth_gid: 0,
            mail_uid: 5000,
            mail_gid: 5000,
            chroot: dir.path().join("empty"),
            keys: crate::host_keys::HostKeys {
                name: "test".into(),
                public: key.public(),
                trusted,
            },
            demo_password: None,
        };
        let shared = Arc::new(Shared::new(config, None, prepared, "/nonexistent".into()));
        let (master_end, storage) = quiet_pair();
        let control = Arc::new(ControlChannel::new(master_end));
        let process = stand_in(4242, &control, 0);
        shared
            .storage
            .try_lock()
            .unwrap()
            .insert("uid:5000".into(), process);
        Setup {
            _dir: dir,
            shared,
            key,
            storage,
            control,
        }
    }

    /// A protocol process's broker channel, served by the broker.
    fn client(&self, client_id: u64) -> UnixStream {
        let (theirs, ours) = quiet_pair();
        tokio::spawn(serve_client(
            Arc::clone(&self.shared),
            client_id,
            "imap",
            theirs,
        ));
        ours
    }

    /// Sends request `id`: attach `owner`'s storage.
    async fn attach(&self, client: &UnixStream, id: u64, owner: &str) {
        self.attach_with(client, id, owner, self.ticket(owner))
            .await;
    }

    /// A session ticket of `user` in a new session, issued by "test".
    fn ticket(&self, user: &str) -> String {
        self.ticket_of_scope(user, Scope::Session)
    }

    /// A valid ticket of `user` with `scope`.
    pub(super) fn ticket_of_scope(&self, user: &str, scope: Scope) -> String {
        sign(
            &self.key,
            &Claims::new(user, scope, now_unix(), 3600, "test"),
        )
        .to_string()
    }

    /// Sends request `id`: attach `owner`'s storage with `ticket`.
    async fn attach_with(&self, client: &UnixStream, id: u64, owner: &str, ticket: String) {
        let request = BrokerRequest {
            id,
            kind: Some(broker_request::Kind::AttachStorage(AttachStorage {
                ticket,
                owner: owner.into(),
                held_connections: Vec::new(),
            })),
        };
        send_frame(client, &request, None).await.unwrap();
    }

    /// The next AddOwner the storage process gets: (owner, request id).
    async fn add_owner(&self) -> (String, u64) {
        let (message, fd): (ControlMessage, _) = recv_frame(&self.storage).await.unwrap();
        assert!(fd.is_none());
        match message.kind {
            Some(control_message::Kind::AddOwner(add)) => (add.owner, add.request_id),
            other => panic!("expected AddOwner, got {other:?}"),
        }
    }

    /// The next NewConnection the storage process gets (with its socket).
    async fn new_connection(&self) -> u64 {
        let (message, fd): (ControlMessage, _) = recv_frame(&self.storage).await.unwrap();
        assert!(fd.is_some(), "a new connection comes with its socket");
        match message.kind {
            Some(control_message::Kind::NewConnection(c)) => c.connection_id,
            other => panic!("expected NewConnection, got {other:?}"),
        }
    }

    /// The storage process answers AddOwner `request_id`: it serves the owner.
    fn serves(&self, request_id: u64) {
        self.control.deliver(ControlReply {
            request_id,
            ..ControlReply::default()
        });
    }
}

/// The next reply on a broker channel: (request id, connection id).
async fn attached(client: &UnixStream) -> (u64, u64) {
    let (reply, fd): (BrokerReply, _) = recv_frame(client).await.unwrap();
    match reply.kind {
        Some(broker_reply::Kind::Storage(s)) => {
            assert!(fd.is_some(), "a new connection comes with its socket");
            (reply.id, s.connection_id)
        }
        other => panic!("expected StorageAttached, got {other:?}"),
    }
}

/// Whether a reply is waiting on `client` (without waiting for one).
fn has_reply(client: &UnixStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(client.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test]
async fn a_slow_owner_add_does_not_hold_up_another_owners_attach() {
    let s = Setup::new();
    let (first, second) = (s.client(1), s.client(2));
    s.attach(&first, 1, "a").await;
    let (owner, slow) = s.add_owner().await;
    assert_eq!(owner, "a");
    // The process has not answered for a; b attaches meanwhile, from
    // another protocol process, and gets through.
    s.attach(&second, 1, "b").await;
    let (owner, quick) = s.add_owner().await;
    assert_eq!(owner, "b");
    s.serves(quick);
    let connection = s.new_connection().await;
    assert_eq!(attached(&second).await, (1, connection));
    assert!(
        !has_reply(&first),
        "a's attach answered before its owner was added"
    );
    // Now a's store is open: a gets its connection.
    s.serves(slow);
    let connection = s.new_connection().await;
    assert_eq!(attached(&first).await, (1, connection));
}

#[tokio::test]
async fn one_channel_gets_each_reply_when_ready_and_one_add_serves_an_owners_logins() {
    let s = Setup::new();
    let client = s.client(1);
    s.attach(&client, 1, "a").await;
    s.attach(&client, 2, "a").await;
    s.attach(&client, 3, "c").await;
    // One AddOwner for a, however many of a's logins wait for it.
    let (x, y) = (s.add_owner().await, s.add_owner().await);
    let (slow, quick) = if x.0 == "a" { (x, y) } else { (y, x) };
    assert_eq!((slow.0.as_str(), quick.0.as_str()), ("a", "c"));
    s.serves(quick.1);
    let connection = s.new_connection().await;
    assert_eq!(attached(&client).await, (3, connection));
    s.serves(slow.1);
    let mut connections = [s.new_connection().await, s.new_connection().await];
    let mut replies = [attached(&client).await, attached(&client).await];
    replies.sort_unstable();
    connections.sort_unstable();
    assert_eq!(replies.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    let mut got: Vec<u64> = replies.iter().map(|r| r.1).collect();
    got.sort_unstable();
    assert_eq!(got, connections);
    // a is served now: a later attach sends no AddOwner.
    s.attach(&client, 4, "a").await;
    let connection = s.new_connection().await;
    assert_eq!(attached(&client).await, (4, connection));
}

/// The next message the storage process gets: a Revoke, as session ids,
/// with the id the broker waits to hear confirmed.
async fn revoked(storage: &UnixStream) -> (Vec<Vec<u8>>, u64) {
    let (message, _): (ControlMessage, _) = recv_frame(storage).await.unwrap();
    match message.kind {
        Some(control_message::Kind::Revoke(r)) => (
            r.sessions.into_iter().map(|s| s.session).collect(),
            r.request_id,
        ),
        other => panic!("expected Revoke, got {other:?}"),
    }
}

/// The next reply on a broker channel, whatever it is.
async fn reply(client: &UnixStream) -> broker_reply::Kind {
    let (reply, _): (BrokerReply, _) = recv_frame(client).await.unwrap();
    reply.kind.unwrap()
}

fn session_of(s: &Setup, ticket: &str) -> Vec<u8> {
    s.shared
        .verifier
        .verify(ticket, now_unix())
        .unwrap()
        .session
        .0
        .to_vec()
}

#[tokio::test]
async fn an_ended_session_is_revoked_at_the_broker_and_in_its_storage_process() {
    let s = Setup::new();
    let client = s.client(1);
    let ticket = s.ticket("a");
    s.attach_with(&client, 1, "a", ticket.clone()).await;
    let (_, add) = s.add_owner().await;
    s.serves(add);
    s.new_connection().await;
    attached(&client).await;

    let end = BrokerRequest {
        id: 2,
        kind: Some(broker_request::Kind::EndSession(EndSession {
            ticket: ticket.clone(),
        })),
    };
    send_frame(&client, &end, None).await.unwrap();
    let (sessions, request_id) = revoked(&s.storage).await;
    assert_eq!(sessions, vec![session_of(&s, &ticket)]);
    // The end is acknowledged only once the storage process confirmed it
    // refuses the session (so a LOGOUT answered means tickets refused).
    assert_ne!(request_id, 0, "the revocation asks for a confirmation");
    let early = tokio::time::timeout(std::time::Duration::from_millis(200), reply(&client)).await;
    assert!(
        early.is_err(),
        "acknowledged before the storage process confirmed: {early:?}"
    );
    s.serves(request_id);
    assert!(matches!(
        reply(&client).await,
        broker_reply::Kind::Acknowledged(_)
    ));

    // The captured ticket gets nothing from the broker any more.
    s.attach_with(&client, 3, "a", ticket).await;
    match reply(&client).await {
        broker_reply::Kind::Error(e) => {
            assert_eq!(e.code(), RefusalCode::Unauthenticated);
            assert!(e.message.contains("revoked"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_protocol_process_that_goes_away_ends_its_sessions() {
    let s = Setup::new();
    let client = s.client(7);
    let ticket = s.ticket("b");
    s.attach_with(&client, 1, "b", ticket.clone()).await;
    let (_, add) = s.add_owner().await;
    s.serves(add);
    s.new_connection().await;
    attached(&client).await;
    drop(client);
    let (sessions, request_id) = revoked(&s.storage).await;
    assert_eq!(sessions, vec![session_of(&s, &ticket)]);
    s.serves(request_id);
    assert!(
        s.shared.sessions.is_revoked(
            &s.shared
                .verifier
                .verify(&ticket, now_unix())
                .unwrap()
                .session
        )
    );
}

/// A storage process killed a moment ago, whose exit the master has not
/// reaped yet, is still in the table and is picked first (it has the
/// fewest connections). Its control channel cannot be written: the
/// broker takes it out of the table and picks again, and the attach gets
/// a connection to the other process instead of a refusal.
#[tokio::test]
async fn an_attach_to_a_process_that_just_died_is_served_by_another() {
    let Setup {
        _dir,
        shared,
        storage: dead_end,
        control: dead_control,
        key,
    } = Setup::new();
    // Process 4242 serves a already, so the attach goes straight to its
    // NewConnection, which fails: the process is gone.
    shared
        .storage
        .lock()
        .await
        .by_pid_mut(4242)
        .expect("the first process")
        .owners
        .insert("a".into());
    drop(dead_end);
    let (master_end, live_end) = quiet_pair();
    let live_control = Arc::new(ControlChannel::new(master_end));
    let live = stand_in(4343, &live_control, 5);
    shared.storage.lock().await.insert("uid:5000".into(), live);
    let s = Setup {
        _dir,
        shared,
        key,
        storage: live_end,
        control: live_control,
    };
    let client = s.client(1);
    s.attach(&client, 1, "a").await;
    // Without the retry the attach is refused and no AddOwner comes.
    let (owner, add) = tokio::select! {
        add = s.add_owner() => add,
        refused = reply(&client) => panic!("the attach was answered first: {refused:?}"),
    };
    assert_eq!(owner, "a", "the live process is asked to serve a");
    s.serves(add);
    let connection = s.new_connection().await;
    assert_eq!(attached(&client).await, (1, connection));
    assert!(dead_control.is_closed());
    let table = s.shared.storage.lock().await;
    let pids: Vec<u32> = table.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [4343], "the dead process left the table");
}

/// What a compromised protocol process can make of its broker channel
/// (DESIGN §3): a ticket signed with a key of its own under the trusted
/// host's name, or garbage, attaches nothing; the storage process hears
/// nothing of either (the first message it gets is the AddOwner of the
/// valid attach that follows). Another user's session or delivery ticket
/// does reach the owner's storage process, which admits it as a guest
/// limited by the owner's ACLs (a delivery only posts, where granted 'p').
#[tokio::test]
async fn a_forged_ticket_attaches_nothing_and_another_users_reaches_a_guest() {
    let s = Setup::new();
    let client = s.client(1);
    let forged = sign(
        &HostKey::generate(),
        &Claims::new("a", Scope::Admin, now_unix(), 3600, "test"),
    );
    s.attach_with(&client, 1, "a", forged.to_string()).await;
    match reply(&client).await {
        broker_reply::Kind::Error(e) => assert_eq!(e.code(), RefusalCode::Unauthenticated),
        other => panic!("a forged ticket: expected a refusal, got {other:?}"),
    }
    s.attach_with(&client, 3, "a", "mk2.garbage.garbage".into())
        .await;
    match reply(&client).await {
        broker_reply::Kind::Error(e) => assert_eq!(e.code(), RefusalCode::Unauthenticated),
        other => panic!("a garbage ticket: expected a refusal, got {other:?}"),
    }
    // b's delivery ticket, for a delivery into a mailbox a shares.
    s.attach_with(&client, 4, "a", s.ticket_of_scope("b", Scope::Deliver))
        .await;
    let (owner, add) = s.add_owner().await;
    assert_eq!(owner, "a");
    s.serves(add);
    s.new_connection().await;
    assert_eq!(attached(&client).await.0, 4);
}

#[path = "broker_relay.rs"]
mod relay;

//! Setup shared by the storage server's integration tests: a storage
//! process served in-process over a control socket pair that stands in for
//! the master, connections passed to it as the broker passes them, tickets
//! signed with the test's key, and the storage RPCs the tests call often.
//!
//! Each test file includes this with `mod common;`; a file that uses only
//! part of it marks that line `#[allow(dead_code)]`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageServerError, StorageSettings, Tuning, serve, serve_tuned};
use mailkeep_ticket::{Claims, HostKey, Scope, TrustedHosts, now_unix, sign};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::transport::Channel;

/// The user whose mail the test processes serve.
pub const OWNER: &str = "alice";

/// The host name the test tickets are issued under.
pub const ISSUER: &str = "test";

/// The test's auth key: it signs the tickets; the storage process gets
/// only its public half, in the trusted-host list of [`TestKey::trusted`].
#[derive(Clone)]
pub struct TestKey(std::sync::Arc<HostKey>);

impl TestKey {
    /// A new random key.
    pub fn generate() -> TestKey {
        TestKey(std::sync::Arc::new(HostKey::generate()))
    }

    /// The list a storage process trusts: this key as host [`ISSUER`].
    pub fn trusted(&self) -> TrustedHosts {
        let mut trusted = TrustedHosts::new();
        trusted.insert(ISSUER, self.0.public()).unwrap();
        trusted
    }
}

impl std::ops::Deref for TestKey {
    type Target = HostKey;
    fn deref(&self) -> &HostKey {
        &self.0
    }
}

/// One storage process serving `OWNER` from a home directory, running as a
/// task of the test's runtime. Dropping it stops the task.
pub struct Process {
    master: UnixStream,
    server: AbortOnDrop,
}

/// The task running `serve`, aborted when dropped.
struct AbortOnDrop(JoinHandle<Result<(), StorageServerError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Process {
    /// Starts serving `OWNER`'s mail under `home`, taking tickets signed
    /// with `key`.
    pub fn start(home: &Path, key: &TestKey) -> Process {
        let (control, master) = QuietStream::with_peer().unwrap();
        master.set_nonblocking(true).unwrap();
        let master = UnixStream::from_std(master).unwrap();
        let settings = StorageSettings {
            owner: OWNER.into(),
            home: home.to_path_buf(),
            maildir: None,
        };
        let server = tokio::spawn(serve(settings, key.trusted(), control));
        Process {
            master,
            server: AbortOnDrop(server),
        }
    }

    /// Like [`Process::start`], with `tuning` and `settings` as given.
    pub fn start_with(settings: StorageSettings, tuning: Tuning, key: &TestKey) -> Process {
        let (control, master) = QuietStream::with_peer().unwrap();
        master.set_nonblocking(true).unwrap();
        let master = UnixStream::from_std(master).unwrap();
        let server = tokio::spawn(serve_tuned(settings, tuning, key.trusted(), control));
        Process {
            master,
            server: AbortOnDrop(server),
        }
    }

    /// A socket connected to this process, passed over the control socket
    /// as the broker does, with connection id `id`.
    pub async fn socket(&self, id: u64) -> UnixStream {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = OwnedFd::from(theirs);
        let msg = ControlMessage {
            kind: Some(Kind::NewConnection(NewConnection {
                connection_id: id,
                ..Default::default()
            })),
        };
        send_frame(&self.master, &msg, Some(&fd)).await.unwrap();
        drop(fd);
        ours.set_nonblocking(true).unwrap();
        UnixStream::from_std(ours).unwrap()
    }

    /// Sends a control message, as the master does (e.g. `Revoke`).
    pub async fn control(&self, message: &ControlMessage) {
        send_frame(&self.master, message, None).await.unwrap();
    }

    /// A gRPC channel over a new passed connection (see [`Process::socket`]).
    pub async fn channel(&self, id: u64) -> Channel {
        channel_over(self.socket(id).await).await.unwrap()
    }

    /// A Storage client over a new passed connection.
    pub async fn client(&self, id: u64) -> StorageClient<Channel> {
        storage_client(self.channel(id).await)
    }

    /// Closes the control socket, as a master that exits does, and waits
    /// for the process to end; what `serve` returned.
    pub async fn stop(self) -> Result<(), StorageServerError> {
        let Process { master, mut server } = self;
        drop(master);
        (&mut server.0).await.unwrap()
    }
}

/// A storage process on a new temporary home, with the key its tickets
/// are signed with.
pub struct Harness {
    pub process: Process,
    pub home: tempfile::TempDir,
    pub key: TestKey,
}

impl Harness {
    /// Starts a process (within a Tokio runtime) on a new home and key.
    pub fn start() -> Harness {
        let home = tempfile::tempdir().unwrap();
        let key = TestKey::generate();
        let process = Process::start(home.path(), &key);
        Harness { process, home, key }
    }

    /// Another storage process for the same owner, home and key, as the
    /// master may run beside the first.
    pub fn another_process(&self) -> Process {
        Process::start(self.home.path(), &self.key)
    }

    /// The owner's Maildir under the home.
    pub fn maildir(&self) -> PathBuf {
        self.home.path().join("Maildir")
    }

    /// See [`Process::channel`].
    pub async fn channel(&self, id: u64) -> Channel {
        self.process.channel(id).await
    }

    /// See [`Process::client`].
    pub async fn client(&self, id: u64) -> StorageClient<Channel> {
        self.process.client(id).await
    }

    /// A valid session ticket for `OWNER`.
    pub fn ticket(&self) -> String {
        self.ticket_for(OWNER, Scope::Session)
    }

    /// A valid ticket for `user` with `scope`, signed with this key.
    pub fn ticket_for(&self, user: &str, scope: Scope) -> String {
        ticket_signed_with(&self.key, user, scope)
    }
}

/// A ticket for `user` with `scope`, valid for an hour from now, signed
/// with `key`.
pub fn ticket_signed_with(key: &TestKey, user: &str, scope: Scope) -> String {
    sign(key, &Claims::new(user, scope, now_unix(), 3600, ISSUER)).to_string()
}

/// A session ticket for `OWNER` that is in order but signed with a key no
/// process knows.
pub fn forged_ticket() -> String {
    ticket_signed_with(&TestKey::generate(), OWNER, Scope::Session)
}

/// A Storage client on `channel` that takes messages as large as the
/// storage RPC allows.
pub fn storage_client(channel: Channel) -> StorageClient<Channel> {
    StorageClient::new(channel)
        .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
        .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
}

/// The UID set of one message.
pub fn one_uid(uid: u32) -> Vec<UidRange> {
    vec![UidRange {
        first: uid,
        last: uid,
    }]
}

/// The UID set `1:*`.
pub fn all_uids() -> Vec<UidRange> {
    vec![UidRange {
        first: 1,
        last: u32::MAX,
    }]
}

/// The header of an APPEND of `size` bytes to `OWNER`'s `mailbox` with
/// `flags` and no internal date.
pub fn append_header(mailbox: &str, flags: &[&str], size: u64) -> AppendHeader {
    AppendHeader {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        flags: flags.iter().map(|s| s.to_string()).collect(),
        internal_date: 0,
        internal_date_offset_minutes: 0,
        size,
        replace: None,
        size_unknown: false,
        claim_recent: false,
    }
}

/// One message of an Append stream: `header`, then `body` in chunks of at
/// most the storage RPC's chunk size.
pub fn message_parts(header: AppendHeader, body: &[u8]) -> Vec<AppendRequest> {
    let mut parts = vec![AppendRequest {
        part: Some(Part::Header(header)),
    }];
    for chunk in body.chunks(mailkeep_storage_rpc::CHUNK_SIZE) {
        parts.push(AppendRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    }
    parts
}

/// A whole Append stream of one message: its parts, then the commit.
pub fn append_stream(header: AppendHeader, body: &[u8]) -> Vec<AppendRequest> {
    let mut parts = message_parts(header, body);
    parts.push(AppendRequest::commit());
    parts
}

/// Sends an APPEND request stream with `ticket`.
pub async fn send_append(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    parts: Vec<AppendRequest>,
) -> Result<AppendResponse, Status> {
    client
        .append(with_ticket(tokio_stream::iter(parts), ticket))
        .await
        .map(|r| r.into_inner())
}

/// Appends `body` to `OWNER`'s `mailbox` without flags; it must succeed.
pub async fn append(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    body: &[u8],
) -> AppendResponse {
    let parts = append_stream(append_header(mailbox, &[], body.len() as u64), body);
    send_append(client, ticket, parts).await.unwrap()
}

/// Creates `OWNER`'s mailbox `name`.
pub async fn create_mailbox(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    name: &str,
) -> Result<(), Status> {
    let request = CreateMailboxRequest {
        owner: OWNER.into(),
        name: name.into(),
    };
    client.create_mailbox(with_ticket(request, ticket)).await?;
    Ok(())
}

/// Renames `OWNER`'s mailbox `from` to `to`.
pub async fn rename_mailbox(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    from: &str,
    to: &str,
) -> Result<(), Status> {
    let request = RenameMailboxRequest {
        owner: OWNER.into(),
        from: from.into(),
        to: to.into(),
    };
    client.rename_mailbox(with_ticket(request, ticket)).await?;
    Ok(())
}

/// Deletes `OWNER`'s mailbox `name`.
pub async fn delete_mailbox(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    name: &str,
) -> Result<(), Status> {
    let request = DeleteMailboxRequest {
        owner: OWNER.into(),
        name: name.into(),
    };
    client.delete_mailbox(with_ticket(request, ticket)).await?;
    Ok(())
}

/// The status of `OWNER`'s mailbox `name`.
pub async fn mailbox_status(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    name: &str,
) -> Result<MailboxStatus, Status> {
    let request = MailboxStatusRequest {
        owner: OWNER.into(),
        name: name.into(),
        ..Default::default()
    };
    let response = client.mailbox_status(with_ticket(request, ticket)).await?;
    Ok(response.into_inner().status.unwrap())
}

/// Changes the flags of message `uid` in `OWNER`'s `mailbox` (0 for
/// `uidvalidity`: whatever it is) by `mode`.
pub async fn store_flags(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
    mode: StoreMode,
    flags: &[&str],
) -> Result<StoreFlagsResponse, Status> {
    let request = StoreFlagsRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity,
        uids: one_uid(uid),
        mode: mode as i32,
        flags: flags.iter().map(|s| s.to_string()).collect(),
        unchanged_since: None,
    };
    let response = client.store_flags(with_ticket(request, ticket)).await?;
    Ok(response.into_inner())
}

/// Expunges every message marked \Deleted in `OWNER`'s `mailbox`.
pub async fn expunge_deleted(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    uidvalidity: u32,
) -> Result<ExpungeResponse, Status> {
    let request = ExpungeRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity,
        uids: vec![],
    };
    let response = client.expunge(with_ticket(request, ticket)).await?;
    Ok(response.into_inner())
}

/// A Watch stream of `mailbox` of [`OWNER`], opened with `ticket`.
pub async fn watch(
    channel: Channel,
    ticket: &str,
    mailbox: &str,
) -> tonic::Streaming<MailboxEvent> {
    let request = WatchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
    };
    watch_client::WatchClient::new(channel)
        .watch(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
}

/// The next event of a Watch stream, within `limit`.
pub async fn next_event(
    events: &mut tonic::Streaming<MailboxEvent>,
    limit: std::time::Duration,
) -> mailbox_event::Event {
    tokio::time::timeout(limit, events.message())
        .await
        .expect("no event in time")
        .unwrap()
        .expect("stream ended")
        .event
        .expect("empty event")
}

/// A Watch event as text, for comparing streams: `Created X`, `Renamed X
/// Y`, `Deleted X`, `Rights X`, `Changed X`, `Resync`.
pub fn event_text(event: mailbox_event::Event) -> String {
    match event {
        mailbox_event::Event::List(l) => format!("{:?} {} {}", l.kind(), l.name, l.new_name)
            .trim_end()
            .to_owned(),
        mailbox_event::Event::Changed(c) => format!("Changed {}", c.mailbox),
        mailbox_event::Event::Resync(_) => "Resync".to_owned(),
    }
}

/// Every item of a Fetch of `req` with `ticket`, in order; the Fetch must
/// succeed.
pub async fn fetch_all(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    req: FetchRequest,
) -> Vec<fetch_item::Item> {
    let stream = client
        .fetch(with_ticket(req, ticket))
        .await
        .unwrap()
        .into_inner();
    let mut stream = mailkeep_storage_rpc::fetch_items::FetchItems::new(stream);
    let mut items = Vec::new();
    while let Some(item) = stream.next().await.unwrap() {
        items.push(item);
    }
    items
}

/// Lists `OWNER`'s mailboxes with `ticket`: whether the storage process
/// takes the ticket.
pub async fn list_with(c: &mut StorageClient<Channel>, ticket: &str) -> Result<(), Status> {
    c.list_mailboxes(with_ticket(
        ListMailboxesRequest {
            owner: OWNER.into(),
        },
        ticket,
    ))
    .await
    .map(|_| ())
}

/// The master's message that `session` (of `OWNER`) ended, for two hours.
pub fn revoke_session(session: mailkeep_ticket::SessionId) -> ControlMessage {
    use mailkeep_storage_rpc::broker::{Revoke, RevokedSession};
    ControlMessage {
        kind: Some(Kind::Revoke(Revoke {
            sessions: vec![RevokedSession {
                session: session.0.to_vec(),
                until_unix: now_unix() + 7200,
                user: OWNER.into(),
            }],
            request_id: 0,
        })),
    }
}

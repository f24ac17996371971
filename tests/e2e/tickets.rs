//! A storage process refuses every call whose ticket does not prove the
//! right to it (DESIGN §2): we start one exactly as the master does and
//! call it over gRPC with good, forged, expired, wrong-scope and
//! wrong-owner tickets.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::process::{Child, Command, Stdio};

use command_fds::{CommandFdExt, FdMapping};
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection, control_message};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::{
    AppendHeader, AppendRequest, FetchRequest, ListMailboxesRequest, MailboxStatusRequest,
    UidRange, append_request, fetch_item,
};
use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::harness::{BIN, DEADLINE, MAIL_GID, MAIL_UID, TestDir, make_message, require_root};

const OWNER: &str = "alice";

/// Kills the hand-started storage process when the test ends.
struct StorageGuard {
    child: Child,
    log: std::path::PathBuf,
    /// Our end of its control channel, open for its lifetime (it may take
    /// the channel's close as the master's exit).
    control: Option<tokio::net::UnixStream>,
}

impl Drop for StorageGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- storage process stderr ---\n{}\n---",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// The host name the test's tickets are issued as.
const ISSUER: &str = "e2e-test";

/// Starts `mailkeep role storage` for `OWNER` as the master would: the
/// control socket at fd 3, the trusted-host list (`ISSUER` with the public
/// half of `key`: the process gets no signing key) at fd 4, uid/gid 5000. Returns the
/// guard and a gRPC client over a connection handed to it with
/// `ControlMessage::NewConnection`.
async fn start_storage(dir: &TestDir, key: &HostKey) -> (StorageGuard, StorageClient<Channel>) {
    // The owner's home: reachable through 0755 parents, the owner's own.
    let homes = dir.path().join("home");
    fs::create_dir_all(&homes).expect("creating home/");
    fs::set_permissions(&homes, fs::Permissions::from_mode(0o755)).expect("chmod home/");
    let home = homes.join(OWNER);
    fs::create_dir(&home).expect("creating the home");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).expect("chmod the home");
    nix::unistd::chown(
        &home,
        Some(nix::unistd::Uid::from_raw(MAIL_UID)),
        Some(nix::unistd::Gid::from_raw(MAIL_GID)),
    )
    .expect("chown the home");

    let key_path = dir.path().join("trusted-hosts");
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .expect("creating the key file");
        f.write_all(format!("{ISSUER} {}\n", key.public()).as_bytes())
            .expect("writing the trusted-host list");
    }
    let key_file = fs::File::open(&key_path).expect("opening the key file");

    let (control_ours, control_theirs) =
        std::os::unix::net::UnixStream::pair().expect("control socket pair");
    let log = dir.path().join("storage.log");
    let mut cmd = Command::new(BIN);
    cmd.args(["role", "storage", "--owner", OWNER, "--home"])
        .arg(&home)
        .args([
            "--uid",
            &MAIL_UID.to_string(),
            "--gid",
            &MAIL_GID.to_string(),
        ])
        .args(["--fd-control", "3", "--fd-trusted", "4"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("creating the storage log"));
    cmd.fd_mappings(vec![
        FdMapping {
            parent_fd: OwnedFd::from(control_theirs),
            child_fd: 3,
        },
        FdMapping {
            parent_fd: OwnedFd::from(key_file),
            child_fd: 4,
        },
    ])
    .expect("mapping descriptors 3 and 4");
    let child = cmd.spawn().expect("starting mailkeep role storage");
    // The Command holds the parent ends of the mapped descriptors: drop it
    // so only the child has them.
    drop(cmd);
    let mut guard = StorageGuard {
        child,
        log,
        control: None,
    };

    control_ours.set_nonblocking(true).expect("nonblocking");
    let control = guard
        .control
        .insert(tokio::net::UnixStream::from_std(control_ours).expect("tokio control socket"));
    let (client_end, server_end) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let server_end = OwnedFd::from(server_end);
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id: 1,
            ..Default::default()
        })),
    };
    tokio::time::timeout(
        DEADLINE,
        mailkeep_storage_rpc::framing::send_frame(control, &message, Some(&server_end)),
    )
    .await
    .expect("sending NewConnection timed out")
    .expect("sending NewConnection");
    drop(server_end);

    client_end.set_nonblocking(true).expect("nonblocking");
    let stream = tokio::net::UnixStream::from_std(client_end).expect("tokio client socket");
    let channel = tokio::time::timeout(
        DEADLINE,
        mailkeep_storage_rpc::channel::channel_over(stream),
    )
    .await
    .expect("gRPC handshake timed out")
    .expect("gRPC channel over the passed socket");
    let client = StorageClient::new(channel)
        .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
        .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE);
    (guard, client)
}

/// A ticket for `user` with `scope`, valid for an hour, signed with `key`.
fn ticket(key: &HostKey, user: &str, scope: Scope) -> String {
    sign(key, &Claims::new(user, scope, now_unix(), 3600, ISSUER)).to_string()
}

/// ListMailboxes for `owner` carrying `ticket` (no metadata at all when None).
async fn list(
    client: &StorageClient<Channel>,
    owner: &str,
    ticket: Option<&str>,
) -> Result<Vec<String>, Status> {
    let msg = ListMailboxesRequest {
        owner: owner.to_owned(),
    };
    let req = match ticket {
        Some(t) => with_ticket(msg, t),
        None => tonic::Request::new(msg),
    };
    let r = tokio::time::timeout(DEADLINE, client.clone().list_mailboxes(req))
        .await
        .expect("ListMailboxes timed out")?;
    Ok(r.into_inner()
        .mailboxes
        .into_iter()
        .map(|m| m.name)
        .collect())
}

/// Fetches every INBOX message with its body, collecting the stream (an
/// error may come either as the call's status or inside the stream).
async fn fetch_all(
    client: &StorageClient<Channel>,
    ticket: &str,
    uidvalidity: u32,
) -> Result<Vec<fetch_item::Item>, Status> {
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uids: vec![UidRange {
            first: 1,
            last: u32::MAX,
        }],
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    tokio::time::timeout(DEADLINE, async {
        let mut stream = client
            .clone()
            .fetch(with_ticket(req, ticket))
            .await?
            .into_inner();
        let mut items = Vec::new();
        while let Some(batch) = stream.message().await? {
            items.extend(batch.items.into_iter().filter_map(|i| i.item));
        }
        Ok(items)
    })
    .await
    .expect("Fetch timed out")
}

/// Appends `message` to INBOX with `ticket`; returns the new UID.
async fn append(
    client: &StorageClient<Channel>,
    ticket: &str,
    message: &[u8],
) -> Result<u32, Status> {
    let header = AppendRequest {
        part: Some(append_request::Part::Header(AppendHeader {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            flags: Vec::new(),
            internal_date: 0,
            internal_date_offset_minutes: 0,
            size: message.len() as u64,
            replace: None,
            size_unknown: false,
            ..AppendHeader::default()
        })),
    };
    let chunk = AppendRequest {
        part: Some(append_request::Part::Chunk(message.to_vec())),
    };
    let stream = tonic::codegen::tokio_stream::iter(vec![header, chunk, AppendRequest::commit()]);
    let r = tokio::time::timeout(DEADLINE, client.clone().append(with_ticket(stream, ticket)))
        .await
        .expect("Append timed out")?;
    Ok(r.into_inner().uid)
}

/// Asserts `result` failed with `code`.
fn assert_code<T: std::fmt::Debug>(what: &str, result: Result<T, Status>, code: Code) {
    match result {
        Ok(v) => panic!("{what}: the storage process accepted it (got {v:?}); expected {code:?}"),
        Err(s) => assert_eq!(
            s.code(),
            code,
            "{what}: refused with {s:?}, expected {code:?}"
        ),
    }
}

/// A storage process started exactly as the master starts one serves a
/// correctly signed session ticket of its owner (ListMailboxes, Append,
/// Fetch with the exact bytes), and refuses everything else: a ticket
/// signed with another key, an expired one, tampered, malformed, empty or
/// garbage ones and a call without a ticket with UNAUTHENTICATED; a
/// deliver-scope ticket on ListMailboxes and Fetch, and another user's
/// valid ticket, with PERMISSION_DENIED. A deliver ticket may append
/// (DESIGN §2). After all that it still serves the valid ticket.
#[tokio::test]
async fn forged_tickets() {
    if !require_root("forged_tickets") {
        return;
    }
    let dir = TestDir::new();
    let key = HostKey::generate();
    let (_guard, client) = start_storage(&dir, &key).await;

    // --- the valid ticket works ---
    let good = ticket(&key, OWNER, Scope::Session);
    let names = list(&client, OWNER, Some(&good))
        .await
        .expect("ListMailboxes with a valid session ticket");
    assert!(
        names.iter().any(|n| n == "INBOX"),
        "ListMailboxes: {names:?}"
    );
    let message = make_message("ticket-test-1", 3000);
    let uid = append(&client, &good, &message)
        .await
        .expect("Append with a valid session ticket");
    let status = tokio::time::timeout(
        DEADLINE,
        client.clone().mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: OWNER.into(),
                name: "INBOX".into(),
                ..Default::default()
            },
            &good,
        )),
    )
    .await
    .expect("MailboxStatus timed out")
    .expect("MailboxStatus with a valid ticket")
    .into_inner()
    .status
    .expect("MailboxStatus carries a status");
    assert_eq!(status.messages, 1, "INBOX after one Append: {status:?}");
    let uidvalidity = status.uidvalidity;
    let items = fetch_all(&client, &good, uidvalidity)
        .await
        .expect("Fetch with a valid ticket");
    let mut body = Vec::new();
    let mut uids = Vec::new();
    for item in items {
        match item {
            fetch_item::Item::Message(m) => uids.push(m.uid),
            fetch_item::Item::BodyChunk(c) => body.extend_from_slice(&c),
            other => panic!("no cuts were asked for: {other:?}"),
        }
    }
    assert_eq!(uids, vec![uid], "Fetch returned UIDs {uids:?}");
    assert!(
        body == message,
        "Fetch returned other bytes than were appended"
    );

    // --- forged, expired, malformed: UNAUTHENTICATED ---
    // What a process holding only public keys (this storage process, a
    // compromised one included) can make: a ticket under the trusted
    // host's name signed with a key of its own.
    let other_key = HostKey::generate();
    let forged = ticket(&other_key, OWNER, Scope::Session);
    assert_code(
        "ticket signed with another key",
        list(&client, OWNER, Some(&forged)).await,
        Code::Unauthenticated,
    );
    let forged_admin = ticket(&other_key, OWNER, Scope::Admin);
    assert_code(
        "admin ticket signed with another key",
        list(&client, OWNER, Some(&forged_admin)).await,
        Code::Unauthenticated,
    );
    let expired = sign(
        &key,
        &Claims::new(OWNER, Scope::Session, now_unix() - 7200, 60, ISSUER),
    );
    assert_code(
        "expired ticket",
        list(&client, OWNER, Some(&expired)).await,
        Code::Unauthenticated,
    );
    let unknown_issuer = sign(
        &other_key,
        &Claims::new(OWNER, Scope::Session, now_unix(), 3600, "not-in-the-list"),
    );
    assert_code(
        "ticket of a host not on the trusted-host list",
        list(&client, OWNER, Some(&unknown_issuer)).await,
        Code::Unauthenticated,
    );
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert_code(
        "ticket with a changed signature",
        list(&client, OWNER, Some(&tampered)).await,
        Code::Unauthenticated,
    );
    // The claims of one ticket with the signature of another.
    let bob = ticket(&key, "bob", Scope::Session);
    let (good_signed, _) = good.rsplit_once('.').expect("ticket form");
    let (_, bob_mac) = bob.rsplit_once('.').expect("ticket form");
    let spliced = format!("{good_signed}.{bob_mac}");
    assert_code(
        "claims with another ticket's signature",
        list(&client, OWNER, Some(&spliced)).await,
        Code::Unauthenticated,
    );
    for garbage in ["garbage", "", "mk2.AAAA.BBBB", "mk2..", "tïcket-not-ascii"] {
        assert_code(
            &format!("ticket {garbage:?}"),
            list(&client, OWNER, Some(garbage)).await,
            Code::Unauthenticated,
        );
    }
    let huge = "A".repeat(5000);
    assert_code(
        "a 5000-byte ticket",
        list(&client, OWNER, Some(&huge)).await,
        Code::Unauthenticated,
    );
    assert_code(
        "no ticket",
        list(&client, OWNER, None).await,
        Code::Unauthenticated,
    );
    assert_code(
        "Fetch with a forged ticket",
        fetch_all(&client, &forged, uidvalidity).await,
        Code::Unauthenticated,
    );
    assert_code(
        "Append with a forged ticket",
        append(&client, &forged, &message).await,
        Code::Unauthenticated,
    );

    // --- valid signature, wrong scope or owner: PERMISSION_DENIED, or for
    // another user's session ticket only what ACLs grant ---
    let deliver = ticket(&key, OWNER, Scope::Deliver);
    assert_code(
        "deliver ticket on ListMailboxes",
        list(&client, OWNER, Some(&deliver)).await,
        Code::PermissionDenied,
    );
    assert_code(
        "deliver ticket on Fetch",
        fetch_all(&client, &deliver, uidvalidity).await,
        Code::PermissionDenied,
    );
    // bob's session ticket makes him a guest at alice's storage, who gets
    // what alice's ACLs grant him: nothing here. Her mailboxes are hidden
    // (not listed, "no such mailbox"), so nothing is read or added.
    let listed = list(&client, OWNER, Some(&bob))
        .await
        .expect("a guest's listing");
    assert!(
        listed.is_empty(),
        "alice's mailboxes listed to bob: {listed:?}"
    );
    assert_code(
        "bob's ticket on Fetch of alice's mail",
        fetch_all(&client, &bob, uidvalidity).await,
        Code::NotFound,
    );
    assert_code(
        "bob's ticket on Append to alice's INBOX",
        append(&client, &bob, &message).await,
        Code::NotFound,
    );
    // bob's deliver ticket may post only where alice grants bob 'p'
    // (a delivery into a shared mailbox): not into her INBOX, which stays
    // hidden from him; and it reads nothing.
    let bob_deliver = ticket(&key, "bob", Scope::Deliver);
    assert_code(
        "bob's deliver ticket on Append to alice's INBOX",
        append(&client, &bob_deliver, &message).await,
        Code::NotFound,
    );
    assert_code(
        "bob's deliver ticket on ListMailboxes of alice's",
        list(&client, OWNER, Some(&bob_deliver)).await,
        Code::PermissionDenied,
    );
    // Alice's storage process must not serve bob, even with bob's own ticket.
    let r = list(&client, "bob", Some(&bob)).await;
    assert!(
        r.is_err(),
        "alice's storage process served owner bob: {r:?}"
    );

    // A deliver ticket may append (DESIGN §2: "appending new mail").
    let delivered = make_message("ticket-test-delivered", 2000);
    append(&client, &deliver, &delivered)
        .await
        .expect("Append with a deliver-scope ticket (DESIGN §2 allows it)");

    // Nothing was appended by a refused call; the valid ticket still works.
    let names = list(&client, OWNER, Some(&good))
        .await
        .expect("ListMailboxes with the valid ticket after the refusals");
    assert!(
        names.iter().any(|n| n == "INBOX"),
        "ListMailboxes: {names:?}"
    );
    let items = fetch_all(&client, &good, uidvalidity)
        .await
        .expect("Fetch with the valid ticket after the refusals");
    let count = items
        .iter()
        .filter(|i| matches!(i, fetch_item::Item::Message(_)))
        .count();
    assert_eq!(
        count, 2,
        "INBOX should hold the session append and the delivery only"
    );
}

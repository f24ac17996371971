//! The storage service (`crates/storage-server`), fed what a compromised
//! protocol process can send on a storage connection it holds (DESIGN §3:
//! an imap, pop3 or lmtp process is trusted with no more than its
//! sessions): any bytes as the request of any storage method, with a valid
//! session ticket of the owner, served in process by the real `serve` on a
//! fresh copy of a small home (mailboxes, flags, plain, multipart and
//! enclosed messages).
//!
//! The input is a sequence of calls, each a method byte, a 2-byte
//! little-endian length and that many bytes of request, sent as they are.
//! The method byte's low six bits pick the method (an index into
//! [`METHODS`], modulo its length); its high bit sends the call with a
//! deliver ticket (what a compromised lmtp process holds) instead of a
//! session ticket, and the next one with a ticket of [`GUEST`], a user the
//! owner granted nothing, instead of the owner's. A client-streaming call
//! (Append) splits its bytes into messages by the same 2-byte lengths.
//!
//! Properties checked:
//! * nothing panics in the storage process's tasks and threads (a panic
//!   hook counts panics);
//! * every call is answered: a unary call with a message or a status, a
//!   streamed one with messages that end (a hang is a find, bounded by
//!   [`crate::rpc::CALL_LIMIT`]);
//! * no status says the storage process failed: bytes a protocol process
//!   chose are the client's error, refused with a typed reason, never
//!   `ServerBug` or `Corruption`, and never a broken connection or an
//!   untyped error — except bytes that are not the method's protobuf at
//!   all, which tonic itself refuses;
//! * a deliver ticket reads and changes nothing: every call it makes but
//!   an Append of new messages and the question whether a folder exists
//!   is refused, for want of permission (or as not served here, for an
//!   owner the process does not serve);
//! * another user's ticket, session or deliver, reads and changes nothing
//!   while the owner has granted no rights (until the input's first
//!   SetAcl by the owner): every call is refused, or answers that there is
//!   nothing to see;
//! * afterwards the process still serves the owner: STATUS of INBOX
//!   answers.

use std::path::Path;
use std::sync::OnceLock;

use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::search_key::Key;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageSettings, serve};
use mailkeep_ticket::{Claims, HostKey, Scope, TrustedHosts, now_unix, sign};
use prost::Message;
use tokio::net::UnixStream;
use tonic::Status;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use crate::rpc::{CALL_LIMIT, RawCodec, bounded, passed_channel, ready, undecodable};

/// The owner the process serves (and the tickets name).
const OWNER: &str = "alice";

/// The host the tickets are issued under.
const ISSUER: &str = "fuzz.example";

/// Most calls of one input.
const MAX_CALLS: usize = 12;

/// Most messages read from one streamed answer.
const MAX_STREAMED: usize = 100_000;

/// How a method is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One request, one answer.
    Unary,
    /// One request, a stream of answers read to its end.
    Streamed,
    /// One request, a stream that stays open while the caller holds it
    /// (Watch, the maildrop lock): only its start is awaited.
    Held,
    /// A stream of requests, one answer.
    Uploaded,
}

/// Every method of the storage RPC: its service, name and shape.
pub static METHODS: &[(&str, &str, Shape)] = &[
    ("Storage", "ListMailboxes", Shape::Unary),
    ("Storage", "CreateMailbox", Shape::Unary),
    ("Storage", "DeleteMailbox", Shape::Unary),
    ("Storage", "RenameMailbox", Shape::Unary),
    ("Storage", "MailboxStatus", Shape::Unary),
    ("Storage", "SelectMailbox", Shape::Unary),
    ("Storage", "Changes", Shape::Unary),
    ("Storage", "Append", Shape::Uploaded),
    ("Storage", "Fetch", Shape::Streamed),
    ("Storage", "StoreFlags", Shape::Unary),
    ("Storage", "Expunge", Shape::Unary),
    ("Storage", "MailboxExists", Shape::Unary),
    ("Storage", "ClaimRecent", Shape::Unary),
    ("Content", "FetchStructure", Shape::Streamed),
    ("Content", "FetchSection", Shape::Streamed),
    ("Search", "Search", Shape::Unary),
    ("Search", "Sort", Shape::Unary),
    ("Search", "Thread", Shape::Unary),
    ("Organize", "Copy", Shape::Unary),
    ("Organize", "Move", Shape::Unary),
    ("Organize", "Subscribe", Shape::Unary),
    ("Organize", "Unsubscribe", Shape::Unary),
    ("Organize", "ListSubscriptions", Shape::Unary),
    ("Organize", "SetSpecialUse", Shape::Unary),
    ("Metadata", "GetMetadata", Shape::Unary),
    ("Metadata", "SetMetadata", Shape::Unary),
    ("Acl", "GetAcl", Shape::Unary),
    ("Acl", "SetAcl", Shape::Unary),
    ("Acl", "DeleteAcl", Shape::Unary),
    ("Acl", "MyRights", Shape::Unary),
    ("Acl", "ListRights", Shape::Unary),
    ("Maildrop", "Open", Shape::Unary),
    ("Maildrop", "Lock", Shape::Held),
    ("Maildrop", "Commit", Shape::Unary),
    ("Maildrop", "Retrieve", Shape::Streamed),
    ("Watch", "Watch", Shape::Held),
];

/// Tokens for the stable engine's mutations: field keys and values of the
/// requests (owner, mailbox names, UID ranges, section parts, search keys).
pub static DICTIONARY: &[&[u8]] = &[
    b"\x0a\x05alice",
    b"\x12\x05INBOX",
    b"\x12\x04Work",
    b"\x12\x08Work.Sub",
    b"\x12\x00",
    b"\x18\x00",
    b"\x22\x04\x08\x01\x10\x03",
    b"\x22\x06\x08\x01\x10\xff\xff\x03",
    b"\x22\x0a\x08\x01\x10\xff\xff\xff\xff\x0f",
    b"\x28\x01",
    b"\x32\x02\x08\x01",
    b"\x32\x04\x08\x02\x10\x04",
    b"\x32\x06\x0a\x02\x01\x02\x10\x05",
    b"\xfa\x01\x00",
    b"\xf2\x01\x00",
    b"\x82\x02\x02\x08\x03",
    b"\x5a\x04body",
    b"\x08\x06",
    b"\x00",
    b"\x07",
    b"\x08",
    b"\x0e",
    b"\xff\xff",
];

/// The calls an owner's deliver ticket may make (`crates/storage-server`
/// admits an Append of its scope only without REPLACE or a claim of
/// recent messages).
const DELIVER_METHODS: [&str; 2] = ["Append", "MailboxExists"];

/// The method byte's bit that sends a call with a deliver ticket.
const DELIVER_BIT: u8 = 0x80;

/// The method byte's bit that sends a call with a ticket of [`GUEST`].
const GUEST_BIT: u8 = 0x40;

/// Another user, whom the template's owner granted no rights.
pub const GUEST: &str = "bob";

/// Runs the calls `data` encodes against a fresh storage process.
pub fn request_stream(data: &[u8]) {
    let fx = fixture();
    crate::rpc::runtime().block_on(exchange(fx, data));
}

/// One call of an input.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Its index in [`METHODS`].
    pub method: usize,
    /// Sent with a deliver ticket, not a session ticket.
    pub deliver: bool,
    /// Sent with a ticket of [`GUEST`], not the owner's.
    pub guest: bool,
    /// The request's bytes.
    pub request: &'a [u8],
}

/// The calls `data` encodes.
pub fn calls(data: &[u8]) -> Vec<Call<'_>> {
    crate::rpc::calls(data, MAX_CALLS)
        .into_iter()
        .map(|(selector, request)| Call {
            method: usize::from(selector & !(DELIVER_BIT | GUEST_BIT)) % METHODS.len(),
            deliver: selector & DELIVER_BIT != 0,
            guest: selector & GUEST_BIT != 0,
            request,
        })
        .collect()
}

/// One call of an input: `method` (its name in [`METHODS`]) with
/// `request`, as [`calls`] reads it.
pub fn call(method: &str, request: &[u8]) -> Vec<u8> {
    let index = METHODS
        .iter()
        .position(|(_, name, _)| *name == method)
        .unwrap_or_else(|| panic!("no method {method}"));
    crate::rpc::call(u8::try_from(index).expect("fewer than 64 methods"), request)
}

/// Like [`call`], sent with the owner's deliver ticket.
pub fn deliver_call(method: &str, request: &[u8]) -> Vec<u8> {
    let mut out = call(method, request);
    out[0] |= DELIVER_BIT;
    out
}

/// Like [`call`], sent with a ticket of [`GUEST`] (a deliver ticket if
/// `deliver`).
pub fn guest_call(method: &str, request: &[u8], deliver: bool) -> Vec<u8> {
    let mut out = call(method, request);
    out[0] |= GUEST_BIT;
    if deliver {
        out[0] |= DELIVER_BIT;
    }
    out
}

/// The messages of a client-streaming call's bytes.
fn uploaded(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let [lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

/// The bytes of a client-streaming call carrying `messages`.
pub fn upload(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let len = u16::try_from(m.len()).expect("a message of at most 64 KiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// The key and the populated home every input copies.
struct Fixture {
    key: HostKey,
    template: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = HostKey::generate();
        let template = tempfile::tempdir().expect("a temporary directory");
        crate::rpc::runtime().block_on(populate(template.path(), &key));
        Fixture { key, template }
    })
}

/// A storage process serving [`OWNER`] from `home`, in this runtime.
struct Process {
    master: UnixStream,
    server: tokio::task::JoinHandle<Result<(), mailkeep_storage_server::StorageServerError>>,
}

impl Process {
    fn start(home: &Path, key: &HostKey) -> Process {
        let (control, master) = QuietStream::with_peer().expect("a control socket pair");
        master.set_nonblocking(true).expect("a non-blocking socket");
        let master = UnixStream::from_std(master).expect("a tokio socket");
        let settings = StorageSettings {
            owner: OWNER.into(),
            home: home.to_path_buf(),
            maildir: None,
        };
        let mut trusted = TrustedHosts::new();
        trusted
            .insert(ISSUER, key.public())
            .expect("a trusted host");
        let server = tokio::spawn(serve(settings, trusted, control));
        Process { master, server }
    }

    /// A channel over a connection passed as the broker passes one.
    async fn channel(&self) -> Channel {
        passed_channel(&self.master, 1, "").await
    }

    /// Closes the control socket as an exiting master does and waits for
    /// the process to end.
    async fn stop(self) {
        let Process { master, server } = self;
        drop(master);
        let ended = tokio::time::timeout(CALL_LIMIT, server)
            .await
            .expect("the storage process ends when its master goes");
        let served = ended.expect("the storage process's task does not panic");
        served.expect("the storage process ends cleanly");
    }
}

fn ticket(key: &HostKey, user: &str, scope: Scope) -> String {
    sign(key, &Claims::new(user, scope, now_unix(), 3600, ISSUER)).to_string()
}

/// The tickets a call may carry, by [`Call::guest`] and [`Call::deliver`]:
/// the owner's session and deliver tickets, then [`GUEST`]'s.
fn tickets(key: &HostKey) -> [[String; 2]; 2] {
    [OWNER, GUEST].map(|user| [Scope::Session, Scope::Deliver].map(|s| ticket(key, user, s)))
}

/// A storage process on a fresh copy of the template home, and a
/// channel to it (the home goes when the first value is dropped).
async fn fresh_process(fx: &Fixture) -> (tempfile::TempDir, Process, Channel) {
    let home = tempfile::tempdir().expect("a temporary directory");
    copy_tree(fx.template.path(), home.path());
    let process = Process::start(home.path(), &fx.key);
    let channel = process.channel().await;
    (home, process, channel)
}

/// Fills the template home through a storage process: mailboxes, and
/// messages of several shapes, each \Seen.
async fn populate(home: &Path, key: &HostKey) {
    let process = Process::start(home, key);
    let channel = process.channel().await;
    let ticket = ticket(key, OWNER, Scope::Session);
    for name in ["Work", "Work.Sub", "Trash"] {
        let request = CreateMailboxRequest {
            owner: OWNER.into(),
            name: name.into(),
        };
        let create = ("Storage", "CreateMailbox", Shape::Unary);
        send(&channel, &ticket, create, &request.encode_to_vec())
            .await
            .expect("creating a mailbox");
    }
    for (i, message) in SEED_MESSAGES.iter().enumerate() {
        let mailbox = if i % 3 == 2 { "Work" } else { "INBOX" };
        let parts = upload(&append_parts(mailbox, &["\\Seen"], message));
        let append = ("Storage", "Append", Shape::Uploaded);
        send(&channel, &ticket, append, &parts)
            .await
            .expect("appending a seed message");
    }
    drop(channel);
    process.stop().await;
}

/// The messages of the template home.
static SEED_MESSAGES: &[&[u8]] = &[
    b"From: Ann <ann@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: plain\r\n\
      Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@example.org>\r\n\r\nHello, Bob.\r\n",
    b"From: ann@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n\
      Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
      Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\n\
      Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
      caf=C3=A9 body\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>cafe</p>\r\n--b2--\r\n--b1\r\n\
      Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n\
      AAECAwQFBgc=\r\n--b1--\r\n",
    b"From: carol@example.org\r\nSubject: enclosed\r\nIn-Reply-To: <1@example.org>\r\n\
      References: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n\
      From: dave@example.org\r\nSubject: inner\r\n\r\ninner body\r\n",
    b"Subject: no from\r\n\r\nline one\r\nline two with NUL \x00 byte\r\n",
];

/// An Append stream's messages for one message.
fn append_parts(mailbox: &str, flags: &[&str], message: &[u8]) -> Vec<Vec<u8>> {
    let header = AppendHeader {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        size: message.len() as u64,
        ..Default::default()
    };
    vec![
        AppendRequest {
            part: Some(Part::Header(header)),
        }
        .encode_to_vec(),
        AppendRequest {
            part: Some(Part::Chunk(message.to_vec())),
        }
        .encode_to_vec(),
        AppendRequest::commit().encode_to_vec(),
    ]
}

/// Copies the template home to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("making a directory");
    for entry in std::fs::read_dir(from).expect("reading the template") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

async fn exchange(fx: &'static Fixture, data: &[u8]) {
    let (_home, process, channel) = fresh_process(fx).await;
    let tickets = tickets(&fx.key);
    let panics = crate::rpc::panics();
    // Until the owner has set an ACL, the guest has no right anywhere.
    let mut granted = false;
    for Call {
        method,
        deliver: by_deliverer,
        guest,
        request,
    } in calls(data)
    {
        let (_, name, _) = METHODS[method];
        let ticket = &tickets[usize::from(guest)][usize::from(by_deliverer)];
        let answered = send(&channel, ticket, METHODS[method], request).await;
        if let Err(status) = &answered {
            check_refusal(name, status);
        }
        if guest && !granted {
            check_rightless(name, &answered);
        }
        granted |= !guest && name == "SetAcl";
        if by_deliverer && !guest && !DELIVER_METHODS.contains(&name) {
            match &answered {
                Ok(_) => panic!("a deliver ticket's {name} was answered"),
                Err(status) => assert!(
                    undecodable(status)
                        || matches!(
                            reason_of(status),
                            ErrorReason::NoPermission | ErrorReason::Unavailable
                        ),
                    "a deliver ticket's {name} was refused for another reason than its \
                     ticket or its owner: {status:?}"
                ),
            }
        }
        assert_eq!(crate::rpc::panics(), panics, "a panic while serving {name}");
    }
    let probe = MailboxStatusRequest {
        owner: OWNER.into(),
        name: "INBOX".into(),
        with_recent: false,
    };
    let status_call = ("Storage", "MailboxStatus", Shape::Unary);
    let status = send(
        &channel,
        &tickets[0][0],
        status_call,
        &probe.encode_to_vec(),
    )
    .await;
    // INBOX cannot be deleted (a RENAME of it moves its messages and
    // leaves it in place): its STATUS always answers.
    if let Err(e) = status {
        panic!("the storage process no longer serves INBOX: {e:?}");
    }
    drop(channel);
    process.stop().await;
}

/// A refusal must be the client's error, typed (every error status of a
/// storage process carries its reason), or tonic's own refusal of bytes
/// that are not the method's message.
fn check_refusal(name: &str, status: &Status) {
    if undecodable(status) {
        return;
    }
    assert!(
        !status.details().is_empty(),
        "{name} failed without a reason (a broken connection, or an error not typed): {status:?}"
    );
    let reason = reason_of(status);
    assert!(
        !matches!(
            reason,
            ErrorReason::ServerBug | ErrorReason::Corruption | ErrorReason::Unspecified
        ),
        "{name} failed as the storage process's fault ({reason:?}): {status:?}"
    );
}

/// A call of a user with no rights: refused, or told there is nothing.
fn check_rightless(name: &str, answered: &Result<Vec<u8>, Status>) {
    let Ok(answer) = answered else {
        return;
    };
    let nothing = match name {
        "ListMailboxes" => ListMailboxesResponse::decode(answer.as_slice())
            .is_ok_and(|listed| listed.mailboxes.is_empty()),
        "MailboxExists" => {
            MailboxExistsResponse::decode(answer.as_slice()).is_ok_and(|found| !found.exists)
        }
        _ => false,
    };
    assert!(
        nothing,
        "{name} of a user with no rights was answered: {answer:?}"
    );
}

/// The gRPC path of method `service`/`name`.
fn method_path(service: &str, name: &str) -> PathAndQuery {
    format!("/mailkeep.storage.v1.{service}/{name}")
        .parse()
        .expect("a method path is a valid URI path")
}

/// Calls `method` with `request` (split into messages for an uploaded
/// one) and `ticket`; what it answered: the message, the first message of
/// a stream read to its end (empty if none), nothing for a held stream
/// once it started.
async fn send(
    channel: &Channel,
    ticket: &str,
    (service, name, shape): (&str, &str, Shape),
    request: &[u8],
) -> Result<Vec<u8>, Status> {
    bounded(name, async {
        let mut grpc = ready(channel).await?;
        let path = method_path(service, name);
        match shape {
            Shape::Unary => grpc
                .unary(with_ticket(request.to_vec(), ticket), path, RawCodec)
                .await
                .map(tonic::Response::into_inner),
            Shape::Uploaded => grpc
                .client_streaming(
                    with_ticket(tokio_stream::iter(uploaded(request)), ticket),
                    path,
                    RawCodec,
                )
                .await
                .map(tonic::Response::into_inner),
            Shape::Held => grpc
                .server_streaming(with_ticket(request.to_vec(), ticket), path, RawCodec)
                .await
                .map(|_| Vec::new()),
            Shape::Streamed => {
                let mut stream = grpc
                    .server_streaming(with_ticket(request.to_vec(), ticket), path, RawCodec)
                    .await?
                    .into_inner();
                let mut first = None;
                for _ in 0..MAX_STREAMED {
                    match stream.message().await? {
                        Some(message) => {
                            first.get_or_insert(message);
                        }
                        None => return Ok(first.unwrap_or_default()),
                    }
                }
                panic!("{name} streamed more than {MAX_STREAMED} messages");
            }
        }
    })
    .await
}

/// The committed seeds of this target, by file name: realistic calls of
/// every kind a protocol process makes, and a few a compromised one
/// would (inverted ranges, deep section paths, search programs whose
/// operators lack operands).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let uids = |first: u32, last: u32| vec![UidRange { first, last }];
    let fetch = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uids: uids(1, u32::MAX),
        body: true,
        cuts: vec![
            SectionCut {
                parts: vec![1, 2],
                ..Default::default()
            },
            SectionCut {
                parts: vec![2],
                binary: true,
                partial: true,
                partial_offset: 3,
                partial_count: 5,
                ..Default::default()
            },
            SectionCut {
                text: SectionTextKind::HeaderFields as i32,
                header_names: vec!["Subject".into(), "From".into()],
                ..Default::default()
            },
        ],
        want_envelope: true,
        want_body_structure: true,
        want_preview: true,
        ..Default::default()
    };
    let section = FetchSectionRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uid: 2,
        parts: vec![1, 1, 1, 1, 1, 1, 1, 1],
        text: SectionTextKind::Mime as i32,
        ..Default::default()
    };
    let structure = FetchStructureRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uids: uids(3, 1),
        want_envelope: true,
        want_body_structure: true,
        want_preview: true,
        ..Default::default()
    };
    let key = |k: Key| SearchKey { key: Some(k) };
    let search = SearchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        program: vec![
            key(Key::Or(SearchOr {})),
            key(Key::Text("body".into())),
            key(Key::Not(SearchNot {})),
            key(Key::Header(SearchHeader {
                field: "Subject".into(),
                value: "caf".into(),
            })),
        ],
        charset: "UTF-8".into(),
        ..Default::default()
    };
    let dangling = SearchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        program: vec![
            key(Key::And(SearchAnd { count: u32::MAX })),
            key(Key::Or(SearchOr {})),
            key(Key::Not(SearchNot {})),
        ],
        ..Default::default()
    };
    let sort = SortRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        criteria: vec![
            SortCriterion {
                key: SortKeyKind::Subject as i32,
                reverse: true,
            },
            SortCriterion {
                key: SortKeyKind::Displayfrom as i32,
                reverse: false,
            },
        ],
        program: vec![key(Key::Flag(SearchFlagKey::All as i32))],
        ..Default::default()
    };
    let thread = ThreadRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        algorithm: ThreadAlgorithm::References as i32,
        program: vec![key(Key::Flag(SearchFlagKey::All as i32))],
        ..Default::default()
    };
    let store = StoreFlagsRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uids: uids(1, 2),
        mode: StoreMode::Add as i32,
        flags: vec!["\\Deleted".into(), "$Label1".into()],
        unchanged_since: Some(1),
        ..Default::default()
    };
    let expunge = ExpungeRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        ..Default::default()
    };
    let copy = CopyRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uids: uids(1, u32::MAX),
        target: "Work.Sub".into(),
        ..Default::default()
    };
    let rename = RenameMailboxRequest {
        owner: OWNER.into(),
        from: "Work".into(),
        to: "Work.Sub.Deeper".into(),
    };
    let select = SelectMailboxRequest {
        owner: OWNER.into(),
        name: "INBOX".into(),
        with_object_ids: true,
        recent: RecentMode::RecentClaim as i32,
    };
    let changes = ChangesRequest {
        owner: OWNER.into(),
        mailbox: "Work".into(),
        since_modseq: 0,
        ..Default::default()
    };
    let metadata = SetMetadataRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        entries: vec![MetadataChange {
            name: "/private/comment".into(),
            value: Some(b"note".to_vec()),
        }],
    };
    let acl = SetAclRequest {
        owner: OWNER.into(),
        mailbox: "Work".into(),
        identifier: "bob".into(),
        rights: "lrswipkxtecda".into(),
        ..Default::default()
    };
    let retrieve = RetrieveMaildropRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uids: vec![1, 2, 3, 4, 5],
        ..Default::default()
    };
    let append = upload(&append_parts(
        "Work",
        &["\\Flagged", "$Forwarded"],
        SEED_MESSAGES[1],
    ));
    let delete = DeleteMailboxRequest {
        owner: OWNER.into(),
        name: "Work".into(),
    };
    let exists = MailboxExistsRequest {
        owner: OWNER.into(),
        name: "Work".into(),
    };
    let list = ListMailboxesRequest {
        owner: OWNER.into(),
    };
    let watch = WatchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
    };
    vec![
        ("fetch_everything", call("Fetch", &fetch.encode_to_vec())),
        (
            "section_deep_mime",
            call("FetchSection", &section.encode_to_vec()),
        ),
        (
            "structure_inverted_range",
            call("FetchStructure", &structure.encode_to_vec()),
        ),
        ("search_or_not", call("Search", &search.encode_to_vec())),
        (
            "search_dangling_operators",
            call("Search", &dangling.encode_to_vec()),
        ),
        ("sort_subject_from", call("Sort", &sort.encode_to_vec())),
        ("thread_references", call("Thread", &thread.encode_to_vec())),
        (
            "store_then_expunge",
            [
                call("StoreFlags", &store.encode_to_vec()),
                call("Expunge", &expunge.encode_to_vec()),
                call("Changes", &changes.encode_to_vec()),
            ]
            .concat(),
        ),
        (
            "copy_rename_delete",
            [
                call("Copy", &copy.encode_to_vec()),
                call("Move", &copy.encode_to_vec()),
                call("RenameMailbox", &rename.encode_to_vec()),
                call("DeleteMailbox", &delete.encode_to_vec()),
                call("ListMailboxes", &list.encode_to_vec()),
            ]
            .concat(),
        ),
        (
            "select_claim_recent",
            call("SelectMailbox", &select.encode_to_vec()),
        ),
        (
            "metadata_set",
            call("SetMetadata", &metadata.encode_to_vec()),
        ),
        ("acl_set", call("SetAcl", &acl.encode_to_vec())),
        (
            "maildrop_retrieve",
            call("Retrieve", &retrieve.encode_to_vec()),
        ),
        ("append_multipart", call("Append", &append)),
        (
            "watch_then_append",
            [
                call("Watch", &watch.encode_to_vec()),
                call("Append", &append),
            ]
            .concat(),
        ),
        ("garbage", call("Fetch", b"\xff\xff\xff\xff")),
        (
            "guest_without_rights_reads_nothing",
            [
                guest_call("ListMailboxes", &list.encode_to_vec(), false),
                guest_call("MailboxExists", &exists.encode_to_vec(), false),
                guest_call("SelectMailbox", &select.encode_to_vec(), false),
                guest_call("Fetch", &fetch.encode_to_vec(), false),
                guest_call("Search", &search.encode_to_vec(), false),
                guest_call("StoreFlags", &store.encode_to_vec(), false),
                guest_call("Copy", &copy.encode_to_vec(), false),
                guest_call("Watch", &watch.encode_to_vec(), false),
                guest_call("Append", &append, false),
                guest_call("Append", &append, true),
                guest_call("MailboxExists", &exists.encode_to_vec(), true),
                guest_call("SetAcl", &acl.encode_to_vec(), false),
                guest_call("Retrieve", &retrieve.encode_to_vec(), false),
            ]
            .concat(),
        ),
        (
            "deliver_ticket_reads_nothing",
            [
                deliver_call("MailboxExists", &exists.encode_to_vec()),
                deliver_call("Append", &append),
                deliver_call("Fetch", &fetch.encode_to_vec()),
                deliver_call("StoreFlags", &store.encode_to_vec()),
                deliver_call("Watch", &watch.encode_to_vec()),
                deliver_call("Retrieve", &retrieve.encode_to_vec()),
            ]
            .concat(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_storage_method_is_in_the_table_with_its_shape() {
        let declared = crate::rpc::declared_methods("mailkeep/storage/v1");
        let mut table: Vec<(String, String, bool, bool)> = METHODS
            .iter()
            .map(|(service, name, shape)| {
                (
                    (*service).to_owned(),
                    (*name).to_owned(),
                    *shape == Shape::Uploaded,
                    matches!(shape, Shape::Streamed | Shape::Held),
                )
            })
            .collect();
        table.sort();
        assert_eq!(table, declared);
    }

    /// The harness gives what the properties lean on: the owner's session
    /// ticket reads the template's mail, the owner's deliver ticket
    /// appends, and the guest's ticket is taken as the guest's (refused
    /// while it has no rights, answered once the owner grants them), so
    /// a refusal in a run is the storage process's decision, not a
    /// ticket the harness got wrong.
    #[test]
    fn the_harness_tickets_reach_what_they_should() {
        let fx = fixture();
        crate::rpc::runtime().block_on(async {
            let (_home, process, channel) = fresh_process(fx).await;
            let [[owner, owner_deliver], [guest, _]] = tickets(&fx.key);
            let method = |name: &str| {
                *METHODS
                    .iter()
                    .find(|(_, n, _)| *n == name)
                    .expect("a method of the table")
            };
            let fetch = FetchRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uids: vec![UidRange {
                    first: 1,
                    last: u32::MAX,
                }],
                ..Default::default()
            }
            .encode_to_vec();
            let first = send(&channel, &owner, method("Fetch"), &fetch).await;
            let first = FetchResponse::decode(first.expect("the owner reads").as_slice());
            assert!(
                !first.expect("a FetchResponse").items.is_empty(),
                "the template's INBOX has messages"
            );
            let append = upload(&append_parts("INBOX", &[], SEED_MESSAGES[0]));
            send(&channel, &owner_deliver, method("Append"), &append)
                .await
                .expect("the owner's deliver ticket appends");
            let list = ListMailboxesRequest {
                owner: OWNER.into(),
            }
            .encode_to_vec();
            let listed = |answer: Result<Vec<u8>, Status>| {
                ListMailboxesResponse::decode(answer.expect("a list").as_slice())
                    .expect("a ListMailboxesResponse")
                    .mailboxes
                    .into_iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
            };
            let before = send(&channel, &guest, method("ListMailboxes"), &list).await;
            assert_eq!(listed(before), Vec::<String>::new());
            let grant = SetAclRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                identifier: GUEST.into(),
                rights: "lr".into(),
                ..Default::default()
            }
            .encode_to_vec();
            send(&channel, &owner, method("SetAcl"), &grant)
                .await
                .expect("the owner grants");
            let after = send(&channel, &guest, method("ListMailboxes"), &list).await;
            assert_eq!(listed(after), vec!["Work".to_owned()]);
            drop(channel);
            process.stop().await;
        });
    }
}

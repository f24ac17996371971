//! Session-level tests: a real session against in-process fake auth and
//! storage gRPC servers, reached over socketpairs like the broker's.

use mailkeep_storage_rpc::leased::LeasedChannel;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::auth_server::{Auth, AuthServer};
use mailkeep_storage_rpc::auth::{
    RenewRequest, RenewResponse, StepRequest, StepResponse, Success, step_response,
};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::storage::storage_server::{Storage, StorageServer};
use mailkeep_storage_rpc::storage::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::UnixStream;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

use crate::backend::{Backend, Shared};
use crate::{ImapSettings, server};

#[derive(Default, Clone)]
struct Msg {
    flags: Vec<String>,
    modseq: u64,
    body: Vec<u8>,
}

#[derive(Default)]
struct Mbox {
    uidvalidity: u32,
    uidnext: u32,
    modseq: u64,
    messages: BTreeMap<u32, Msg>,
    vanished: Vec<(u32, u64)>,
}

#[derive(Default)]
struct Model {
    mailboxes: BTreeMap<String, Mbox>,
    /// Fail this many next calls with UNAVAILABLE.
    unavailable: usize,
}

impl Model {
    fn new() -> Model {
        let mut m = Model::default();
        m.mailboxes.insert(
            "INBOX".into(),
            Mbox {
                uidvalidity: 1,
                uidnext: 1,
                ..Mbox::default()
            },
        );
        m
    }

    fn gate(&mut self) -> Result<(), Status> {
        if self.unavailable > 0 {
            self.unavailable -= 1;
            return Err(Status::unavailable("restarting"));
        }
        Ok(())
    }

    fn mbox(&mut self, name: &str) -> Result<&mut Mbox, Status> {
        self.mailboxes
            .get_mut(name)
            .ok_or_else(|| Status::not_found("no mailbox"))
    }
}

impl Mbox {
    fn status(&self) -> MailboxStatus {
        MailboxStatus {
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            highestmodseq: self.modseq,
            messages: self.messages.len() as u32,
            unseen: self
                .messages
                .values()
                .filter(|m| !m.flags.iter().any(|f| f == "\\Seen"))
                .count() as u32,
            deleted: 0,
            size: self.messages.values().map(|m| m.body.len() as u64).sum(),
            ..Default::default()
        }
    }

    fn add(&mut self, body: &[u8], flags: Vec<String>) -> u32 {
        let uid = self.uidnext;
        self.uidnext += 1;
        self.modseq += 1;
        self.messages.insert(
            uid,
            Msg {
                flags,
                modseq: self.modseq,
                body: body.to_vec(),
            },
        );
        uid
    }

    fn remove(&mut self, uid: u32) {
        if self.messages.remove(&uid).is_some() {
            self.modseq += 1;
            self.vanished.push((uid, self.modseq));
        }
    }
}

fn in_ranges(uid: u32, ranges: &[UidRange]) -> bool {
    ranges.iter().any(|r| uid >= r.first && uid <= r.last)
}

#[derive(Clone)]
struct FakeStorage(Arc<Mutex<Model>>);

type Res<T> = Result<Response<T>, Status>;

impl FakeStorage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Model> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[tonic::async_trait]
impl Storage for FakeStorage {
    async fn list_mailboxes(
        &self,
        _r: Request<ListMailboxesRequest>,
    ) -> Res<ListMailboxesResponse> {
        let mut m = self.lock();
        m.gate()?;
        let mailboxes = m
            .mailboxes
            .keys()
            .map(|n| MailboxInfo {
                name: n.clone(),
                attributes: vec![],
                ..Default::default()
            })
            .collect();
        Ok(Response::new(ListMailboxesResponse {
            mailboxes,
            delimiter: ".".into(),
        }))
    }
    async fn create_mailbox(&self, r: Request<CreateMailboxRequest>) -> Res<CreateMailboxResponse> {
        let mut m = self.lock();
        m.gate()?;
        let name = r.into_inner().name;
        if m.mailboxes.contains_key(&name) {
            return Err(Status::already_exists("exists"));
        }
        m.mailboxes.insert(
            name,
            Mbox {
                uidvalidity: 7,
                uidnext: 1,
                ..Mbox::default()
            },
        );
        Ok(Response::new(CreateMailboxResponse::default()))
    }
    async fn delete_mailbox(&self, r: Request<DeleteMailboxRequest>) -> Res<DeleteMailboxResponse> {
        let mut m = self.lock();
        m.mailboxes
            .remove(&r.into_inner().name)
            .ok_or_else(|| Status::not_found("no"))?;
        Ok(Response::new(DeleteMailboxResponse {}))
    }
    async fn rename_mailbox(&self, r: Request<RenameMailboxRequest>) -> Res<RenameMailboxResponse> {
        let mut m = self.lock();
        let r = r.into_inner();
        let mb = m
            .mailboxes
            .remove(&r.from)
            .ok_or_else(|| Status::not_found("no"))?;
        m.mailboxes.insert(r.to, mb);
        Ok(Response::new(RenameMailboxResponse {}))
    }
    async fn mailbox_status(&self, r: Request<MailboxStatusRequest>) -> Res<MailboxStatusResponse> {
        let mut m = self.lock();
        let status = m.mbox(&r.into_inner().name)?.status();
        Ok(Response::new(MailboxStatusResponse {
            status: Some(status),
        }))
    }
    async fn select_mailbox(&self, r: Request<SelectMailboxRequest>) -> Res<SelectMailboxResponse> {
        let mut m = self.lock();
        m.gate()?;
        let mb = m.mbox(&r.into_inner().name)?;
        let messages = mb
            .messages
            .iter()
            .map(|(&uid, msg)| MessageFlags {
                uid,
                flags: msg.flags.clone(),
                modseq: msg.modseq,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(SelectMailboxResponse {
            status: Some(mb.status()),
            messages,
            keywords: vec![],
        }))
    }
    async fn changes(&self, r: Request<ChangesRequest>) -> Res<ChangesResponse> {
        let mut m = self.lock();
        m.gate()?;
        let r = r.into_inner();
        let mb = m.mbox(&r.mailbox)?;
        if mb.uidvalidity != r.uidvalidity {
            return Err(Status::failed_precondition("uidvalidity"));
        }
        let changed = mb
            .messages
            .iter()
            .filter(|(_, msg)| msg.modseq > r.since_modseq)
            .map(|(&uid, msg)| MessageFlags {
                uid,
                flags: msg.flags.clone(),
                modseq: msg.modseq,
                ..Default::default()
            })
            .collect();
        let vanished = mb
            .vanished
            .iter()
            .filter(|(_, s)| *s > r.since_modseq)
            .map(|(u, _)| *u)
            .collect();
        Ok(Response::new(ChangesResponse {
            status: Some(mb.status()),
            changed,
            vanished,
        }))
    }
    async fn append(&self, r: Request<tonic::Streaming<AppendRequest>>) -> Res<AppendResponse> {
        self.lock().gate()?;
        let mut stream = r.into_inner();
        let mut header = None;
        let mut body = Vec::new();
        while let Some(part) = stream.next().await {
            match part?.part {
                Some(append_request::Part::Header(h)) => header = Some(h),
                Some(append_request::Part::Chunk(c)) => body.extend_from_slice(&c),
                None => {}
            }
        }
        let header = header.ok_or_else(|| Status::invalid_argument("no header"))?;
        if body.len() as u64 != header.size {
            return Err(Status::invalid_argument("size"));
        }
        let mut m = self.lock();
        let mb = m.mbox(&header.mailbox)?;
        let uid = mb.add(&body, header.flags);
        Ok(Response::new(AppendResponse {
            uidvalidity: mb.uidvalidity,
            uid,
            modseq: mb.modseq,
            ..Default::default()
        }))
    }
    type FetchStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<FetchResponse, Status>> + Send>>;
    async fn fetch(&self, r: Request<FetchRequest>) -> Res<Self::FetchStream> {
        let mut m = self.lock();
        m.gate()?;
        let r = r.into_inner();
        let mb = m.mbox(&r.mailbox)?;
        let mut items = Vec::new();
        for (&uid, msg) in mb.messages.iter().filter(|(u, _)| in_ranges(**u, &r.uids)) {
            items.push(Ok(FetchResponse {
                item: Some(fetch_response::Item::Message(FetchedMessage {
                    uid,
                    flags: msg.flags.clone(),
                    modseq: msg.modseq,
                    size: msg.body.len() as u64,
                    internal_date: 0,
                    internal_date_offset_minutes: 0,
                    save_date: 0,
                    ..Default::default()
                })),
            }));
            if r.body {
                for chunk in msg.body.chunks(3) {
                    items.push(Ok(FetchResponse {
                        item: Some(fetch_response::Item::BodyChunk(chunk.to_vec())),
                    }));
                }
            }
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }
    async fn store_flags(&self, r: Request<StoreFlagsRequest>) -> Res<StoreFlagsResponse> {
        let mut m = self.lock();
        m.gate()?;
        let r = r.into_inner();
        let mb = m.mbox(&r.mailbox)?;
        let mut updated = Vec::new();
        let mut modseq = mb.modseq;
        let mut failed = Vec::new();
        for (&uid, msg) in mb
            .messages
            .iter_mut()
            .filter(|(u, _)| in_ranges(**u, &r.uids))
        {
            if r.unchanged_since != 0 && msg.modseq > r.unchanged_since {
                failed.push(uid);
                continue;
            }
            let mut flags = msg.flags.clone();
            match r.mode {
                1 => flags.extend(r.flags.iter().filter(|f| !msg.flags.contains(f)).cloned()),
                2 => flags.retain(|f| !r.flags.contains(f)),
                _ => flags = r.flags.clone(),
            }
            if flags != msg.flags {
                modseq += 1;
                msg.flags = flags;
                msg.modseq = modseq;
                updated.push(MessageFlags {
                    uid,
                    flags: msg.flags.clone(),
                    modseq,
                    ..Default::default()
                });
            }
        }
        mb.modseq = modseq;
        Ok(Response::new(StoreFlagsResponse { updated, failed }))
    }
    async fn expunge(&self, r: Request<ExpungeRequest>) -> Res<ExpungeResponse> {
        let mut m = self.lock();
        let r = r.into_inner();
        let mb = m.mbox(&r.mailbox)?;
        let doomed: Vec<u32> = mb
            .messages
            .iter()
            .filter(|(u, msg)| {
                msg.flags.iter().any(|f| f == "\\Deleted")
                    && (r.uids.is_empty() || in_ranges(**u, &r.uids))
            })
            .map(|(u, _)| *u)
            .collect();
        for &u in &doomed {
            mb.remove(u);
        }
        Ok(Response::new(ExpungeResponse {
            expunged: doomed,
            highestmodseq: mb.modseq,
        }))
    }
}

struct FakeAuth;

fn success(user: &str) -> StepResponse {
    StepResponse {
        outcome: Some(step_response::Outcome::Success(Success {
            user: user.into(),
            ticket: "ticket".into(),
            expires_unix: crate::auth::unix_now() + 3600,
            final_data: vec![],
        })),
    }
}

fn failure() -> StepResponse {
    StepResponse {
        outcome: Some(step_response::Outcome::Failure(Default::default())),
    }
}

fn challenge(c: &[u8]) -> StepResponse {
    StepResponse {
        outcome: Some(step_response::Outcome::Challenge(c.to_vec())),
    }
}

#[tonic::async_trait]
impl Auth for FakeAuth {
    async fn step(&self, r: Request<StepRequest>) -> Res<StepResponse> {
        let r = r.into_inner();
        let reply = match (r.mechanism.as_str(), r.has_data) {
            ("PLAIN", true) if r.data == b"\0user\0secret" => success("user"),
            ("PLAIN", false) => challenge(b""),
            ("PLAIN", _) => failure(),
            ("LOGIN", false) => challenge(b"Username:"),
            ("", true) if r.data == b"user" => challenge(b"Password:"),
            ("", true) if r.data == b"secret" => success("user"),
            ("", true) if r.data == b"\0user\0secret" => success("user"),
            _ => failure(),
        };
        Ok(Response::new(reply))
    }
    async fn renew(&self, r: Request<RenewRequest>) -> Res<RenewResponse> {
        Ok(Response::new(RenewResponse {
            ticket: r.into_inner().ticket,
            expires_unix: crate::auth::unix_now() + 3600,
        }))
    }
}

#[derive(Clone)]
struct Fake {
    model: Arc<Mutex<Model>>,
    attaches: Arc<AtomicUsize>,
}

async fn pair() -> (UnixStream, Channel) {
    let (a, b) = UnixStream::pair().unwrap_or_else(|e| panic!("socketpair: {e}"));
    let channel = channel_over(a)
        .await
        .unwrap_or_else(|e| panic!("channel: {e}"));
    (b, channel)
}

fn incoming(s: UnixStream) -> impl tokio_stream::Stream<Item = Result<UnixStream, std::io::Error>> {
    tokio_stream::once(Ok(s)).chain(tokio_stream::pending())
}

impl Backend for Fake {
    async fn auth(&self) -> Result<AuthClient<Channel>, String> {
        let (server_end, channel) = pair().await;
        tokio::spawn(
            Server::builder()
                .add_service(AuthServer::new(FakeAuth))
                .serve_with_incoming(incoming(server_end)),
        );
        Ok(AuthClient::new(channel))
    }
    async fn storage(&self, ticket: &str, _owner: &str) -> Result<LeasedChannel, String> {
        assert_eq!(ticket, "ticket");
        self.attaches.fetch_add(1, Ordering::SeqCst);
        let (server_end, channel) = pair().await;
        let service = StorageServer::new(FakeStorage(self.model.clone()));
        tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming(server_end)),
        );
        Ok(LeasedChannel::new(channel))
    }
}

/// A test client speaking to one in-process session.
struct Client {
    stream: DuplexStream,
    pending: Vec<u8>,
}

impl Client {
    async fn start(fake: &Fake) -> Client {
        Client::start_with(fake, ImapSettings::default()).await
    }

    async fn start_with(fake: &Fake, settings: ImapSettings) -> Client {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let (r, w) = tokio::io::split(theirs);
        let shared = Shared::new(fake.clone());
        let settings = Arc::new(settings);
        tokio::spawn(server::serve_one(
            settings,
            shared,
            r,
            w,
            "127.0.0.1".into(),
        ));
        let mut c = Client {
            stream: ours,
            pending: Vec::new(),
        };
        let greeting = c.line().await;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
            "{greeting}"
        );
        c
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.stream.read(&mut buf),
            )
            .await
            .unwrap_or_else(|_| {
                panic!("timeout; have {:?}", String::from_utf8_lossy(&self.pending))
            })
            .unwrap_or(0);
            assert!(
                n > 0,
                "connection closed; have {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    async fn send(&mut self, text: &str) {
        self.stream
            .write_all(text.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
    }

    /// Sends a command and returns everything up to and including its tagged reply.
    async fn cmd(&mut self, tag: &str, text: &str) -> String {
        self.send(&format!("{tag} {text}\r\n")).await;
        self.until(tag).await
    }

    async fn until(&mut self, tag: &str) -> String {
        let mut all = String::new();
        loop {
            let line = self.line().await;
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }
}

fn fake() -> Fake {
    Fake {
        model: Arc::new(Mutex::new(Model::new())),
        attaches: Arc::new(AtomicUsize::new(0)),
    }
}

fn add(fake: &Fake, mailbox: &str, body: &[u8]) -> u32 {
    let mut m = fake.model.lock().unwrap_or_else(|e| e.into_inner());
    m.mailboxes
        .get_mut(mailbox)
        .map(|mb| mb.add(body, vec![]))
        .unwrap_or(0)
}

#[tokio::test]
async fn login_and_states() {
    let f = fake();
    let mut c = Client::start(&f).await;
    assert!(c.cmd("a0", "SELECT INBOX").await.contains("a0 BAD"));
    assert!(
        c.cmd("a1", "LOGIN user wrong")
            .await
            .contains("a1 NO [AUTHENTICATIONFAILED]")
    );
    let r = c.cmd("a2", "LOGIN user secret").await;
    assert!(r.starts_with("a2 OK [CAPABILITY IMAP4rev1"), "{r}");
    assert!(c.cmd("a3", "LOGIN user secret").await.contains("a3 BAD"));
    assert!(c.cmd("a4", "FETCH 1 FLAGS").await.contains("a4 BAD"));
    let r = c.cmd("a5", "LOGOUT").await;
    assert!(r.starts_with("* BYE") && r.contains("a5 OK"), "{r}");
}

#[tokio::test]
async fn authenticate_plain_and_login() {
    let f = fake();
    let mut c = Client::start(&f).await;
    // SASL-IR: base64("\0user\0secret")
    let r = c.cmd("a1", "AUTHENTICATE PLAIN AHVzZXIAc2VjcmV0").await;
    assert!(r.starts_with("a1 OK"), "{r}");

    let mut c = Client::start(&f).await;
    c.send("b1 AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(c.line().await, "+ VXNlcm5hbWU6\r\n");
    c.send("dXNlcg==\r\n").await;
    assert_eq!(c.line().await, "+ UGFzc3dvcmQ6\r\n");
    c.send("c2VjcmV0\r\n").await;
    assert!(c.until("b1").await.starts_with("b1 OK"));

    let mut c = Client::start(&f).await;
    c.send("c1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ \r\n");
    c.send("*\r\n").await;
    assert!(c.until("c1").await.starts_with("c1 BAD"));
    c.send("c2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ \r\n");
    c.send("AHVzZXIAc2VjcmV0\r\n").await;
    assert!(c.until("c2").await.starts_with("c2 OK"));
}

#[tokio::test]
async fn mailboxes_append_select_fetch_store_expunge() {
    let f = fake();
    let mut c = Client::start(&f).await;
    c.cmd("a", "LOGIN user secret").await;
    assert!(c.cmd("b", "CREATE Sent").await.contains("b OK"));
    assert!(
        c.cmd("b2", "CREATE Sent")
            .await
            .contains("b2 NO [ALREADYEXISTS]")
    );
    let r = c.cmd("c", "LIST \"\" *").await;
    assert!(
        r.contains("* LIST () \".\" INBOX\r\n") && r.contains("* LIST () \".\" Sent\r\n"),
        "{r}"
    );
    assert!(
        c.cmd("c2", "LIST \"\" \"\"")
            .await
            .contains("* LIST (\\Noselect) \".\" \"\"")
    );

    // Synchronizing literal: continuation first.
    c.send("d APPEND INBOX {11}\r\n").await;
    assert!(c.line().await.starts_with("+ "));
    c.send("Hello world\r\n").await;
    let r = c.until("d").await;
    assert!(r.contains("d OK [APPENDUID 1 1]"), "{r}");
    // Non-synchronizing literal, with flags.
    let r = c.cmd("e", "APPEND INBOX (\\Flagged) {5+}\r\nabcde").await;
    assert!(r.contains("e OK [APPENDUID 1 2]"), "{r}");
    let r = c.cmd("e2", "APPEND Nope {1+}\r\nx").await;
    assert!(r.contains("e2 NO [TRYCREATE]"), "{r}");
    // The stream is still in sync.
    assert!(c.cmd("e3", "NOOP").await.starts_with("e3 OK"));

    let r = c.cmd("f", "SELECT INBOX").await;
    assert!(
        r.contains("* 2 EXISTS")
            && r.contains("[UIDVALIDITY 1]")
            && r.contains("f OK [READ-WRITE]"),
        "{r}"
    );
    let r = c.cmd("g", "FETCH 1:* (UID FLAGS RFC822.SIZE)").await;
    assert!(
        r.contains("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 11)"),
        "{r}"
    );
    assert!(
        r.contains("* 2 FETCH (UID 2 FLAGS (\\Flagged) RFC822.SIZE 5)"),
        "{r}"
    );
    let r = c.cmd("h", "FETCH 1 BODY[]").await;
    assert!(
        r.contains("* 1 FETCH (BODY[] {11}\r\nHello world FLAGS (\\Seen))"),
        "{r}"
    );
    let r = c.cmd("h2", "UID FETCH 1 BODY.PEEK[]<6.100>").await;
    assert!(
        r.contains("* 1 FETCH (UID 1 BODY[]<6> {5}\r\nworld)"),
        "{r}"
    );
    assert!(c.cmd("h3", "FETCH 3 FLAGS").await.contains("h3 BAD"));
    assert!(c.cmd("h4", "FETCH 1 ENVELOPE").await.contains("h4 NO"));

    // Another session appends: reported as EXISTS after the next command.
    add(&f, "INBOX", b"third");
    let r = c.cmd("i", "NOOP").await;
    assert!(r.contains("* 3 EXISTS"), "{r}");

    let r = c.cmd("j", "STORE 1 +FLAGS (\\Deleted)").await;
    assert!(r.contains("* 1 FETCH (FLAGS (\\Seen \\Deleted))"), "{r}");
    assert!(
        !c.cmd("j2", "STORE 1 +FLAGS.SILENT (\\Answered)")
            .await
            .contains("FETCH")
    );

    // Expunged elsewhere during FETCH by sequence number: deferred.
    if let Some(mb) = f
        .model
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .mailboxes
        .get_mut("INBOX")
    {
        mb.remove(2);
    }
    let r = c.cmd("k", "FETCH 3 UID").await;
    assert!(
        !r.contains("EXPUNGE") && r.contains("* 3 FETCH (UID 3)"),
        "{r}"
    );
    let r = c.cmd("l", "NOOP").await;
    assert!(r.contains("* 2 EXPUNGE"), "{r}");

    let r = c.cmd("m", "EXPUNGE").await;
    assert!(r.contains("* 1 EXPUNGE") && r.contains("m OK"), "{r}");
    let r = c.cmd("n", "STATUS INBOX (MESSAGES UIDNEXT)").await;
    assert!(r.contains("* STATUS INBOX (MESSAGES 1 UIDNEXT 4)"), "{r}");
    assert!(c.cmd("o", "CLOSE").await.contains("o OK"));
    assert!(c.cmd("p", "FETCH 1 FLAGS").await.contains("p BAD"));
}

#[tokio::test]
async fn storage_restart_is_retried_once() {
    let f = fake();
    let mut c = Client::start(&f).await;
    c.cmd("a", "LOGIN user secret").await;
    assert!(c.cmd("b", "SELECT INBOX").await.contains("b OK"));
    let before = f.attaches.load(Ordering::SeqCst);
    f.model
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unavailable = 1;
    assert!(c.cmd("c", "NOOP").await.contains("c OK"));
    assert_eq!(f.attaches.load(Ordering::SeqCst), before + 1);
    // Twice in a row: the command fails but the session lives on.
    f.model
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unavailable = 2;
    assert!(
        c.cmd("d", "LIST \"\" *")
            .await
            .contains("d NO [UNAVAILABLE]")
    );
    assert!(c.cmd("e", "LIST \"\" *").await.contains("e OK"));
}

#[tokio::test]
async fn deleted_selected_mailbox_ends_the_session() {
    let f = fake();
    let mut c = Client::start(&f).await;
    c.cmd("a", "LOGIN user secret").await;
    c.cmd("b", "CREATE Work").await;
    assert!(
        c.cmd("c", "EXAMINE Work")
            .await
            .contains("c OK [READ-ONLY]")
    );
    f.model
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .mailboxes
        .remove("Work");
    c.send("d NOOP\r\n").await;
    assert!(c.line().await.starts_with("* BYE"));
}

fn model(f: &Fake) -> std::sync::MutexGuard<'_, Model> {
    f.model.lock().unwrap_or_else(|e| e.into_inner())
}

#[tokio::test]
async fn append_keeps_the_stream_in_sync() {
    let f = fake();
    let mut c = Client::start(&f).await;
    // Before login: a synchronizing literal is refused without continuation,
    // a non-synchronizing one is read and dropped.
    assert!(c.cmd("a1", "APPEND INBOX {5}").await.starts_with("a1 BAD"));
    assert!(
        c.cmd("a2", "APPEND INBOX {5+}\r\nhello")
            .await
            .starts_with("a2 BAD")
    );
    assert!(c.cmd("a3", "NOOP").await.starts_with("a3 OK"));
    c.cmd("a4", "LOGIN user secret").await;

    // Larger than CHUNK_SIZE: streamed in several chunks.
    let big: String = "0123456789abcdef".repeat(20_000);
    let r = c
        .cmd("b", &format!("APPEND INBOX {{{}+}}\r\n{big}", big.len()))
        .await;
    assert!(r.contains("b OK [APPENDUID 1 1]"), "{r}");
    assert_eq!(
        model(&f).mailboxes["INBOX"].messages[&1].body,
        big.as_bytes()
    );

    // Storage fails: the literal is still consumed, the reply says so.
    model(&f).unavailable = 1;
    let r = c
        .cmd("c", &format!("APPEND INBOX {{{}+}}\r\n{big}", big.len()))
        .await;
    assert!(r.contains("c NO [UNAVAILABLE]"), "{r}");
    assert!(c.cmd("d", "NOOP").await.starts_with("d OK"));
    let r = c.cmd("e", "APPEND INBOX {3+}\r\nabc").await;
    assert!(r.contains("e OK [APPENDUID 1 2]"), "{r}");
    let r = c.cmd("f", "SELECT INBOX").await;
    assert!(r.contains("* 2 EXISTS"), "{r}");
    let r = c.cmd("g", "FETCH 1 RFC822.SIZE").await;
    assert!(
        r.contains(&format!("* 1 FETCH (RFC822.SIZE {})", big.len())),
        "{r}"
    );
}

#[tokio::test]
async fn uid_commands_lsub_rename_and_errors() {
    let f = fake();
    for body in [&b"one"[..], b"two", b"three"] {
        add(&f, "INBOX", body);
    }
    let mut c = Client::start(&f).await;
    c.cmd("a", "LOGIN user secret").await;
    assert!(c.cmd("a1", "FROB").await.starts_with("a1 BAD"));
    c.cmd("b", "CREATE Box").await;
    let r = c.cmd("b1", "LSUB \"\" %").await;
    assert!(r.contains("* LSUB () \".\" Box\r\n"), "{r}");
    c.cmd("c", "SELECT INBOX").await;
    let r = c.cmd("d", "UID FETCH 2:100 (FLAGS)").await;
    assert!(
        r.contains("* 2 FETCH (UID 2 FLAGS ())") && r.contains("* 3 FETCH (UID 3 FLAGS ())"),
        "{r}"
    );
    assert!(!r.contains("* 1 FETCH"), "{r}");
    let r = c.cmd("d2", "FETCH 2 (BODY.PEEK[] BODY.PEEK[]<1.2>)").await;
    assert!(
        r.contains("* 2 FETCH (BODY[] {3}\r\ntwo BODY[]<1> {2}\r\nwo)"),
        "{r}"
    );
    let r = c.cmd("e", "UID STORE 1:3 +FLAGS (\\Deleted)").await;
    assert!(r.contains("* 3 FETCH (UID 3 FLAGS (\\Deleted))"), "{r}");
    let r = c.cmd("f", "UID EXPUNGE 2").await;
    assert!(
        r.contains("* 2 EXPUNGE") && !r.contains("* 1 EXPUNGE"),
        "{r}"
    );
    // A message changed since the given MODSEQ is not stored.
    let r = c
        .cmd("g", "UID STORE 1 (UNCHANGEDSINCE 1) -FLAGS (\\Deleted)")
        .await;
    assert!(r.contains("g OK [MODIFIED 1]"), "{r}");
    // Renaming the selected mailbox: the view follows it.
    let r = c.cmd("h", "RENAME INBOX.x Other").await;
    assert!(r.contains("h NO [NONEXISTENT]"), "{r}");
    c.cmd("i", "SELECT Box").await;
    assert!(c.cmd("j", "RENAME Box Crate").await.contains("j OK"));
    assert!(c.cmd("k", "NOOP").await.starts_with("k OK"));
    assert!(c.cmd("l", "DELETE Crate").await.contains("l NO"));
    assert!(c.cmd("m", "UNSELECT").await.contains("m OK"));
    assert!(c.cmd("n", "DELETE Crate").await.contains("n OK"));
}

#[tokio::test]
async fn uidvalidity_change_ends_the_session() {
    let f = fake();
    let mut c = Client::start(&f).await;
    c.cmd("a", "LOGIN user secret").await;
    c.cmd("b", "SELECT INBOX").await;
    if let Some(mb) = model(&f).mailboxes.get_mut("INBOX") {
        mb.uidvalidity = 99;
    }
    c.send("c NOOP\r\n").await;
    assert!(c.line().await.starts_with("* BYE"));
}

#[tokio::test]
async fn unauthenticated_clients_are_logged_out() {
    let f = fake();
    let settings = ImapSettings {
        login_timeout: std::time::Duration::from_millis(200),
        ..ImapSettings::default()
    };
    let mut c = Client::start_with(&f, settings).await;
    assert!(c.line().await.starts_with("* BYE"));
}

#[tokio::test]
async fn overlong_lines_close_the_connection() {
    let f = fake();
    let limits = mailkeep_imap_proto::Limits {
        max_line: 100,
        ..Default::default()
    };
    let mut c = Client::start_with(
        &f,
        ImapSettings {
            limits,
            ..ImapSettings::default()
        },
    )
    .await;
    c.send(&"x".repeat(300)).await;
    assert!(c.line().await.starts_with("* BAD"));
    assert!(c.line().await.starts_with("* BYE"));
}

#[tokio::test]
async fn accept_loop_limits_connections() {
    use tokio::io::AsyncBufReadExt;
    let f = fake();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let settings = ImapSettings {
        max_connections: 1,
        ..ImapSettings::default()
    };
    tokio::spawn(crate::serve_with(settings, listener, f.clone()));
    let read_line = |s: tokio::net::TcpStream| async move {
        let mut line = String::new();
        let mut r = tokio::io::BufReader::new(s);
        let _ = r.read_line(&mut line).await;
        (line, r)
    };
    let first = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let (line, _keep) = read_line(first).await;
    assert!(line.starts_with("* OK [CAPABILITY"), "{line}");
    let second = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let (line, _) = read_line(second).await;
    assert!(line.starts_with("* BYE"), "{line}");
}

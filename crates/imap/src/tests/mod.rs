//! Session tests: real IMAP sessions over in-memory streams, against the
//! real auth service and the real storage server (the test kit's
//! [`Services`]), checked with the kit's client and response parser.

mod acl;
mod extensions;
mod fetch;
mod fetch_cache;
mod mailboxes;
mod memory;
mod notify_shared;
mod recent;
mod reply_chain;
mod search;
mod selection_watch;
mod session;
mod shared;
mod warm_first_call;

use std::sync::Arc;

use mailkeep_frontend::{
    AnyConnector, AuthLink, Clock, ConnInfo, ConnLimits, Connection, Endpoint, ListenerKind,
    PlaintextLogins,
};
use mailkeep_testkit::{Client, Reply, Services};
use tokio::io::DuplexStream;

use crate::cmd::fetch::cache::FetchCache;
use crate::process::Process;
use crate::server::session_on;
use crate::settings::ImapSettings;

/// The user every test logs in as.
pub(crate) const USER: &str = "alice";
/// Their password.
pub(crate) const PASSWORD: &str = "secret";

/// Real services with one user.
pub(crate) async fn services() -> Services {
    let services = Services::start().await.expect("starting the services");
    services
        .add_user(USER, PASSWORD)
        .await
        .expect("adding the user");
    services
}

/// An IMAP process over `services`.
pub(crate) fn process(services: &Services, settings: ImapSettings) -> Arc<Process> {
    let fetch_cache = FetchCache::new(settings.fetch_cache_bytes);
    Arc::new(Process {
        settings,
        auth: Arc::new(AuthLink::new(AnyConnector::new(services.clone()))),
        clock: Clock::system(),
        tls: None,
        plugin_commands: Default::default(),
        fetch_cache,
    })
}

/// A new session of `process` (a loopback client with the default
/// plaintext-login rule), and the client talking to it, greeting read.
pub(crate) async fn connect(process: &Arc<Process>) -> Client<DuplexStream> {
    connect_with(process, PlaintextLogins::default()).await
}

/// Like [`connect`], under the plaintext-login rule `plaintext`.
pub(crate) async fn connect_with(
    process: &Arc<Process>,
    plaintext: PlaintextLogins,
) -> Client<DuplexStream> {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let loopback = "127.0.0.1:50000".parse().expect("an address");
    let info = ConnInfo {
        peer: Endpoint::Tcp(loopback),
        local: Endpoint::Tcp(loopback),
        listener: Arc::from("test"),
        kind: ListenerKind::Plain,
        loopback: true,
        tls: None,
        compressed: false,
        plaintext_logins: plaintext,
    };
    let session = session_on(
        process.clone(),
        Connection::new(theirs, info, ConnLimits::default()),
    );
    tokio::spawn(async move {
        let _ = session.run().await;
    });
    let mut client = Client::new(ours);
    client.read_greeting().await.expect("the greeting");
    client
}

/// A logged-in client.
pub(crate) async fn login(process: &Arc<Process>) -> Client<DuplexStream> {
    let mut client = connect(process).await;
    let reply = client.login(USER, PASSWORD).await.expect("LOGIN");
    assert!(reply.is_ok(), "LOGIN: {reply:?}");
    client
}

/// A client logged in as `user` (who must have been added with
/// `password`).
pub(crate) async fn login_as(
    process: &Arc<Process>,
    user: &str,
    password: &str,
) -> Client<DuplexStream> {
    let mut client = connect(process).await;
    let reply = client.login(user, password).await.expect("LOGIN");
    assert!(reply.is_ok(), "LOGIN {user}: {reply:?}");
    client
}

/// A logged-in client with INBOX selected, holding one small message per
/// subject (appended in order: UIDs 1, 2, ...).
pub(crate) async fn selected_with(
    process: &Arc<Process>,
    subjects: &[&str],
) -> Client<DuplexStream> {
    let mut client = login(process).await;
    for subject in subjects {
        let m = message(subject, "body");
        let reply = client.append("INBOX", &[], &m).await.expect("APPEND");
        assert!(reply.is_ok(), "APPEND {subject}: {reply:?}");
    }
    ok(&mut client, "SELECT INBOX").await;
    client
}

/// Runs a command that must succeed.
pub(crate) async fn ok(client: &mut Client<DuplexStream>, command: &str) -> Reply {
    let reply = client.run(command).await.expect(command);
    assert!(reply.is_ok(), "{command}: {reply:?}");
    reply
}

/// Whether `keyword` was announced in an untagged FLAGS before any FETCH
/// response of `reply` carried it: a client learns of a keyword before it
/// sees a message carry it.
pub(crate) fn announced_before_carried(reply: &Reply, keyword: &str) -> bool {
    let position =
        |found: &dyn Fn(&str) -> bool| reply.responses.iter().position(|r| found(&r.text()));
    let announced = position(&|t: &str| t.starts_with("* FLAGS") && t.contains(keyword));
    let carried = position(&|t: &str| t.contains("FETCH") && t.contains(keyword));
    announced.is_some() && announced < carried
}

/// A small message with a subject and a body line.
pub(crate) fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

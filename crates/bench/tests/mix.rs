//! The load generator against a real IMAP server: mailkeep's IMAP
//! process served in this test on a loopback TCP listener, over the test
//! kit's real auth service and storage server. Checks what the
//! benchmarks rely on: every command kind of the session mix is played
//! and answered OK, every session reaches its LOGOUT, and the mailboxes
//! keep their size. Nothing here is timed.

use std::net::SocketAddr;
use std::time::Duration;

use mailkeep_bench::messages::mixed_message;
use mailkeep_bench::mix::{self, Kind, MixSettings};
use mailkeep_bench::servers::Account;
use mailkeep_bench::{client, setup};
use mailkeep_frontend::{
    AcceptSettings, Acceptor, ConnLimits, Listener, ListenerKind, PlaintextLogins, ServerTls,
};
use mailkeep_testkit::Services;

/// Messages in each INBOX before the mix.
const MESSAGES: usize = 25;

/// Serves IMAP on a free loopback port over `services`; the address.
fn serve_imap(services: &Services) -> SocketAddr {
    let mut config = mailkeep_config::Config::default();
    config.server.data_dir = services.dir().join("imap-tls");
    mailkeep_master::certificates::ensure_self_signed(&config, "localhost")
        .expect("a self-signed certificate");
    let certificates = mailkeep_master::certificates::CertificateWatch::load(&config)
        .expect("loading the certificate");
    let tls = ServerTls::new(certificates.current(), Duration::from_secs(10)).expect("TLS");
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    let addr = socket.local_addr().expect("the address");
    let listener = Listener::tcp(socket, ListenerKind::Plain, "imap").expect("the listener");
    let settings = AcceptSettings {
        max_connections: 100,
        refusal: b"* BYE Too many connections\r\n".to_vec(),
        plaintext_logins: PlaintextLogins::Loopback,
        limits: ConnLimits::default(),
        clients: Default::default(),
    };
    let acceptor = Acceptor::new(vec![listener], tls, settings);
    tokio::spawn(mailkeep_imap::serve_accepted(
        mailkeep_imap::ImapSettings::default(),
        acceptor,
        services.clone(),
    ));
    addr
}

/// The INBOX's message count of `account`.
async fn inbox_size(addr: SocketAddr, account: &Account) -> Option<u32> {
    let mut c = client::login(
        addr,
        Duration::from_secs(30),
        &account.name,
        &account.password,
    )
    .await
    .expect("LOGIN");
    let reply = client::ok(&mut c, "SELECT INBOX").await.expect("SELECT");
    let _ = c.logout().await;
    reply.exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_mix_plays_every_command_kind_and_keeps_the_mailboxes_whole() {
    let services = Services::start().await.expect("the services");
    let accounts = Account::numbered("mix", 2);
    for a in &accounts {
        services
            .add_user(&a.name, &a.password)
            .await
            .expect("adding a user");
    }
    let addr = serve_imap(&services);
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(mixed_message).collect();
    setup::fill_all(addr, &accounts, "INBOX", &messages)
        .await
        .expect("filling the INBOXes");
    // A second mailbox, for the STATUS the session sends for every
    // mailbox but INBOX (the kit's storage makes no special-use ones).
    setup::fill_all(addr, &accounts, "Archive", &messages[..3])
        .await
        .expect("filling the archives");

    // One client per account: the sessions of an account follow one
    // another, so the mailbox's size is known at every step.
    let settings = MixSettings {
        addr,
        accounts: accounts.clone(),
        clients: accounts.len(),
        sessions_per_client: 2,
        rounds_per_session: 2,
        timeout: Duration::from_secs(60),
        seed: 3,
    };
    let run = mix::run(&settings).await;

    assert_eq!(run.failed(), 0, "failures: {:?}", run.first_errors);
    assert_eq!(run.sessions_completed, 4);
    for kind in Kind::ALL {
        assert!(
            run.samples.get(&kind).is_some_and(|s| !s.is_empty()),
            "{} was never played",
            kind.name()
        );
    }
    // Per session one STATUS (Archive); per round 3 bodies, and 3 \Seen
    // plus 1 \Deleted STOREs.
    assert_eq!(run.samples[&Kind::Status].len(), 4);
    let rounds = 4 * 2;
    assert_eq!(run.samples[&Kind::FetchBody].len(), 3 * rounds);
    assert_eq!(run.samples[&Kind::Store].len(), 4 * rounds);
    assert_eq!(run.samples[&Kind::Expunge].len(), rounds);
    assert!(run.rate() > 0.0);
    for a in &accounts {
        assert_eq!(
            inbox_size(addr, a).await,
            Some(MESSAGES as u32),
            "{}'s INBOX should be as it was: each appended message is expunged again",
            a.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_counted_as_a_failure_and_ends_the_session() {
    let services = Services::start().await.expect("the services");
    services
        .add_user("known", "right")
        .await
        .expect("adding a user");
    let addr = serve_imap(&services);
    let settings = MixSettings {
        addr,
        accounts: vec![Account {
            name: "known".into(),
            password: "wrong".into(),
        }],
        clients: 1,
        sessions_per_client: 2,
        rounds_per_session: 1,
        timeout: Duration::from_secs(60),
        seed: 1,
    };
    let run = mix::run(&settings).await;
    assert_eq!(
        run.failures.get(&Kind::Login),
        Some(&2),
        "{:?}",
        run.first_errors
    );
    assert_eq!(run.sessions_completed, 0);
    assert_eq!(run.commands(), 0);
    assert!(
        run.first_errors.iter().all(|e| e.starts_with("LOGIN")),
        "{:?}",
        run.first_errors
    );
}

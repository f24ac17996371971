//! The test plugin in a real IMAP process and a real storage server (the
//! test kit's, in process, over real sockets): its command is parsed,
//! announced and run, its storage service is served behind the gate, and
//! a ticket of a scope it did not declare is refused there, all with no
//! change to the base crates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{
    AcceptSettings, Acceptor, ConnLimits, Connector, Listener, ListenerKind, PlaintextLogins,
    ServerTls,
};
use mailkeep_plugin_api::ProtocolPlugins;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_server::plugin::Plugins;
use mailkeep_test_plugin_echo::{EchoProtocol, EchoStorage, pb};
use mailkeep_testkit::{Client, Services};
use mailkeep_ticket::{Claims, Scope, now_unix, sign};

/// Serves IMAP with the echo plugin on a free loopback port.
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
        max_connections: 10,
        refusal: b"* BYE Too many connections\r\n".to_vec(),
        plaintext_logins: PlaintextLogins::Loopback,
        limits: ConnLimits::default(),
        clients: Default::default(),
    };
    let imap = mailkeep_imap::ImapSettings {
        plugins: ProtocolPlugins::new(vec![Arc::new(EchoProtocol)]),
        ..mailkeep_imap::ImapSettings::default()
    };
    let acceptor = Acceptor::new(vec![listener], tls, settings);
    tokio::spawn(mailkeep_imap::serve_accepted(
        imap,
        acceptor,
        services.clone(),
    ));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_adds_an_imap_command_and_a_storage_service() {
    let services = Services::builder()
        .storage_plugins(Plugins::new(vec![Arc::new(EchoStorage)]))
        .start()
        .await
        .expect("the services");
    services.add_user("alice", "secret").await.expect("user");
    services
        .append("alice", "INBOX", &[], b"Subject: one\r\n\r\nbody\r\n")
        .await
        .expect("append");
    let addr = serve_imap(&services);
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut c = Client::connect(stream).await.expect("greeting");
    // Before login the command does not exist for the session.
    let early = c.run("XECHO hello").await.expect("XECHO");
    assert!(!early.is_ok(), "{early:?}");
    assert!(c.login("alice", "secret").await.expect("LOGIN").is_ok());
    let caps = c
        .run("CAPABILITY")
        .await
        .expect("CAPABILITY")
        .capabilities();
    assert!(caps.iter().any(|c| c == "XECHO"), "{caps:?}");
    let reply = c.run("XECHO hello").await.expect("XECHO");
    assert!(reply.is_ok(), "{reply:?}");
    let lines: Vec<String> = reply
        .responses
        .iter()
        .map(|r| String::from_utf8_lossy(r.raw()).trim_end().to_owned())
        .collect();
    assert_eq!(lines, vec!["* XECHO olleh 1".to_owned()]);
    // The plugin's grammar, not the parser's, refuses bad arguments.
    let bad = c.run("XECHO (a b)").await.expect("XECHO");
    assert_eq!(bad.status(), mailkeep_testkit::Status::Bad);
    // Other unknown commands stay unknown.
    let unknown = c.run("XNOPE").await.expect("XNOPE");
    assert_eq!(unknown.status(), mailkeep_testkit::Status::Bad);
    let _ = c.logout().await;

    // The service is behind the gate with the scope the plugin declared:
    // a deliver ticket is refused, a session ticket served.
    let deliver = sign(
        services.key(),
        &Claims::new("alice", Scope::Deliver, now_unix(), 3600, "testkit"),
    );
    let channel = Connector::storage(&services, &deliver, "alice")
        .await
        .expect("channel");
    let request = |text: &str| pb::EchoRequest {
        owner: "alice".into(),
        text: text.into(),
    };
    let mut echo = pb::echo_client::EchoClient::new(channel);
    let refused = echo
        .echo(with_ticket(request("x"), &deliver))
        .await
        .expect_err("a deliver ticket may not call Echo");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let session = services.ticket("alice");
    let served = echo
        .echo(with_ticket(request("ab"), &session))
        .await
        .expect("a session ticket may")
        .into_inner();
    assert_eq!(served.text, "ba");
    assert_eq!(served.inbox_messages, 1);
}

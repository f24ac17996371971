//! The accept loop: kinds of listener, the connection limit, handshakes.

use std::time::Duration;

use mailkeep_frontend::{Endpoint, Listener, ListenerKind, TlsVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn implicit_tls_listener_hands_over_connections_after_the_handshake() {
    let pki = Pki::new();
    let cert = pki.leaf(&["mail.test"]);
    let tls = server_tls(&certificates(&cert, 1));
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], tls, settings(10));

    let tcp = TcpStream::connect(addr).await.expect("connect");
    let client_port = tcp.local_addr().expect("address").port();
    let mut client = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    let conn = conns.recv().await.expect("a connection");
    let info = conn.info().clone();
    assert_eq!(&*info.listener, "imaps");
    assert_eq!(info.kind, ListenerKind::ImplicitTls);
    assert!(info.loopback);
    assert_eq!(
        info.peer,
        Endpoint::Tcp(format!("127.0.0.1:{client_port}").parse().expect("addr"))
    );
    assert_eq!(info.local, Endpoint::Tcp(addr));
    let tls_info = info.tls.as_ref().expect("TLS is active");
    assert_eq!(tls_info.server_name.as_deref(), Some("mail.test"));
    assert_eq!(tls_info.version, TlsVersion::Tls13);
    assert!(info.plaintext_login_allowed());
    assert!(!info.can_start_tls());

    // The channel binding both ends export is the same (RFC 9266).
    let mut theirs = [0u8; 32];
    client
        .get_ref()
        .1
        .export_keying_material(&mut theirs, b"EXPORTER-Channel-Binding", None)
        .expect("export");
    assert_eq!(info.channel_binding(), Some(&theirs));

    let (mut reader, writer) = conn.split();
    writer.write(b"* OK ready\r\n").await.expect("write");
    writer.flush().await.expect("flush");
    let mut greeting = [0u8; 12];
    client.read_exact(&mut greeting).await.expect("greeting");
    assert_eq!(&greeting, b"* OK ready\r\n");
    client.write_all(b"a NOOP\r\n").await.expect("send");
    let line = reader.read_line(1000, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"a NOOP\r\n"[..]));
}

#[tokio::test]
async fn clients_beyond_the_limit_read_the_refusal_until_a_handler_returns() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (listener, addr) = tcp_listener(ListenerKind::Plain, "imap");
    let acceptor = mailkeep_frontend::Acceptor::new(vec![listener], tls, settings(1));
    let count = acceptor.connections();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let done_rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(done_rx)));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(acceptor.serve(move |conn| {
        let done_rx = done_rx.clone();
        let seen_tx = seen_tx.clone();
        async move {
            let _ = seen_tx.send(());
            let rx = done_rx.lock().await.take();
            if let Some(rx) = rx {
                let _ = rx.await;
            }
            drop(conn);
        }
    }));
    let _first = TcpStream::connect(addr).await.expect("connect");
    seen_rx.recv().await.expect("first handled");
    assert_eq!(count.active(), 1);
    let mut refused = TcpStream::connect(addr).await.expect("connect");
    let mut got = Vec::new();
    refused.read_to_end(&mut got).await.expect("read");
    assert!(got.starts_with(b"* BYE"));

    let _ = done_tx.send(());
    // Once the first handler returned, a new client gets in.
    // (A client that raced the first handler's end is refused; retry.)
    let _third = loop {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        let mut b = Vec::new();
        tokio::select! {
            _ = seen_rx.recv() => break c,
            _ = c.read_to_end(&mut b) => {}
        }
    };
}

#[tokio::test]
async fn unix_listener_connections_are_local_and_plain() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lmtp.sock");
    let std = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let listener = Listener::unix(std, "lmtp").expect("listener");
    let mut conns = serve_into_channel(vec![listener], tls, settings(10));
    let mut client = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connect");
    let conn = conns.recv().await.expect("connection");
    assert_eq!(conn.info().kind, ListenerKind::Unix);
    assert_eq!(conn.info().peer, Endpoint::Unix);
    assert!(conn.info().loopback);
    assert!(conn.info().tls.is_none());
    assert!(!conn.info().can_start_tls());
    let (_reader, writer) = conn.split();
    writer.write(b"220 ready\r\n").await.expect("write");
    writer.flush().await.expect("flush");
    let mut got = [0u8; 11];
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"220 ready\r\n");
}

#[tokio::test]
async fn ipv6_listeners_accept_and_are_loopback_for_v6_loopback_peers() {
    let Ok(std) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("note: no IPv6 loopback on this host; skipped");
        return;
    };
    let addr = std.local_addr().expect("address");
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let listener = Listener::tcp(std, ListenerKind::Plain, "imap6").expect("listener");
    let mut conns = serve_into_channel(vec![listener], tls, settings(10));
    let _client = TcpStream::connect(addr).await.expect("connect");
    let conn = conns.recv().await.expect("connection");
    assert_eq!(conn.info().local, Endpoint::Tcp(addr));
    assert!(conn.info().peer.ip().is_some_and(|ip| ip.is_ipv6()));
    assert!(conn.info().loopback);
    assert!(conn.info().can_start_tls());
}

#[tokio::test]
async fn one_acceptor_serves_several_listeners() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (plain, plain_addr) = tcp_listener(ListenerKind::Plain, "imap");
    let (implicit, tls_addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![plain, implicit], tls, settings(10));
    let _a = TcpStream::connect(plain_addr).await.expect("connect");
    let first = conns.recv().await.expect("plain connection");
    assert_eq!(&*first.info().listener, "imap");
    let tcp = TcpStream::connect(tls_addr).await.expect("connect");
    let _b = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    let second = conns.recv().await.expect("TLS connection");
    assert_eq!(&*second.info().listener, "imaps");
}

#[tokio::test(start_paused = true)]
async fn a_client_silent_in_the_handshake_is_dropped_after_the_timeout() {
    let pki = Pki::new();
    let tls = mailkeep_frontend::ServerTls::new(
        &certificates(&pki.leaf(&["mail.test"]), 1),
        Duration::from_secs(30),
    )
    .expect("tls");
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], tls, settings(10));
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut got = Vec::new();
    // The server gives up (paused time runs ahead to the timeout) and closes.
    silent.read_to_end(&mut got).await.expect("closed");
    assert!(got.is_empty());
    assert!(conns.try_recv().is_err(), "no connection was handed over");
}

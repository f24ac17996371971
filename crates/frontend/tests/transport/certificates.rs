//! Certificates: chosen by SNI, chains sent whole, a minimum version,
//! replaced while connections run, and updates over the control channel.

use std::time::Duration;

use mailkeep_frontend::control::write_message;
use mailkeep_frontend::tls::check_certificates;
use mailkeep_frontend::{ControlChannel, ListenerKind, ServerTls};
use mailkeep_storage_rpc::broker::{
    ProtocolControl, ServerCertificates, TlsVersion, protocol_control,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::*;

async fn presented_for(
    pki: &Pki,
    addr: std::net::SocketAddr,
    name: &str,
) -> rustls::pki_types::CertificateDer<'static> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let stream = tls_connect(pki.client(), name, tcp)
        .await
        .expect("handshake");
    presented(&stream)
}

#[tokio::test]
async fn sni_picks_the_certificate_by_name_with_wildcards_and_a_default() {
    let pki = Pki::new();
    let default = pki.leaf(&["mail.test", "127.0.0.1"]);
    let other = pki.leaf(&["imap.other.test"]);
    let wild = pki.leaf(&["*.wild.test"]);
    let mut certs = certificates(&default, 1);
    certs.by_name = vec![
        certificate(&other, &["IMAP.other.test"]),
        certificate(&wild, &["*.wild.test"]),
    ];
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], server_tls(&certs), settings(10));

    assert_eq!(
        presented_for(&pki, addr, "imap.other.test").await,
        other.der
    );
    assert_eq!(
        conns
            .recv()
            .await
            .expect("conn")
            .info()
            .tls
            .as_ref()
            .and_then(|t| t.server_name.clone())
            .as_deref(),
        Some("imap.other.test")
    );
    assert_eq!(presented_for(&pki, addr, "a.wild.test").await, wild.der);
    assert_eq!(presented_for(&pki, addr, "mail.test").await, default.der);
    // An IP address sends no SNI: the default.
    assert_eq!(presented_for(&pki, addr, "127.0.0.1").await, default.der);
}

#[tokio::test]
async fn the_chain_is_sent_whole() {
    let pki = Pki::new();
    let leaf = pki.leaf_via_intermediate(&["mail.test"]);
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let _conns = serve_into_channel(
        vec![listener],
        server_tls(&certificates(&leaf, 1)),
        settings(10),
    );
    // The client trusts only the root: it needs the intermediate from us.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let stream = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    let chain = stream.get_ref().1.peer_certificates().expect("chain");
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0], leaf.der);
}

#[tokio::test]
async fn a_minimum_of_tls_1_3_refuses_tls_1_2_clients() {
    let pki = Pki::new();
    let mut certs = certificates(&pki.leaf(&["mail.test"]), 1);
    certs.min_version = TlsVersion::Tls13 as i32;
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let _conns = serve_into_channel(vec![listener], server_tls(&certs), settings(10));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let old = pki.client_with(&[&rustls::version::TLS12]);
    assert!(tls_connect(old, "mail.test", tcp).await.is_err());
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("TLS 1.3 works");

    // With the default minimum, TLS 1.2 works (and has no channel binding).
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(
        vec![listener],
        server_tls(&certificates(&pki.leaf(&["mail.test"]), 1)),
        settings(10),
    );
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let old = pki.client_with(&[&rustls::version::TLS12]);
    tls_connect(old, "mail.test", tcp)
        .await
        .expect("TLS 1.2 works");
    let conn = conns.recv().await.expect("connection");
    let facts = conn.info().tls.clone().expect("TLS");
    assert_eq!(facts.version, mailkeep_frontend::TlsVersion::Tls12);
    assert!(facts.channel_binding.is_none());
}

#[tokio::test]
async fn replaced_certificates_serve_new_handshakes_while_old_connections_go_on() {
    let pki = Pki::new();
    let first = pki.leaf(&["mail.test"]);
    let second = pki.leaf(&["mail.test"]);
    let tls = server_tls(&certificates(&first, 1));
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], tls.clone(), settings(10));

    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut old_client = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    assert_eq!(presented(&old_client), first.der);
    let (mut old_reader, old_writer) = conns.recv().await.expect("connection").split();

    tls.replace(&certificates(&second, 2)).expect("replace");
    assert_eq!(tls.generation(), 2);
    assert_eq!(presented_for(&pki, addr, "mail.test").await, second.der);

    // The old connection still talks, under its old session.
    old_client.write_all(b"a NOOP\r\n").await.expect("send");
    let line = old_reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"a NOOP\r\n"[..]));
    old_writer.write(b"a OK\r\n").await.expect("write");
    old_writer.flush().await.expect("flush");
    assert_eq!(read_plain_line(&mut old_client).await, b"a OK\r\n");
}

fn message(certs: ServerCertificates) -> ProtocolControl {
    ProtocolControl {
        kind: Some(protocol_control::Kind::Certificates(certs)),
    }
}

#[tokio::test]
async fn the_control_channel_installs_new_certificates_and_skips_bad_ones() {
    let pki = Pki::new();
    let first = pki.leaf(&["mail.test"]);
    let second = pki.leaf(&["mail.test"]);
    let (mut master, ours) = tokio::net::UnixStream::pair().expect("pair");
    write_message(&mut master, &message(certificates(&first, 1)))
        .await
        .expect("send");
    let mut control = ControlChannel::new(ours);
    let tls = ServerTls::new(
        &control.first_certificates().await.expect("first"),
        Duration::from_secs(10),
    )
    .expect("tls");
    assert_eq!(tls.generation(), 1);
    let changed = tls.changed();
    let applying = tokio::spawn(control.apply(tls.clone()));

    let mut broken = certificates(&second, 2);
    if let Some(c) = broken.default_certificate.as_mut() {
        c.key_pem = first.key_pem.clone().into_bytes();
    }
    write_message(&mut master, &message(broken))
        .await
        .expect("send");
    write_message(&mut master, &message(certificates(&second, 3)))
        .await
        .expect("send");
    // The mismatched pair (generation 2) was refused; 3 is the next installed.
    assert_eq!(changed.await, 3);

    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let _conns = serve_into_channel(vec![listener], tls, settings(10));
    assert_eq!(presented_for(&pki, addr, "mail.test").await, second.der);

    drop(master);
    applying
        .await
        .expect("task")
        .expect("a closed channel ends cleanly");
}

#[test]
fn unusable_certificates_are_explained() {
    let pki = Pki::new();
    let a = pki.leaf(&["mail.test"]);
    let b = pki.leaf(&["mail.test"]);
    let mut mismatched = certificates(&a, 1);
    if let Some(c) = mismatched.default_certificate.as_mut() {
        c.key_pem = b.key_pem.clone().into_bytes();
    }
    let err = check_certificates(&mismatched)
        .expect_err("mismatch")
        .to_string();
    assert!(err.contains("certificate 0"), "{err}");

    let mut none = certificates(&a, 1);
    none.default_certificate = None;
    assert!(check_certificates(&none).is_err());

    let mut garbage = certificates(&a, 1);
    if let Some(c) = garbage.default_certificate.as_mut() {
        c.chain_pem = b"not PEM".to_vec();
    }
    let err = check_certificates(&garbage)
        .expect_err("garbage")
        .to_string();
    assert!(err.contains("certificate chain"), "{err}");

    let mut nameless = certificates(&a, 1);
    nameless.by_name = vec![certificate(&b, &[])];
    assert!(check_certificates(&nameless).is_err());
    nameless.by_name = vec![certificate(&b, &["*.*.test"])];
    assert!(check_certificates(&nameless).is_err());

    check_certificates(&certificates(&a, 1)).expect("good");
}

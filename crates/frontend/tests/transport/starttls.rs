//! STARTTLS: the upgrade in place, and its refusals.

use mailkeep_frontend::{ConnLimits, ReadError, TlsVersion, UpgradeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

#[tokio::test]
async fn starttls_upgrades_the_connection_in_place() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (conn, mut client) = plain_pair(&tls, ConnLimits::default()).await;
    assert!(conn.info().can_start_tls());
    let (mut reader, writer) = conn.split();

    let server = tokio::spawn(async move {
        let line = reader.read_line(100, later()).await.expect("read");
        assert_eq!(line.as_deref(), Some(&b"a STARTTLS\r\n"[..]));
        // Queued, not flushed: the upgrade sends it before the handshake.
        writer
            .write(b"a OK Begin TLS now\r\n")
            .await
            .expect("write");
        reader.start_tls(&tls).await.expect("upgrade");
        writer.write(b"* OK over TLS\r\n").await.expect("write");
        writer.flush().await.expect("flush");
        let line = reader.read_line(100, later()).await.expect("read");
        assert_eq!(line.as_deref(), Some(&b"b NOOP\r\n"[..]));
        reader.info().clone()
    });

    client.write_all(b"a STARTTLS\r\n").await.expect("send");
    assert_eq!(
        read_plain_line(&mut client).await,
        b"a OK Begin TLS now\r\n"
    );
    let mut tls_client = tls_connect(pki.client(), "mail.test", client)
        .await
        .expect("handshake");
    assert_eq!(read_plain_line(&mut tls_client).await, b"* OK over TLS\r\n");
    tls_client.write_all(b"b NOOP\r\n").await.expect("send");
    let info = server.await.expect("server");
    let facts = info.tls.as_ref().expect("TLS active");
    assert_eq!(facts.server_name.as_deref(), Some("mail.test"));
    assert_eq!(facts.version, TlsVersion::Tls13);
    assert!(!info.can_start_tls());
    let mut theirs = [0u8; 32];
    tls_client
        .get_ref()
        .1
        .export_keying_material(&mut theirs, b"EXPORTER-Channel-Binding", None)
        .expect("export");
    assert_eq!(info.channel_binding(), Some(&theirs));
}

#[tokio::test]
async fn starttls_is_refused_when_plaintext_was_pipelined_after_it() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (conn, mut client) = plain_pair(&tls, ConnLimits::default()).await;
    let (mut reader, writer) = conn.split();
    // An attacker in the middle appends a command in the clear, hoping it
    // is executed as if the client had sent it over TLS.
    let injected = b"b LOGIN victim secret\r\n";
    client
        .write_all(&[&b"a STARTTLS\r\n"[..], injected].concat())
        .await
        .expect("send");
    let line = reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"a STARTTLS\r\n"[..]));
    while reader.buf().len() < injected.len() {
        reader.fill(later()).await.expect("fill");
    }
    let err = reader.start_tls(&tls).await.expect_err("refused");
    assert!(
        matches!(err, UpgradeError::PipelinedInput(n) if n == injected.len()),
        "{err:?}"
    );
    // Unchanged: still plain, the session can answer and go on.
    assert!(reader.info().tls.is_none());
    writer
        .write(b"a BAD STARTTLS followed by more input\r\n")
        .await
        .expect("write");
    writer.flush().await.expect("flush");
    assert_eq!(
        read_plain_line(&mut client).await,
        b"a BAD STARTTLS followed by more input\r\n"
    );
}

#[tokio::test]
async fn starttls_twice_and_under_compression_are_refused() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));

    let (listener, addr) = tcp_listener(mailkeep_frontend::ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], tls.clone(), settings(10));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _client = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    let (mut reader, _w) = conns.recv().await.expect("connection").split();
    assert!(matches!(
        reader.start_tls(&tls).await,
        Err(UpgradeError::AlreadyTls)
    ));

    let (conn, _client) = plain_pair(&tls, ConnLimits::default()).await;
    let (mut reader, _w) = conn.split();
    reader.start_compression().await.expect("compress");
    assert!(matches!(
        reader.start_tls(&tls).await,
        Err(UpgradeError::CompressionActive)
    ));
}

#[tokio::test]
async fn a_failed_handshake_leaves_a_dead_connection() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (conn, mut client) = plain_pair(&tls, ConnLimits::default()).await;
    let (mut reader, writer) = conn.split();
    let server = tokio::spawn(async move {
        let err = reader.start_tls(&tls).await.expect_err("not TLS");
        assert!(matches!(err, UpgradeError::Handshake(_)), "{err:?}");
        assert!(matches!(reader.fill(later()).await, Err(ReadError::Closed)));
        assert!(writer.write(b"x").await.is_err());
    });
    client
        .write_all(b"this is not a TLS client hello\r\n")
        .await
        .expect("send");
    server.await.expect("server");
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest).await;
}

//! COMPRESS=DEFLATE (RFC 4978): both directions, over plain text and TLS,
//! never twice, and bounded memory against a deflate bomb.

use mailkeep_frontend::{
    ConnLimits, ConnReader, ConnWriter, ListenerKind, ReadError, UpgradeError,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::common::*;

/// The server's half of one COMPRESS exchange and one command after it.
async fn server_side(mut reader: ConnReader, writer: ConnWriter) -> ConnReader {
    let line = reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"a COMPRESS DEFLATE\r\n"[..]));
    writer
        .write(b"a OK DEFLATE active\r\n")
        .await
        .expect("write");
    reader.start_compression().await.expect("compress");
    assert!(reader.info().compressed);
    writer.write(b"* OK compressed\r\n").await.expect("write");
    writer.flush().await.expect("flush");
    let line = reader.read_line(100, later()).await.expect("read");
    assert_eq!(line.as_deref(), Some(&b"b NOOP\r\n"[..]));
    writer.write(b"b OK done\r\n").await.expect("write");
    writer.flush().await.expect("flush");
    reader
}

async fn client_side<S: AsyncRead + AsyncWrite + Unpin>(mut client: S) {
    client
        .write_all(b"a COMPRESS DEFLATE\r\n")
        .await
        .expect("send");
    assert_eq!(
        read_plain_line(&mut client).await,
        b"a OK DEFLATE active\r\n"
    );
    let mut deflate = ClientDeflate::new();
    assert_eq!(
        read_inflated_line(&mut client, &mut deflate).await,
        b"* OK compressed\r\n"
    );
    let wire = deflate.compress(b"b NOOP\r\n");
    client.write_all(&wire).await.expect("send");
    assert_eq!(
        read_inflated_line(&mut client, &mut deflate).await,
        b"b OK done\r\n"
    );
}

#[tokio::test]
async fn compress_deflate_works_both_ways_on_plain_text() {
    let tls = server_tls(&certificates(&Pki::new().leaf(&["mail.test"]), 1));
    let (conn, client) = plain_pair(&tls, ConnLimits::default()).await;
    let (reader, writer) = conn.split();
    let server = tokio::spawn(server_side(reader, writer));
    client_side(client).await;
    let mut reader = server.await.expect("server");
    assert!(matches!(
        reader.start_compression().await,
        Err(UpgradeError::AlreadyCompressed)
    ));
}

#[tokio::test]
async fn compress_deflate_works_both_ways_over_tls() {
    let pki = Pki::new();
    let tls = server_tls(&certificates(&pki.leaf(&["mail.test"]), 1));
    let (listener, addr) = tcp_listener(ListenerKind::ImplicitTls, "imaps");
    let mut conns = serve_into_channel(vec![listener], tls, settings(10));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let client = tls_connect(pki.client(), "mail.test", tcp)
        .await
        .expect("handshake");
    let (reader, writer) = conns.recv().await.expect("connection").split();
    let server = tokio::spawn(server_side(reader, writer));
    client_side(client).await;
    let reader = server.await.expect("server");
    assert!(reader.info().tls.is_some() && reader.info().compressed);
}

/// A raw deflate stream that inflates to `chunks` MiB of 'A' (no line
/// end), made cheaply: after a full flush a compressor starts afresh, so
/// one compressed MiB repeated is a valid stream.
fn bomb_chunk() -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let data = vec![b'A'; 1024 * 1024];
    let mut out = Vec::with_capacity(16 * 1024);
    c.compress_vec(&data, &mut out, flate2::FlushCompress::Full)
        .expect("compress");
    assert_eq!(
        c.total_in(),
        data.len() as u64,
        "one call compresses the MiB"
    );
    out
}

#[tokio::test]
async fn a_deflate_bomb_of_one_gib_leaves_the_input_buffer_bounded_and_ends_in_bye() {
    const MAX_INPUT: usize = 128 * 1024;
    const MAX_LINE: usize = 64 * 1024;
    let tls = server_tls(&certificates(&Pki::new().leaf(&["mail.test"]), 1));
    let limits = ConnLimits {
        max_input: MAX_INPUT,
        ..ConnLimits::default()
    };
    let (conn, mut client) = plain_pair(&tls, limits).await;
    let (mut reader, writer) = conn.split();
    client
        .write_all(b"a COMPRESS DEFLATE\r\n")
        .await
        .expect("send");
    reader.read_line(100, later()).await.expect("read");
    writer
        .write(b"a OK DEFLATE active\r\n")
        .await
        .expect("write");
    reader.start_compression().await.expect("compress");
    assert_eq!(
        read_plain_line(&mut client).await,
        b"a OK DEFLATE active\r\n"
    );

    let chunk = bomb_chunk();
    let (mut client_read, mut client_write) = client.into_split();
    let sender = tokio::spawn(async move {
        // 1024 x 1 MiB = 1 GiB once inflated. The server stops reading
        // long before; the writes then fail or block, and the task is
        // dropped with the test.
        for _ in 0..1024 {
            if client_write.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });

    // The parser's view: a line that never ends is refused at its limit.
    assert_eq!(
        reader.read_line(MAX_LINE, later()).await.expect("read"),
        None
    );
    assert!(reader.buf().len() <= MAX_LINE + mailkeep_frontend::connection::READ_SIZE);
    // Even a parser that kept reading could not hold more than max_input.
    let err = loop {
        match reader.fill(later()).await {
            Ok(_) => assert!(reader.buf().len() <= MAX_INPUT),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, ReadError::BufferFull(MAX_INPUT)), "{err:?}");
    assert!(reader.buf().iter().all(|&b| b == b'A'));

    // The session can still say goodbye, compressed.
    writer
        .write(b"* BYE Line too long\r\n")
        .await
        .expect("write");
    writer.flush().await.expect("flush");
    let mut deflate = ClientDeflate::new();
    assert_eq!(
        read_inflated_line(&mut client_read, &mut deflate).await,
        b"* BYE Line too long\r\n"
    );
    sender.abort();
}

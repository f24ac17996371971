//! TLS as the tests' clients speak it: rustls accepting whatever
//! certificate the server presents and keeping it, so that a test pins it
//! by the SHA-256 fingerprint the server printed (as a user compares what
//! their client shows); implicit TLS and STARTTLS for the test kit's
//! client; the RFC 9266 `tls-exporter` channel binding.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mailkeep_testkit::BlockingClient;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

use super::DEADLINE;

/// A client's TLS stream over TCP.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// An IMAP client over TLS.
pub type TlsClient = BlockingClient<TlsStream>;

/// Accepts whatever certificate the server presents and keeps it: the
/// tests pin it by fingerprint instead.
#[derive(Debug)]
pub struct Recorder {
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Mutex<Option<CertificateDer<'static>>>,
}

impl Recorder {
    /// The end-entity certificate of the last handshake, DER.
    pub fn seen(&self) -> Option<CertificateDer<'static>> {
        self.seen.lock().expect("lock").clone()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().expect("lock") = Some(end_entity.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration (TLS 1.2 and 1.3) whose verifier records the
/// server's certificate, and that recorder.
pub fn client_config() -> (Arc<rustls::ClientConfig>, Arc<Recorder>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        provider: Arc::clone(&provider),
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    (Arc::new(config), recorder)
}

/// The SHA-256 fingerprint of a DER certificate as `AB:CD:...`, the form
/// the server prints.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The fingerprint the server printed at start: waited for, since its
/// stdout reaches the test through a pipe copied by a harness thread,
/// which may not have copied the line yet when the greeting came.
pub fn wait_printed_fingerprint(server: &super::Server<'_>) -> String {
    server.wait_for_output("the printed TLS fingerprint", DEADLINE, printed_fingerprint)
}

/// The fingerprint from the server's `TLS certificate: self-signed, ...`
/// line, if it printed one.
pub fn printed_fingerprint(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find(|l| l.starts_with("TLS certificate: self-signed"))
        .and_then(|l| l.split("fingerprint ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// The TLS handshake as a client, SNI `localhost`, on `tcp`; returns the
/// stream and the fingerprint of the certificate presented.
async fn handshake(tcp: TcpStream) -> std::io::Result<(TlsStream, String)> {
    let (config, recorder) = client_config();
    let name = ServerName::try_from("localhost").expect("a server name");
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    let der = recorder.seen().expect("a certificate in the handshake");
    Ok((stream, fingerprint(&der)))
}

/// Connects to an implicit-TLS listener at `addr`, reads the greeting
/// over TLS, and returns the client and the presented certificate's
/// fingerprint.
pub fn connect_tls(addr: SocketAddr) -> (TlsClient, String) {
    let mut presented = String::new();
    let mut client = BlockingClient::over(async || {
        let tcp = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        let (stream, print) = tokio::time::timeout(DEADLINE, handshake(tcp))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        presented = print;
        Ok(stream)
    })
    .unwrap_or_else(|e| panic!("TLS connection to {addr}: {e}"));
    client.set_timeout(DEADLINE);
    (client, presented)
}

/// Runs STARTTLS on `client`, asserting its tagged OK, and does the
/// handshake; returns the client over TLS and the certificate's
/// fingerprint. No response may have come after the OK in the clear.
pub fn start_tls(mut client: BlockingClient) -> (TlsClient, String) {
    let reply = client.ok("STARTTLS");
    assert!(reply.responses.is_empty(), "STARTTLS: {reply:?}");
    let mut presented = String::new();
    let client = client
        .upgrade(async |tcp, unread| {
            assert!(unread.is_empty(), "bytes in the clear after STARTTLS's OK");
            let (stream, print) = handshake(tcp).await?;
            presented = print;
            Ok(stream)
        })
        .unwrap_or_else(|e| panic!("the TLS handshake after STARTTLS: {e}"));
    (client, presented)
}

/// The connection's RFC 9266 `tls-exporter` channel binding (32 bytes
/// exported under `EXPORTER-Channel-Binding`, no context); TLS 1.3 only.
pub fn channel_binding(client: &mut TlsClient) -> [u8; 32] {
    let mut binding = [0u8; 32];
    client
        .client()
        .stream_mut()
        .get_ref()
        .1
        .export_keying_material(&mut binding, b"EXPORTER-Channel-Binding", None)
        .expect("exporting keying material");
    binding
}

/// The TLS version the connection negotiated.
pub fn protocol_version(client: &mut TlsClient) -> Option<rustls::ProtocolVersion> {
    client.client().stream_mut().get_ref().1.protocol_version()
}

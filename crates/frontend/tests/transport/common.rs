//! Test PKI (a CA and leaves made with rcgen), certificate messages as the
//! master sends them, a TLS client that trusts the CA, and servers made of
//! real listeners.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{
    AcceptSettings, Acceptor, ConnLimits, Connection, Listener, ListenerKind, PlaintextLogins,
    ServerTls,
};
use mailkeep_storage_rpc::broker::{ServerCertificate, ServerCertificates, TlsVersion};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;

/// A CA that signs test certificates.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// One issued certificate: its chain and key as PEM, and its DER.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

impl Pki {
    pub fn new() -> Pki {
        let ca = CertifiedIssuer::self_signed(ca_params(), KeyPair::generate().expect("key"))
            .expect("CA");
        Pki { ca }
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    /// A leaf for `names`, signed by the CA.
    pub fn leaf(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &self.ca)
            .expect("sign");
        Issued {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A leaf signed by an intermediate CA (itself signed by the CA); the
    /// chain holds both.
    pub fn leaf_via_intermediate(&self, names: &[&str]) -> Issued {
        let intermediate =
            CertifiedIssuer::signed_by(ca_params(), KeyPair::generate().expect("key"), &self.ca)
                .expect("intermediate");
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &intermediate)
            .expect("sign");
        Issued {
            chain_pem: format!("{}{}", cert.pem(), intermediate.pem()),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client configuration trusting the CA, any TLS version.
    pub fn client(&self) -> Arc<rustls::ClientConfig> {
        self.client_with(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }

    pub fn client_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

pub fn certificate(issued: &Issued, names: &[&str]) -> ServerCertificate {
    ServerCertificate {
        server_names: names.iter().map(|s| s.to_string()).collect(),
        chain_pem: issued.chain_pem.clone().into_bytes(),
        key_pem: issued.key_pem.clone().into_bytes(),
    }
}

/// Certificates with `default` and no SNI ones, TLS 1.2 and up.
pub fn certificates(default: &Issued, generation: u64) -> ServerCertificates {
    ServerCertificates {
        default_certificate: Some(certificate(default, &[])),
        by_name: Vec::new(),
        min_version: TlsVersion::Tls12 as i32,
        generation,
    }
}

pub fn server_tls(certs: &ServerCertificates) -> ServerTls {
    ServerTls::new(certs, Duration::from_secs(10)).expect("server TLS")
}

pub fn settings(max_connections: usize) -> AcceptSettings {
    AcceptSettings {
        max_connections,
        refusal: b"* BYE Too many connections\r\n".to_vec(),
        plaintext_logins: PlaintextLogins::Loopback,
        limits: ConnLimits::default(),
        clients: Default::default(),
    }
}

/// A TCP listener of `kind` on a free loopback port.
pub fn tcp_listener(kind: ListenerKind, name: &str) -> (Listener, SocketAddr) {
    let std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std.local_addr().expect("address");
    (Listener::tcp(std, kind, name).expect("listener"), addr)
}

/// Runs an acceptor whose handler sends every connection to the test.
pub fn serve_into_channel(
    listeners: Vec<Listener>,
    tls: ServerTls,
    settings: AcceptSettings,
) -> mpsc::UnboundedReceiver<Connection> {
    let (tx, rx) = mpsc::unbounded_channel();
    let acceptor = Acceptor::new(listeners, tls, settings);
    tokio::spawn(acceptor.serve(move |conn| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(conn);
        }
    }));
    rx
}

/// A TLS client connection over `tcp` naming `server_name`.
pub async fn tls_connect(
    config: Arc<rustls::ClientConfig>,
    server_name: &str,
    tcp: TcpStream,
) -> std::io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// The end-entity certificate the server presented.
pub fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("a certificate")
        .clone()
        .into_owned()
}

/// A deadline far enough away never to fire in a passing test.
pub fn later() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

/// The client's side of COMPRESS=DEFLATE, done by hand.
pub struct ClientDeflate {
    deflate: flate2::Compress,
    inflate: flate2::Decompress,
}

impl ClientDeflate {
    pub fn new() -> ClientDeflate {
        ClientDeflate {
            deflate: flate2::Compress::new(flate2::Compression::default(), false),
            inflate: flate2::Decompress::new(false),
        }
    }

    /// `data` compressed and sync-flushed.
    pub fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut taken = 0;
        loop {
            out.reserve(1024);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&data[taken..], &mut out, flate2::FlushCompress::Sync)
                .expect("compress");
            taken += (self.deflate.total_in() - before) as usize;
            if taken == data.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// Inflates `data`.
    pub fn inflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut used = 0;
        loop {
            out.reserve(4096);
            let before = self.inflate.total_in();
            self.inflate
                .decompress_vec(&data[used..], &mut out, flate2::FlushDecompress::Sync)
                .expect("inflate");
            used += (self.inflate.total_in() - before) as usize;
            if used == data.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}

/// Reads from `stream` until `inflater` has produced a line ending.
pub async fn read_inflated_line<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    inflater: &mut ClientDeflate,
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while !text.ends_with(b"\r\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "closed before a whole line; got {:?}",
            String::from_utf8_lossy(&text)
        );
        text.extend(inflater.inflate(&buf[..n]));
    }
    text
}

/// Reads one line byte by byte (so nothing after it is taken).
pub async fn read_plain_line<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let b = stream.read_u8().await.expect("read");
        line.push(b);
    }
    line
}

/// A plain-listener connection and its client socket.
pub async fn plain_pair(tls: &ServerTls, limits: ConnLimits) -> (Connection, TcpStream) {
    let (listener, addr) = tcp_listener(ListenerKind::Plain, "imap");
    let mut s = settings(10);
    s.limits = limits;
    let mut conns = serve_into_channel(vec![listener], tls.clone(), s);
    let client = TcpStream::connect(addr).await.expect("connect");
    let conn = conns.recv().await.expect("connection");
    (conn, client)
}

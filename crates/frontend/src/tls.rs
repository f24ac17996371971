//! Server-side TLS for client connections: rustls with the ring provider,
//! built from the PEM material the master hands over (protocol processes
//! are chrooted and read no file). Several certificates are chosen by the
//! name the client asks for (SNI), with a default; each chain is sent
//! whole. The configuration can be swapped while the process runs:
//! handshakes after the swap use the new one, connections already
//! established keep theirs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mailkeep_storage_rpc::broker::{ServerCertificate, ServerCertificates, TlsVersion};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::conn_info::{TlsInfo, TlsVersion as NegotiatedVersion};

/// Why certificates could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// No default certificate was given.
    #[error("no default certificate")]
    NoDefault,
    /// A PEM input held nothing usable.
    #[error("{what} of certificate {index}: {message}")]
    Pem {
        /// "certificate chain" or "private key".
        what: &'static str,
        /// 0 for the default certificate, then 1, 2, ... for the SNI ones.
        index: usize,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the key or the configuration (e.g. a key that does
    /// not match its certificate).
    #[error("certificate {index}: {source}")]
    Rustls {
        /// As in [`CertificateError::Pem`].
        index: usize,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// An SNI certificate names no server, or an empty or malformed name.
    #[error("certificate {index}: bad server name {name:?}")]
    ServerName {
        /// As in [`CertificateError::Pem`].
        index: usize,
        /// The name.
        name: String,
    },
}

/// The TLS server configuration of a protocol process, shared by every
/// listener and every STARTTLS, and replaced as a whole when the master
/// sends new certificates.
#[derive(Clone)]
pub struct ServerTls {
    current: Arc<watch::Sender<Installed>>,
    handshake_timeout: Duration,
}

/// One installed configuration and the master's generation number of it.
#[derive(Clone)]
struct Installed {
    config: Arc<ServerConfig>,
    generation: u64,
}

impl ServerTls {
    /// Builds the configuration from `certificates`. A handshake (on an
    /// implicit-TLS listener or after STARTTLS) that takes longer than
    /// `handshake_timeout` ends the connection.
    pub fn new(
        certificates: &ServerCertificates,
        handshake_timeout: Duration,
    ) -> Result<ServerTls, CertificateError> {
        let installed = Installed {
            config: Arc::new(server_config(certificates)?),
            generation: certificates.generation,
        };
        Ok(ServerTls {
            current: Arc::new(watch::Sender::new(installed)),
            handshake_timeout,
        })
    }

    /// Replaces the configuration. Handshakes that start afterwards use the
    /// new certificates; established connections keep theirs. On an error
    /// the old configuration stays.
    pub fn replace(&self, certificates: &ServerCertificates) -> Result<(), CertificateError> {
        let config = Arc::new(server_config(certificates)?);
        self.current.send_replace(Installed {
            config,
            generation: certificates.generation,
        });
        Ok(())
    }

    /// The master's generation number of the certificates in use.
    pub fn generation(&self) -> u64 {
        self.current.borrow().generation
    }

    /// Resolves once a configuration other than the one in use at the
    /// call is installed, to its generation (for tests and logs).
    pub fn changed(&self) -> impl std::future::Future<Output = u64> + Send + 'static {
        // Subscribed now, so a replacement right after the call counts.
        let mut rx = self.current.subscribe();
        rx.mark_unchanged();
        async move {
            // The sender lives while any ServerTls does; if all are gone
            // there is nothing to wait for.
            let _ = rx.changed().await;
            rx.borrow().generation
        }
    }

    /// How long a handshake may take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.current.borrow().config))
    }
}

/// Checks that `certificates` make a working configuration, as the master
/// does before handing them to protocol processes.
pub fn check_certificates(certificates: &ServerCertificates) -> Result<(), CertificateError> {
    server_config(certificates).map(|_| ())
}

fn server_config(certificates: &ServerCertificates) -> Result<ServerConfig, CertificateError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = certificates
        .default_certificate
        .as_ref()
        .ok_or(CertificateError::NoDefault)?;
    let mut resolver = SniResolver {
        default: Arc::new(certified_key(default, 0, &provider)?),
        exact: HashMap::new(),
        wildcard: HashMap::new(),
    };
    for (i, cert) in certificates.by_name.iter().enumerate() {
        let index = i + 1;
        if cert.server_names.is_empty() {
            return Err(CertificateError::ServerName {
                index,
                name: String::new(),
            });
        }
        let key = Arc::new(certified_key(cert, index, &provider)?);
        for name in &cert.server_names {
            resolver.add(name, &key, index)?;
        }
    }
    let versions: &[&'static rustls::SupportedProtocolVersion] = match certificates.min_version() {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        TlsVersion::Tls12 | TlsVersion::Unspecified => {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        }
    };
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|source| CertificateError::Rustls { index: 0, source })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Ok(config)
}

fn certified_key(
    cert: &ServerCertificate,
    index: usize,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, CertificateError> {
    let chain = CertificateDer::pem_slice_iter(&cert.chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::Pem {
            what: "certificate chain",
            index,
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(CertificateError::Pem {
            what: "certificate chain",
            index,
            message: "no certificate in the PEM".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&cert.key_pem).map_err(|e| CertificateError::Pem {
        what: "private key",
        index,
        message: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|source| CertificateError::Rustls { index, source })
}

/// Picks the certificate by the client's SNI name: an exact name first,
/// then a wildcard for the name's parent, else the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// "example.org" for a certificate configured as "*.example.org".
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn add(
        &mut self,
        name: &str,
        key: &Arc<CertifiedKey>,
        index: usize,
    ) -> Result<(), CertificateError> {
        let lower = name.trim().to_ascii_lowercase();
        let bad = || CertificateError::ServerName {
            index,
            name: name.to_owned(),
        };
        let (map, host) = match lower.strip_prefix("*.") {
            Some(parent) => (&mut self.wildcard, parent.to_owned()),
            None => (&mut self.exact, lower),
        };
        if host.is_empty() || host.contains('*') || host.starts_with('.') || host.ends_with('.') {
            return Err(bad());
        }
        map.insert(host, Arc::clone(key));
        Ok(())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return Some(Arc::clone(&self.default));
        };
        let name = name.to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return Some(Arc::clone(key));
        }
        if let Some((_, parent)) = name.split_once('.')
            && let Some(key) = self.wildcard.get(parent)
        {
            return Some(Arc::clone(key));
        }
        Some(Arc::clone(&self.default))
    }
}

/// The RFC 9266 label of the `tls-exporter` channel binding.
const CHANNEL_BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// What a finished handshake negotiated.
pub(crate) fn tls_info(conn: &ServerConnection) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => NegotiatedVersion::Tls13,
        _ => NegotiatedVersion::Tls12,
    };
    let channel_binding = if version == NegotiatedVersion::Tls13 {
        conn.export_keying_material([0u8; 32], CHANNEL_BINDING_LABEL, None)
            .ok()
    } else {
        None
    };
    TlsInfo {
        server_name: conn.server_name().map(str::to_ascii_lowercase),
        version,
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        channel_binding,
    }
}

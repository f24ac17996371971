//! TCP+TLS between hosts (DESIGN §3): rustls configurations built from PEM
//! bytes, and the gateway handshake (one framed `GatewayHello` and its
//! `GatewayReply`) from either end: the gateway role accepts it, the relay
//! role opens it.
//!
//! Both sides verify the peer against the cluster CA. The material is
//! passed as bytes, not paths, because the gateway and the relay are
//! chrooted and get it from the master before the chroot. Protocol
//! processes never get it: the relay connects for them.

use std::io;
use std::sync::Arc;

use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
pub use tokio_rustls::TlsAcceptor;
use tokio_rustls::TlsConnector;

use crate::broker::{GatewayHello, GatewayReply};
use crate::framing::MAX_FRAME;

/// How long connecting, the TLS handshake and the hello exchange may take
/// together, so that an unreachable or silent gateway never hangs a session.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why TLS material, a connection or the gateway handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input held nothing usable.
    #[error("TLS material ({what}): {message}")]
    Material {
        /// Which input: "CA certificate", "certificate", "private key".
        what: &'static str,
        /// What was wrong.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client certificate verifier could not be built.
    #[error("TLS client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The server name is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    /// Connecting, the handshake or the stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A frame was over [`MAX_FRAME`] or did not decode.
    #[error("gateway frame: {0}")]
    Frame(String),
    /// The gateway refused the connection (bad ticket, owner not here, ...).
    #[error("gateway refused ({code:?}): {message}")]
    Refused {
        /// Why, as a code the caller maps to its response.
        code: crate::broker::RefusalCode,
        /// Why.
        message: String,
    },
    /// The whole exchange took longer than [`HANDSHAKE_TIMEOUT`].
    #[error("gateway {0} did not answer within {HANDSHAKE_TIMEOUT:?}")]
    Timeout(String),
    /// The HTTP/2 handshake over the TLS stream failed.
    #[error("gRPC channel over TLS: {0}")]
    Http2(#[source] crate::channel::ChannelError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> TlsError {
    let context = context.into();
    move |source| TlsError::Io { context, source }
}

/// The PEM material of one host: the cluster CA, and this host's
/// certificate chain and key (needed by a gateway, and by a client when
/// the peer requires client certificates).
#[derive(Clone, Default)]
pub struct TlsMaterial {
    /// The cluster CA certificate(s), PEM.
    pub ca_pem: Vec<u8>,
    /// This host's certificate chain, PEM; empty: none.
    pub cert_pem: Vec<u8>,
    /// This host's private key, PEM; empty: none.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsMaterial")
            .field("ca_pem_len", &self.ca_pem.len())
            .field("cert_pem_len", &self.cert_pem.len())
            .field("has_key", &!self.key_pem.is_empty())
            .finish()
    }
}

impl Drop for TlsMaterial {
    fn drop(&mut self) {
        // No copy of the key is left in freed memory.
        zeroize::Zeroize::zeroize(&mut self.key_pem);
    }
}

impl TlsMaterial {
    /// Encodes the material as one byte string (three length-prefixed
    /// parts), to hand to a child process on an inherited descriptor.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [&self.ca_pem, &self.cert_pem, &self.key_pem] {
            // PEM material is a few KiB; anything past 4 GiB is cut.
            let len = part.len().min(u32::MAX as usize);
            out.extend_from_slice(&(len as u32).to_be_bytes());
            out.extend_from_slice(&part[..len]);
        }
        out
    }

    /// Decodes what [`TlsMaterial::encode`] made.
    pub fn decode(mut bytes: &[u8]) -> Result<Self, TlsError> {
        let mut parts = Vec::with_capacity(3);
        for _ in 0..3 {
            let bad = || TlsError::Material {
                what: "encoded material",
                message: "truncated".into(),
            };
            let header: [u8; 4] = bytes
                .get(..4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?;
            let len = u32::from_be_bytes(header) as usize;
            let part = bytes.get(4..4 + len).ok_or_else(bad)?;
            parts.push(part.to_vec());
            bytes = &bytes[4 + len..];
        }
        let key_pem = parts.pop().unwrap_or_default();
        let cert_pem = parts.pop().unwrap_or_default();
        let ca_pem = parts.pop().unwrap_or_default();
        Ok(TlsMaterial {
            ca_pem,
            cert_pem,
            key_pem,
        })
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let cert = cert.map_err(|e| TlsError::Material {
                what: "CA certificate",
                message: e.to_string(),
            })?;
            roots.add(cert)?;
        }
        if roots.is_empty() {
            return Err(TlsError::Material {
                what: "CA certificate",
                message: "no certificate in the PEM".into(),
            });
        }
        Ok(roots)
    }

    fn identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsError> {
        if self.cert_pem.is_empty() && self.key_pem.is_empty() {
            return Ok(None);
        }
        let chain = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Material {
                what: "certificate",
                message: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Material {
                what: "certificate",
                message: "no certificate in the PEM".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| TlsError::Material {
            what: "private key",
            message: e.to_string(),
        })?;
        Ok(Some((chain, key)))
    }

    /// The gateway's server configuration: presents this host's
    /// certificate; verifies client certificates against the CA, and
    /// requires one if `require_client_cert`.
    pub fn server_config(&self, require_client_cert: bool) -> Result<ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (chain, key) = self.identity()?.ok_or_else(|| TlsError::Material {
            what: "certificate",
            message: "the gateway needs cert_file and key_file".into(),
        })?;
        let builder = WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            Arc::clone(&provider),
        );
        let builder = if require_client_cert {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        let verifier = builder.build()?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        Ok(config)
    }

    /// The client configuration: verifies the gateway against the CA and
    /// presents this host's certificate when one is given.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?);
        let config = match self.identity()? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        Ok(config)
    }
}

/// Makes a TLS acceptor for the gateway.
pub fn acceptor(
    material: &TlsMaterial,
    require_client_cert: bool,
) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(
        material.server_config(require_client_cert)?,
    )))
}

/// Writes one length-prefixed protobuf frame on any byte stream.
pub async fn write_frame<S: AsyncWrite + Unpin, M: Message>(
    stream: &mut S,
    message: &M,
) -> Result<(), TlsError> {
    let body = message.encode_to_vec();
    if body.len() > MAX_FRAME {
        return Err(TlsError::Frame(format!(
            "{} bytes is over the limit",
            body.len()
        )));
    }
    let len = u32::try_from(body.len()).map_err(|_| TlsError::Frame("too large".into()))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    stream
        .write_all(&frame)
        .await
        .map_err(io_err("writing a gateway frame"))?;
    stream
        .flush()
        .await
        .map_err(io_err("writing a gateway frame"))?;
    Ok(())
}

/// Reads one length-prefixed protobuf frame (at most [`MAX_FRAME`] bytes).
pub async fn read_frame<S: AsyncRead + Unpin, M: Message + Default>(
    stream: &mut S,
) -> Result<M, TlsError> {
    let mut header = [0u8; 4];
    stream
        .read_exact(&mut header)
        .await
        .map_err(io_err("reading a gateway frame"))?;
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(TlsError::Frame(format!(
            "{len} bytes is over the limit of {MAX_FRAME}"
        )));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(io_err("reading a gateway frame"))?;
    M::decode(body.as_slice()).map_err(|e| TlsError::Frame(e.to_string()))
}

/// A TLS connection to another host's storage gateway, after its hello
/// was accepted: it carries the storage RPC from here on.
pub type GatewayStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Connects to the storage gateway at `address` over TCP+TLS (verifying
/// its certificate for `server_name` against the cluster CA), sends
/// `hello` and reads the gateway's reply: the stream once the gateway
/// accepted, else its refusal. Bounded by [`HANDSHAKE_TIMEOUT`]. Only the
/// relay calls it (it alone holds the client certificate).
pub async fn open_gateway(
    config: Arc<ClientConfig>,
    address: &str,
    server_name: &str,
    hello: &GatewayHello,
) -> Result<GatewayStream, TlsError> {
    open_gateway_answered(config, address, server_name, hello)
        .await
        .map(|(stream, _)| stream)
}

/// [`open_gateway`], also handing back the gateway's reply (for hellos
/// the gateway answers with data, such as `sharing_owners`).
pub async fn open_gateway_answered(
    config: Arc<ClientConfig>,
    address: &str,
    server_name: &str,
    hello: &GatewayHello,
) -> Result<(GatewayStream, GatewayReply), TlsError> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
    let exchange = async {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(io_err(format!("connecting to gateway {address}")))?;
        tcp.set_nodelay(true)
            .map_err(io_err(format!("connecting to gateway {address}")))?;
        let mut tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(io_err(format!("TLS handshake with gateway {address}")))?;
        write_frame(&mut tls, hello).await?;
        let reply: GatewayReply = read_frame(&mut tls).await?;
        if reply.code != 0 || !reply.error.is_empty() {
            return Err(TlsError::Refused {
                code: reply.code(),
                message: reply.error,
            });
        }
        Ok((tls, reply))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange)
        .await
        .map_err(|_| TlsError::Timeout(address.to_owned()))?
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;

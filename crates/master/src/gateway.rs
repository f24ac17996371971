//! The storage gateway (DESIGN §3, issue 4 item 8): other hosts' protocol
//! processes reach this host's storage over TCP+TLS.
//!
//! On each accepted connection the gateway terminates TLS, reads one framed
//! `GatewayHello { ticket, owner }`, checks the ticket with the public key
//! of the host that issued it (the trusted-host list) and that its session
//! was not ended, and that the owner lives on this host, obtains a connection to the
//! owner's local storage process exactly as the broker does for a local
//! protocol process, answers `GatewayReply`, and then splices bytes both
//! ways. The storage process still checks the ticket on every call, so the
//! gateway adds no trust; it only saves a remote host from reaching a UNIX
//! socket it cannot reach.

use std::sync::Arc;
use std::time::Duration;

use mailkeep_auth::userdb::UserEntry;
use mailkeep_storage_rpc::broker::{GatewayHello, GatewayReply, RefusalCode, broker_reply};
use mailkeep_storage_rpc::framing::into_unix_stream;
use mailkeep_storage_rpc::tls::{
    TlsAcceptor, TlsError, TlsMaterial, acceptor, read_frame, write_frame,
};
use mailkeep_ticket::Scope;
use tokio::net::{TcpListener, TcpStream};

use crate::serve::Shared;

/// How long a connecting host may take for the TLS handshake and its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A TLS file could not be read.
    #[error("gateway: reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS file is not configured.
    #[error("gateway: [gateway] {0} must be set when listen is set")]
    Missing(&'static str),
    /// The TLS material is unusable.
    #[error("gateway: {0}")]
    Tls(#[from] TlsError),
    /// The listener could not be bound.
    #[error("gateway: binding {address}: {source}")]
    Bind {
        /// The configured address.
        address: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn read_file(path: Option<&std::path::Path>, what: &'static str) -> Result<Vec<u8>, GatewayError> {
    let path = path.ok_or(GatewayError::Missing(what))?;
    std::fs::read(path).map_err(|source| GatewayError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads the TLS material named in `[gateway]`: the CA, and this host's
/// certificate and key when set. Used for the gateway itself and for what
/// the protocol processes get to connect to other hosts' gateways.
pub fn load_material(config: &mailkeep_config::Config) -> Result<TlsMaterial, GatewayError> {
    let g = &config.gateway;
    let ca_pem = read_file(g.ca_file.as_deref(), "ca_file")?;
    let cert_pem = match g.cert_file.as_deref() {
        Some(p) => read_file(Some(p), "cert_file")?,
        None => Vec::new(),
    };
    let key_pem = match g.key_file.as_deref() {
        Some(p) => read_file(Some(p), "key_file")?,
        None => Vec::new(),
    };
    Ok(TlsMaterial {
        ca_pem,
        cert_pem,
        key_pem,
    })
}

/// Binds the gateway if `[gateway] listen` is set; `None` when it is off.
/// Done before children start so that a bad setting fails the start.
pub async fn bind(
    config: &mailkeep_config::Config,
) -> Result<Option<(TcpListener, TlsAcceptor)>, GatewayError> {
    let address = config.gateway.listen.trim();
    if address.is_empty() {
        return Ok(None);
    }
    let material = load_material(config)?;
    let tls = acceptor(&material, config.gateway.require_client_cert)?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| GatewayError::Bind {
            address: address.to_owned(),
            source,
        })?;
    tracing::info!("storage gateway listening on {address}");
    Ok(Some((listener, tls)))
}

/// Where an owner's mail lives when not on this host: `(address,
/// server_name)` of that host's gateway, from the userdb field `host=` and
/// `[cluster.hosts]`. `Ok(None)`: here. Without `[cluster.hosts]` every
/// owner is local (a single host).
pub fn remote_home(
    config: &mailkeep_config::Config,
    entry: &UserEntry,
) -> Result<Option<(String, String)>, String> {
    let Some(host) = entry.extra_field("host").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    if config.cluster.hosts.is_empty() || host == config.server.hostname {
        return Ok(None);
    }
    let Some(address) = config.cluster.hosts.get(host) else {
        return Err(format!(
            "user's home host {host:?} is not in [cluster.hosts]"
        ));
    };
    Ok(Some((address.clone(), server_name_of(address))))
}

/// The TLS name to verify for a gateway address: the host part of
/// `host:port` (an IP address or a DNS name), brackets removed.
fn server_name_of(address: &str) -> String {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => address,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// Accepts gateway connections until the master stops.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, tls: TlsAcceptor) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("gateway accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(shared, tcp, tls).await {
                tracing::warn!(%peer, "gateway connection: {e}");
            }
        });
    }
}

/// Why one gateway connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error("no hello within {HELLO_TIMEOUT:?}")]
    Timeout,
    #[error(transparent)]
    Frame(#[from] TlsError),
    #[error("refused ({code:?}): {message}")]
    Refused { code: RefusalCode, message: String },
    #[error("splicing: {0}")]
    Splice(std::io::Error),
}

async fn serve_connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    tls: TlsAcceptor,
) -> Result<(), ConnectionError> {
    let _ = tcp.set_nodelay(true);
    let (mut stream, hello) = tokio::time::timeout(HELLO_TIMEOUT, async {
        let mut stream = tls.accept(tcp).await.map_err(ConnectionError::Handshake)?;
        let hello: GatewayHello = read_frame(&mut stream).await?;
        Ok::<_, ConnectionError>((stream, hello))
    })
    .await
    .map_err(|_| ConnectionError::Timeout)??;
    if !hello.revoke.is_empty() {
        // Another host's master passing on sessions that ended there.
        let count = hello.revoke.len();
        for ticket in &hello.revoke {
            crate::revoke::end_session_of_ticket(
                &shared,
                None,
                ticket,
                crate::revoke::Forward::LocalOnly,
            )
            .await;
        }
        tracing::info!(count, "gateway: another host ended sessions");
        write_frame(&mut stream, &GatewayReply::default()).await?;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
        return Ok(());
    }
    let client_id = shared.next_connection_id();
    let attached = attach(&shared, client_id, &hello).await;
    let fd = match attached {
        Ok(fd) => fd,
        Err((code, message)) => {
            tracing::warn!(owner = hello.owner, "gateway refused: {code:?}: {message}");
            let reply = GatewayReply {
                code: code as i32,
                error: message.clone(),
            };
            // Best effort: the peer gets a clear refusal, not a hang.
            let _ = write_frame(&mut stream, &reply).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
            return Err(ConnectionError::Refused { code, message });
        }
    };
    let result = async {
        let mut local = into_unix_stream(fd).map_err(ConnectionError::Splice)?;
        write_frame(&mut stream, &GatewayReply::default()).await?;
        tracing::info!(owner = hello.owner, "gateway: forwarding to local storage");
        tokio::io::copy_bidirectional(&mut stream, &mut local)
            .await
            .map_err(ConnectionError::Splice)?;
        Ok(())
    }
    .await;
    shared.storage.lock().await.forget_client(client_id);
    result
}

/// Checks the hello and gets a connection to the owner's local storage
/// process, or says why not as (code, message).
async fn attach(
    shared: &Arc<Shared>,
    client_id: u64,
    hello: &GatewayHello,
) -> Result<std::os::fd::OwnedFd, (RefusalCode, String)> {
    let refuse = |code: RefusalCode, message: String| (code, message);
    let claims = crate::broker::verify_live(shared, &hello.ticket)
        .map_err(|e| refuse(RefusalCode::Unauthenticated, e.to_string()))?;
    claims
        .authorize(&hello.owner, Scope::Deliver)
        .map_err(|e| refuse(RefusalCode::Refused, e.to_string()))?;
    let entry = shared
        .lookup_owner(&hello.owner)
        .map_err(|r| (r.code, r.message))?;
    match remote_home(&shared.config, &entry) {
        Ok(None) => {}
        Ok(Some((address, _))) => {
            return Err(refuse(
                RefusalCode::Refused,
                format!(
                    "owner {:?} is not homed on this host (see {address})",
                    hello.owner
                ),
            ));
        }
        Err(m) => return Err(refuse(RefusalCode::Refused, m)),
    }
    let (kind, fd) =
        crate::broker::attach_storage(shared, client_id, &hello.ticket, &hello.owner, &[]).await;
    match (kind, fd) {
        (broker_reply::Kind::Storage(_), Some(fd)) => Ok(fd),
        (broker_reply::Kind::Error(e), _) => Err((e.code(), e.message)),
        _ => Err(refuse(
            RefusalCode::Unavailable,
            "the broker gave no storage connection".into(),
        )),
    }
}

/// The TLS material protocol processes need to reach other hosts'
/// gateways (they are chrooted and cannot read it themselves): the read end
/// of a pipe holding [`TlsMaterial::encode`]d bytes, to be inherited.
/// `None` when `[gateway] ca_file` is not set (a single host).
pub fn material_for_children(
    config: &mailkeep_config::Config,
) -> Result<Option<std::os::fd::OwnedFd>, GatewayError> {
    if config.gateway.ca_file.is_none() {
        return Ok(None);
    }
    let bytes = load_material(config)?.encode();
    // The child reads it only once started: everything must fit in the
    // pipe's buffer (64 KiB on Linux) so this write cannot block.
    if bytes.len() > 60 * 1024 {
        return Err(GatewayError::Tls(TlsError::Material {
            what: "encoded material",
            message: format!("{} bytes is over 60 KiB", bytes.len()),
        }));
    }
    let pipe_err = |source| GatewayError::Read {
        path: "a pipe for the TLS material".into(),
        source,
    };
    let (reader, mut writer) = std::io::pipe().map_err(pipe_err)?;
    std::io::Write::write_all(&mut writer, &bytes).map_err(pipe_err)?;
    drop(writer);
    Ok(Some(std::os::fd::OwnedFd::from(reader)))
}

#[cfg(test)]
mod tests {
    use super::server_name_of;

    #[test]
    fn server_names() {
        assert_eq!(server_name_of("127.0.0.3:4190"), "127.0.0.3");
        assert_eq!(server_name_of("[::1]:4190"), "::1");
        assert_eq!(server_name_of("mail.example.org:4190"), "mail.example.org");
    }
}

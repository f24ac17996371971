//! The storage gateway's master side (DESIGN §3): other hosts' relays
//! reach this host's storage over TCP+TLS through the `gateway` role
//! (crate `mailkeep-gateway`), an unprivileged, chrooted, confined process
//! that the master starts with the listening socket, the cluster TLS
//! material and a broker channel of its own. It asks the broker for
//! storage connections as protocol processes do; the broker knows it is
//! the gateway and so never relays its requests onwards, and takes the
//! sessions it reports ended as ended elsewhere (not passed on again).
//!
//! Also here: what the master reads for both cluster roles (the TLS files)
//! and where an owner's mail lives (`remote_home`).

use std::os::fd::OwnedFd;
use std::sync::Arc;

use mailkeep_auth::userdb::UserEntry;
use mailkeep_storage_rpc::tls::{TlsError, TlsMaterial, acceptor};

use crate::MasterError;
use crate::serve::Shared;

/// Descriptor numbers the gateway role finds its channels at.
const FD_BROKER: i32 = 3;
const FD_LISTENER: i32 = 4;
const FD_TLS: i32 = 5;

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

/// Which end of the cluster's TLS links a process is, and so which
/// certificate and key it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEnd {
    /// The gateway: serves other hosts (`cert_file`, `key_file`).
    Gateway,
    /// The relay: connects to other hosts' gateways (`relay_cert_file`,
    /// `relay_key_file`).
    Relay,
}

/// Reads the TLS material named in `[gateway]` for `end`: the CA, and
/// that end's certificate and key when set. Only the gateway and the relay
/// get it, each its own key; a relay with no certificate of its own
/// configured gets the gateway's (clusters made before the split).
pub fn load_material(
    config: &mailkeep_config::Config,
    end: LinkEnd,
) -> Result<TlsMaterial, GatewayError> {
    let g = &config.gateway;
    let ca_pem = read_file(g.ca_file.as_deref(), "ca_file")?;
    let (cert, key, names) = match end {
        LinkEnd::Relay if g.relay_cert_file.is_some() || g.relay_key_file.is_some() => (
            g.relay_cert_file.as_deref(),
            g.relay_key_file.as_deref(),
            ["relay_cert_file", "relay_key_file"],
        ),
        LinkEnd::Relay | LinkEnd::Gateway => {
            if end == LinkEnd::Relay && g.cert_file.is_some() {
                tracing::warn!(
                    "[gateway] relay_cert_file is not set: the relay uses the gateway's \
                     certificate (set relay_cert_file and relay_key_file to a client-only \
                     certificate of the cluster CA, as `mailkeep cluster add-host` makes)"
                );
            }
            (
                g.cert_file.as_deref(),
                g.key_file.as_deref(),
                ["cert_file", "key_file"],
            )
        }
    };
    let read_optional = |path: Option<&std::path::Path>, what| match path {
        Some(p) => read_file(Some(p), what),
        None => Ok(Vec::new()),
    };
    Ok(TlsMaterial {
        ca_pem,
        cert_pem: read_optional(cert, names[0])?,
        key_pem: read_optional(key, names[1])?,
    })
}

/// Binds the gateway if `[gateway] listen` is set; `None` when it is off.
/// Done before children start, with the TLS material checked, so that a
/// bad setting fails the start.
pub fn bind(
    config: &mailkeep_config::Config,
) -> Result<Option<std::net::TcpListener>, GatewayError> {
    let address = config.gateway.listen.trim();
    if address.is_empty() {
        return Ok(None);
    }
    acceptor(
        &load_material(config, LinkEnd::Gateway)?,
        config.gateway.require_client_cert,
    )?;
    let listener = std::net::TcpListener::bind(address).map_err(|source| GatewayError::Bind {
        address: address.to_owned(),
        source,
    })?;
    tracing::info!("storage gateway listening on {address}");
    Ok(Some(listener))
}

/// Starts the gateway role on `listener` and restarts it whenever it
/// exits, until the master stops.
pub async fn supervise(shared: Arc<Shared>, listener: std::net::TcpListener) {
    let listener = OwnedFd::from(listener);
    let again = Arc::clone(&shared);
    crate::cluster_roles::keep_running(shared, "gateway", move || {
        run_once(Arc::clone(&again), listener.try_clone())
    })
    .await;
}

async fn run_once(
    shared: Arc<Shared>,
    listener: std::io::Result<OwnedFd>,
) -> Result<std::process::ExitStatus, MasterError> {
    let listener = listener.map_err(|e| MasterError::io("duplicating the gateway listener", e))?;
    let (broker, theirs) = crate::children::socket_pair()?;
    let args = vec![
        "--fd-broker".into(),
        FD_BROKER.to_string(),
        "--fd-listener".into(),
        FD_LISTENER.to_string(),
    ];
    let mut child = crate::cluster_roles::start(
        &shared,
        "gateway",
        vec![(theirs, FD_BROKER), (listener, FD_LISTENER)],
        args,
        FD_TLS,
    )?;
    let pid = child.id().unwrap_or(0);
    let client_id = shared.next_connection_id();
    let broker_task = tokio::spawn(crate::broker::serve_gateway(
        Arc::clone(&shared),
        client_id,
        broker,
    ));
    let status = child.wait().await;
    shared.live_remove(pid);
    broker_task.abort();
    shared.storage.lock().await.forget_client(client_id);
    status.map_err(|e| MasterError::io("waiting for the gateway", e))
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

/// The TCP ports of the other hosts' gateways (`[cluster.hosts]`): the
/// only ones the relay may connect to. An address without a port is
/// left out (connecting to it fails anyway).
pub fn gateway_ports(config: &mailkeep_config::Config) -> Vec<u16> {
    let mut ports: Vec<u16> = config
        .cluster
        .hosts
        .values()
        .filter_map(|address| address.rsplit_once(':')?.1.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The TLS name to verify for a gateway address: the host part of
/// `host:port` (an IP address or a DNS name), brackets removed.
pub(crate) fn server_name_of(address: &str) -> String {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => address,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// `material` as the read end of a pipe holding its
/// [`TlsMaterial::encode`]d bytes, for a child to inherit and read before
/// it chroots.
pub fn material_pipe(material: &TlsMaterial) -> Result<OwnedFd, MasterError> {
    let bytes = zeroize::Zeroizing::new(material.encode());
    // The child reads it only once started: everything must fit in the
    // pipe's buffer (64 KiB on Linux) so this write cannot block.
    if bytes.len() > 60 * 1024 {
        return Err(MasterError::Setup(format!(
            "gateway TLS material: {} bytes is over 60 KiB",
            bytes.len()
        )));
    }
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| MasterError::io("a pipe for the TLS material", e))?;
    std::io::Write::write_all(&mut writer, &bytes)
        .map_err(|e| MasterError::io("writing the TLS material to its pipe", e))?;
    Ok(OwnedFd::from(reader))
}

#[cfg(test)]
mod tests {
    use super::server_name_of;

    #[test]
    fn gateway_ports_come_from_the_cluster_hosts() {
        let mut config = mailkeep_config::Config::default();
        for (name, address) in [
            ("b", "127.0.0.3:4190"),
            ("c", "[::1]:4191"),
            ("d", "mail.example.org:4190"),
            ("e", "no-port"),
        ] {
            config.cluster.hosts.insert(name.into(), address.into());
        }
        assert_eq!(super::gateway_ports(&config), vec![4190, 4191]);
    }

    #[test]
    fn server_names() {
        assert_eq!(server_name_of("127.0.0.3:4190"), "127.0.0.3");
        assert_eq!(server_name_of("[::1]:4190"), "::1");
        assert_eq!(server_name_of("mail.example.org:4190"), "mail.example.org");
    }
}

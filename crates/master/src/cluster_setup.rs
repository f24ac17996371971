//! `mailkeep cluster init` and `mailkeep cluster add-host`: the files a
//! cluster of hosts needs, made by commands instead of by hand with
//! openssl. A cluster directory (kept by the administrator, not on any
//! one host) holds:
//!
//! ```text
//! ca.pem, ca.key             the cluster CA that signs every host's certificates
//! trusted-hosts              NAME PUBLIC-KEY per host: whose tickets every host accepts
//! hosts.toml                 the [cluster.hosts] lines: NAME = "gateway address"
//! hosts/NAME/gateway.pem     NAME's gateway certificate (server use only) and key
//! hosts/NAME/gateway.key
//! hosts/NAME/relay.pem       NAME's relay certificate (client use only) and key
//! hosts/NAME/relay.key
//! hosts/NAME/host.key        NAME's ticket signing key (only its auth reads it) and
//! hosts/NAME/host.key.pub    its public half
//! hosts/NAME/mailkeep.toml   the configuration lines that point NAME at these files
//! ```
//!
//! Each host gets `hosts/NAME/`, `ca.pem`, `trusted-hosts` and the
//! `[cluster.hosts]` lines; the CA key stays with the administrator.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mailkeep_ticket::{HostKey, TrustedHosts};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::MasterError;

/// The CA certificate's common name (also how `add-host` names the issuer
/// of what it signs).
const CA_NAME: &str = "mailkeep cluster CA";

/// What `add-host` made for one host.
#[derive(Debug, Clone)]
pub struct HostFiles {
    /// `hosts/NAME/` in the cluster directory.
    pub dir: PathBuf,
    /// The configuration lines for that host.
    pub config: PathBuf,
}

fn setup(what: impl std::fmt::Display) -> impl Fn(rcgen::Error) -> MasterError {
    move |e| MasterError::Setup(format!("{what}: {e}"))
}

fn ca_params() -> Result<CertificateParams, MasterError> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(setup("the CA's parameters"))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    Ok(params)
}

/// Writes `contents` to a new file `path` with `mode` (never over an
/// existing one).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), MasterError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| MasterError::io(format!("creating {}", path.display()), e))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| MasterError::io(format!("writing {}", path.display()), e))
}

fn make_dir(path: &Path, mode: u32) -> Result<(), MasterError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| MasterError::io(format!("creating {}", path.display()), e))
}

/// Makes a new cluster in `dir`: its CA and an empty trusted-host list.
/// Refuses a directory that holds a cluster already.
pub fn init(dir: &Path) -> Result<(), MasterError> {
    make_dir(dir, 0o700)?;
    let ca_pem = dir.join("ca.pem");
    if ca_pem.exists() {
        return Err(MasterError::Setup(format!(
            "{} exists: {} holds a cluster already",
            ca_pem.display(),
            dir.display()
        )));
    }
    let key = KeyPair::generate().map_err(setup("the CA key"))?;
    let cert = ca_params()?
        .self_signed(&key)
        .map_err(setup("the CA certificate"))?;
    write_new(&dir.join("ca.key"), key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&ca_pem, cert.pem().as_bytes(), 0o644)?;
    write_new(&dir.join("trusted-hosts"), b"", 0o644)?;
    write_new(&dir.join("hosts.toml"), b"[cluster.hosts]\n", 0o644)?;
    Ok(())
}

/// Whether `name` can be a host name here: what a userdb `host=` field,
/// a TOML key and a file name all take.
fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !name.starts_with('.')
}

/// The host part of a gateway address `host:port` (brackets removed).
fn address_host(address: &str) -> Result<String, MasterError> {
    let bad = || {
        MasterError::Setup(format!(
            "gateway address {address:?} is not HOST:PORT (an IP address or a DNS name)"
        ))
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || host.is_empty() {
        return Err(bad());
    }
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

/// Adds host `name`, whose gateway listens on `address`, to the cluster
/// in `dir`: its gateway certificate (server use, for `address`'s host and
/// for `name`) and relay certificate (client use), each with its own key
/// and signed by the cluster CA, its ticket key pair, its entry in
/// the trusted-host list and in `hosts.toml`, and its configuration lines.
pub fn add_host(dir: &Path, name: &str, address: &str) -> Result<HostFiles, MasterError> {
    if !valid_host_name(name) {
        return Err(MasterError::Setup(format!(
            "host name {name:?}: letters, digits, '-', '_' and '.' only"
        )));
    }
    let address_host = address_host(address)?;
    let read = |file: &str| {
        let path = dir.join(file);
        fs::read_to_string(&path).map_err(|e| {
            MasterError::io(
                format!(
                    "reading {} (run `mailkeep cluster init` first)",
                    path.display()
                ),
                e,
            )
        })
    };
    let ca_key = KeyPair::from_pem(&read("ca.key")?).map_err(setup("the CA key"))?;
    let mut trusted = TrustedHosts::parse(&read("trusted-hosts")?)
        .map_err(|e| MasterError::Setup(format!("trusted-hosts: {e}")))?;
    if trusted.get(name).is_some() {
        return Err(MasterError::Setup(format!(
            "host {name:?} is in the cluster already"
        )));
    }
    let host_dir = dir.join("hosts").join(name);
    make_dir(&dir.join("hosts"), 0o700)?;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&host_dir)
        .map_err(|e| MasterError::io(format!("creating {}", host_dir.display()), e))?;

    // Two certificates, each for one end of the links, so that neither
    // role's key can play the other: the gateway's, for serving, names the
    // address it is reached at (relays verify it for that; rcgen makes an
    // IP address SAN of a name that parses as one) and the host's name;
    // the relay's, for connecting, names the host.
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut names = vec![address_host.clone()];
    if name != address_host {
        names.push(name.to_owned());
    }
    let (gateway_pem, gateway_key) = host_certificate(
        &issuer,
        &host_dir,
        "gateway",
        (name, names),
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (relay_pem, relay_key) = host_certificate(
        &issuer,
        &host_dir,
        "relay",
        (name, vec![name.to_owned()]),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;

    let ticket_key = HostKey::generate();
    let key_file = host_dir.join("host.key");
    crate::host_keys::write_key_pair(&key_file, &host_dir.join("host.key.pub"), &ticket_key)?;

    trusted
        .insert(name, ticket_key.public())
        .map_err(|e| MasterError::Setup(e.to_string()))?;
    let trusted_file = dir.join("trusted-hosts");
    let staged = dir.join("trusted-hosts.new");
    let _ = fs::remove_file(&staged);
    write_new(&staged, trusted.to_file_contents().as_bytes(), 0o644)?;
    fs::rename(&staged, &trusted_file)
        .map_err(|e| MasterError::io(format!("replacing {}", trusted_file.display()), e))?;
    let hosts_toml = dir.join("hosts.toml");
    let mut hosts = OpenOptions::new()
        .append(true)
        .open(&hosts_toml)
        .map_err(|e| MasterError::io(format!("opening {}", hosts_toml.display()), e))?;
    hosts
        .write_all(format!("{name} = \"{address}\"\n").as_bytes())
        .map_err(|e| MasterError::io(format!("writing {}", hosts_toml.display()), e))?;

    let config = host_dir.join("mailkeep.toml");
    let text = format!(
        "# Host {name} of the cluster: merge into its configuration. Copy\n\
         # {host} there, with ca.pem and trusted-hosts beside it, and\n\
         # hosts.toml's lines into [cluster.hosts].\n\
         [server]\n\
         hostname = \"{name}\"\n\n\
         [cluster]\n\
         key_file = \"{key}\"\n\
         trusted_hosts_file = \"{trusted}\"\n\n\
         [gateway]\n\
         listen = \"{address}\"\n\
         cert_file = \"{cert}\"\n\
         key_file = \"{gkey}\"\n\
         relay_cert_file = \"{rcert}\"\n\
         relay_key_file = \"{rkey}\"\n\
         ca_file = \"{ca}\"\n",
        host = host_dir.display(),
        key = key_file.display(),
        trusted = trusted_file.display(),
        cert = gateway_pem.display(),
        gkey = gateway_key.display(),
        rcert = relay_pem.display(),
        rkey = relay_key.display(),
        ca = dir.join("ca.pem").display(),
    );
    write_new(&config, text.as_bytes(), 0o644)?;
    Ok(HostFiles {
        dir: host_dir,
        config,
    })
}

/// Makes `host_dir/FILE.pem` and `FILE.key`: a certificate for host
/// `name` with the subject alternative `names`, signed by `issuer`, good
/// for `usage` only. Returns their paths.
fn host_certificate(
    issuer: &Issuer<'_, KeyPair>,
    host_dir: &Path,
    file: &str,
    (name, names): (&str, Vec<String>),
    usage: ExtendedKeyUsagePurpose,
) -> Result<(PathBuf, PathBuf), MasterError> {
    let mut params = CertificateParams::new(names).map_err(setup("the host's parameters"))?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().map_err(setup("the host's TLS key"))?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(setup("the host's certificate"))?;
    let key_path = host_dir.join(format!("{file}.key"));
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    let pem_path = host_dir.join(format!("{file}.pem"));
    write_new(&pem_path, cert.pem().as_bytes(), 0o644)?;
    Ok((pem_path, key_path))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mailkeep_storage_rpc::tls::TlsMaterial;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConnection, Error, ServerConnection};

    use super::*;

    #[test]
    fn a_cluster_of_two_hosts_trusts_both_keys_and_signs_both_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = dir.path().join("cluster");
        init(&cluster).unwrap();
        assert!(init(&cluster).is_err(), "a second init is refused");
        let a = add_host(&cluster, "a", "127.0.0.2:4190").unwrap();
        add_host(&cluster, "b", "mail-b.example.org:4190").unwrap();
        assert!(
            add_host(&cluster, "a", "127.0.0.9:1").is_err(),
            "no host twice"
        );
        assert!(add_host(&cluster, "../x", "127.0.0.9:1").is_err());
        assert!(add_host(&cluster, "c", "no-port").is_err());

        let trusted =
            TrustedHosts::parse(&fs::read_to_string(cluster.join("trusted-hosts")).unwrap())
                .unwrap();
        let a_key = HostKey::parse(&fs::read_to_string(a.dir.join("host.key")).unwrap()).unwrap();
        assert_eq!(trusted.get("a"), Some(&a_key.public()));
        assert!(trusted.get("b").is_some());
        let hosts = fs::read_to_string(cluster.join("hosts.toml")).unwrap();
        assert!(hosts.contains("a = \"127.0.0.2:4190\""), "{hosts}");

        let config = fs::read_to_string(&a.config).unwrap();
        assert!(config.contains("hostname = \"a\""), "{config}");
        assert!(config.contains("relay.key"), "{config}");
    }

    /// The TLS material of `host`'s `file` (gateway or relay).
    fn material(cluster: &Path, host: &str, file: &str) -> TlsMaterial {
        let host_dir = cluster.join("hosts").join(host);
        TlsMaterial {
            ca_pem: fs::read(cluster.join("ca.pem")).unwrap(),
            cert_pem: fs::read(host_dir.join(format!("{file}.pem"))).unwrap(),
            key_pem: fs::read(host_dir.join(format!("{file}.key"))).unwrap(),
        }
    }

    /// A whole handshake in memory between `client` (for `name`) and
    /// `server`, which requires a client certificate.
    fn handshake(client: &TlsMaterial, server: &TlsMaterial, name: &str) -> Result<(), Error> {
        let server_name = ServerName::try_from(name.to_owned()).unwrap();
        let mut c = ClientConnection::new(Arc::new(client.client_config().unwrap()), server_name)?;
        let mut s = ServerConnection::new(Arc::new(server.server_config(true).unwrap()))?;
        loop {
            let mut to_server = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut to_server).unwrap();
            }
            let mut bytes = &to_server[..];
            while !bytes.is_empty() {
                s.read_tls(&mut bytes).unwrap();
                s.process_new_packets()?;
            }
            let mut to_client = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut to_client).unwrap();
            }
            let mut bytes = &to_client[..];
            while !bytes.is_empty() {
                c.read_tls(&mut bytes).unwrap();
                c.process_new_packets()?;
            }
            if to_server.is_empty() && to_client.is_empty() {
                assert!(!c.is_handshaking() && !s.is_handshaking(), "stalled");
                return Ok(());
            }
        }
    }

    /// A's relay reaches B's gateway; A's gateway certificate cannot
    /// connect as a client (a compromised gateway role cannot act as A's
    /// relay), and A's relay certificate cannot serve as a gateway.
    #[test]
    fn the_relay_and_the_gateway_certificates_serve_one_end_each() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = dir.path().join("cluster");
        init(&cluster).unwrap();
        add_host(&cluster, "a", "127.0.0.2:4190").unwrap();
        add_host(&cluster, "b", "127.0.0.3:4190").unwrap();
        let b_gateway = material(&cluster, "b", "gateway");
        handshake(&material(&cluster, "a", "relay"), &b_gateway, "127.0.0.3").unwrap();
        let refused = handshake(&material(&cluster, "a", "gateway"), &b_gateway, "127.0.0.3");
        assert!(
            matches!(refused, Err(Error::InvalidCertificate(_))),
            "the gateway's certificate as a client: {refused:?}"
        );
        let refused = handshake(
            &material(&cluster, "b", "relay"),
            &material(&cluster, "a", "relay"),
            "a",
        );
        assert!(
            matches!(refused, Err(Error::InvalidCertificate(_))),
            "a relay's certificate as a server: {refused:?}"
        );
    }
}

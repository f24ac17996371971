//! The roles of the cluster's TCP+TLS links (DESIGN §1, §3): the storage
//! gateway (other hosts in) and the relay (this host's sessions out). Each
//! adopts its descriptors and reads the cluster TLS material, drops to the
//! `[gateway]` uid in the empty chroot, confines itself with the same
//! seccomp allowlist and Landlock ruleset as the protocol processes, and
//! only then starts its runtime. The gateway may make no socket (it
//! accepts on the one it was given); the relay may make TCP sockets, its
//! whole job.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use mailkeep_master::privileges::{DropTo, drop_privileges, limit_protocol_process};
use mailkeep_sandbox::Allowances;
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::fd::adopt_inherited;
use mailkeep_storage_rpc::framing::into_unix_stream;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_storage_rpc::tls::TlsMaterial;
use zeroize::Zeroizing;

use crate::cli::ClusterLink;

/// The gateway role: serves other hosts' relays on the inherited listener.
pub fn gateway(link: ClusterLink, fd_broker: i32, fd_listener: i32) -> anyhow::Result<()> {
    crate::logging::init("gateway");
    let config = crate::roles::load_config(&link.source)?;
    let broker = adopt_inherited(fd_broker).context("broker descriptor")?;
    let listener = adopt_inherited(fd_listener).context("listener descriptor")?;
    let material = become_unprivileged(&link)?;
    let acceptor =
        mailkeep_storage_rpc::tls::acceptor(&material, config.gateway.require_client_cert)?;
    drop(material);
    confine(&Allowances::default())?;
    crate::roles::runtime()?.block_on(async move {
        let listener = std::net::TcpListener::from(listener);
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let broker = BrokerClient::new(QuietStream::new(broker)?);
        mailkeep_gateway::inbound::serve(listener, acceptor, broker).await;
        anyhow::Ok(())
    })
}

/// The relay role: connects to other hosts' gateways as the master asks.
pub fn relay(link: ClusterLink, fd_control: i32) -> anyhow::Result<()> {
    crate::logging::init("relay");
    let config = crate::roles::load_config(&link.source)?;
    let control = adopt_inherited(fd_control).context("control descriptor")?;
    let material = become_unprivileged(&link)?;
    let tls = Arc::new(material.client_config()?);
    drop(material);
    // TCP, and (Landlock) only to the ports of the cluster's gateways.
    confine(&Allowances {
        outbound_tcp: true,
        tcp_ports: mailkeep_master::gateway::gateway_ports(&config),
        ..Allowances::default()
    })?;
    crate::roles::runtime()?.block_on(async move {
        let control = into_unix_stream(control)?;
        mailkeep_gateway::relay::serve(control, tls).await?;
        anyhow::Ok(())
    })
}

/// Reads the TLS material, then drops privileges for good (no core dump
/// may carry the key out).
fn become_unprivileged(link: &ClusterLink) -> anyhow::Result<TlsMaterial> {
    let material = read_tls_material(link.fd_tls)?;
    drop_privileges(&DropTo {
        uid: link.identity.uid,
        gid: link.identity.gid,
        chroot: link.chroot.clone(),
    })?;
    limit_protocol_process()?;
    Ok(material)
}

/// Confines this process (seccomp allowlist and Landlock) with `allow`,
/// and says so in the log.
pub(crate) fn confine(allow: &Allowances) -> anyhow::Result<()> {
    let confinement =
        mailkeep_sandbox::confine_protocol_process(allow).context("confining the process")?;
    tracing::info!(
        landlock = ?confinement.landlock,
        outbound_tcp = allow.outbound_tcp,
        tcp_ports = ?allow.tcp_ports,
        read_dirs = ?allow.read_dirs,
        write_dirs = ?allow.write_dirs,
        "confined: seccomp allowlist and Landlock"
    );
    Ok(())
}

/// The cluster TLS material, read from its inherited pipe; the bytes read
/// are wiped once decoded.
fn read_tls_material(fd: i32) -> anyhow::Result<TlsMaterial> {
    let owned = adopt_inherited(fd).context("TLS material descriptor")?;
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::from(owned)
        .read_to_end(&mut bytes)
        .context("reading the TLS material")?;
    Ok(TlsMaterial::decode(&bytes)?)
}

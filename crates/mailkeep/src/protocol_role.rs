//! What every protocol role (imap, pop3; lmtp next) does before its
//! protocol runs: adopt the inherited descriptors (broker channel, control
//! channel, listeners), drop privileges into the empty chroot, confine
//! itself (seccomp and Landlock: `mailkeep-sandbox`; no socket of its own),
//! then, inside the runtime, wait for the master's TLS certificates and make
//! the frontend's acceptor.

use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::Context;
use mailkeep_config::Config;
use mailkeep_frontend::{
    AcceptSettings, Acceptor, ClientPolicy, ConnLimits, ControlChannel, Listener, ListenerSpec,
    Networks, PlaintextLogins, ServerTls,
};
use mailkeep_master::privileges::{DropTo, drop_privileges, limit_protocol_process};
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::fd::adopt_inherited;
use mailkeep_storage_rpc::framing::into_unix_stream;
use mailkeep_storage_rpc::quiet_stream::QuietStream;

use crate::cli::ProtocolProcess;

/// A protocol process after its privileges are dropped.
pub struct ProtocolStart {
    /// The configuration the master read.
    pub config: Config,
    /// This host's name.
    pub hostname: String,
    broker: OwnedFd,
    control: OwnedFd,
    listeners: Vec<(ListenerSpec, OwnedFd)>,
}

impl ProtocolStart {
    /// Adopts the descriptors and drops privileges. Runs before the
    /// runtime starts.
    pub fn prepare(process: ProtocolProcess) -> anyhow::Result<ProtocolStart> {
        let config = crate::roles::load_config(&process.source)?;
        let broker = adopt_inherited(process.fd_broker).context("broker descriptor")?;
        let control = adopt_inherited(process.fd_control).context("control descriptor")?;
        let listeners = process
            .listener
            .iter()
            .map(|spec| {
                let fd = adopt_inherited(spec.fd)
                    .with_context(|| format!("listener descriptor {spec}"))?;
                Ok((spec.clone(), fd))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let hostname = crate::roles::hostname(&config);
        drop_privileges(&DropTo {
            uid: process.identity.uid,
            gid: process.identity.gid,
            chroot: process.chroot,
        })?;
        limit_protocol_process()?;
        // The last file is read: from here on the process can only talk on
        // what it holds. It makes no socket: even an owner on another host
        // is reached through a socket the broker passes (the relay holds
        // the cluster TLS key and makes the connection).
        crate::cluster_roles::confine(&mailkeep_sandbox::Allowances::default())?;
        Ok(ProtocolStart {
            config,
            hostname,
            broker,
            control,
            listeners,
        })
    }

    /// Inside the runtime: the broker client, and the acceptor over the
    /// listeners once the master's certificates came (no client is
    /// accepted before); later certificates are applied as they come.
    pub async fn connect(
        self,
        settings: AcceptSettings,
    ) -> anyhow::Result<(Acceptor, BrokerClient)> {
        let broker = BrokerClient::new(QuietStream::new(self.broker)?);
        let mut control = ControlChannel::new(into_unix_stream(self.control)?);
        let certificates = control.first_certificates().await?;
        let handshake_timeout = Duration::from_secs(self.config.tls.handshake_timeout_secs);
        let tls = ServerTls::new(&certificates, handshake_timeout)?;
        tracing::info!(
            generation = certificates.generation,
            "TLS certificates installed"
        );
        tokio::spawn({
            let tls = tls.clone();
            async move {
                if let Err(e) = control.apply(tls).await {
                    tracing::error!("control channel: {e}");
                }
            }
        });
        let config = &self.config;
        let proxied = |name: &str| {
            config
                .listeners()
                .iter()
                .any(|(_, l)| l.name == name && l.proxy_protocol)
        };
        let listeners = self
            .listeners
            .into_iter()
            .map(|(spec, fd)| {
                Listener::adopt(fd, spec.kind, &spec.name)
                    .map(|l| l.with_proxy_protocol(proxied(&spec.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Acceptor::new(listeners, tls, settings), broker))
    }
}

/// Accept settings from a service's configuration: its connection limit,
/// its refusal line, its plaintext-login rule (carried in every
/// connection's `ConnInfo`), and an input bound of one command line plus
/// one read.
pub fn accept_settings(
    max_connections: usize,
    refusal: &[u8],
    plaintext_logins: mailkeep_config::PlaintextLogins,
    max_line: usize,
    clients: ClientPolicy,
) -> AcceptSettings {
    use mailkeep_config::PlaintextLogins as Rule;
    AcceptSettings {
        max_connections,
        refusal: refusal.to_vec(),
        plaintext_logins: match plaintext_logins {
            Rule::Loopback => PlaintextLogins::Loopback,
            Rule::Never => PlaintextLogins::Never,
            Rule::Always => PlaintextLogins::Always,
        },
        limits: ConnLimits {
            max_input: max_line + mailkeep_frontend::connection::READ_SIZE,
            ..ConnLimits::default()
        },
        clients,
    }
}

/// The per-address limits of a service from its configuration.
pub fn client_policy(
    max_unauthenticated_per_address: usize,
    max_connections_per_user_address: usize,
    exempt_networks: &[String],
    trusted_networks: &[String],
) -> anyhow::Result<ClientPolicy> {
    Ok(ClientPolicy {
        max_unauthenticated_per_address,
        max_connections_per_user_address,
        exempt: Networks::parse(exempt_networks).context("exempt_networks")?,
        trusted: Networks::parse(trusted_networks).context("trusted_networks")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_settings_carry_the_plaintext_rule_and_bound_input_by_the_line_limit() {
        let s = accept_settings(
            7,
            b"* BYE full\r\n",
            mailkeep_config::PlaintextLogins::Never,
            1000,
            ClientPolicy::default(),
        );
        assert_eq!(s.max_connections, 7);
        assert_eq!(s.refusal, b"* BYE full\r\n");
        assert_eq!(s.plaintext_logins, PlaintextLogins::Never);
        assert_eq!(
            s.limits.max_input,
            1000 + mailkeep_frontend::connection::READ_SIZE
        );
    }
}

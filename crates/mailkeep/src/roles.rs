//! The roles the master starts: each adopts its inherited descriptors,
//! drops privileges, and only then starts its runtime and serves.

use std::io::Read;
use std::os::fd::OwnedFd;

use anyhow::Context;
use mailkeep_config::Config;
use mailkeep_master::privileges::{DropTo, drop_privileges, limit_protocol_process};
use mailkeep_storage_rpc::fd::adopt_inherited;
use mailkeep_ticket::TicketKey;

use crate::cli::{ConfigSource, Role};

pub fn run(role: Role) -> anyhow::Result<()> {
    match role {
        Role::Imap {
            source,
            identity,
            fd_broker,
            fd_control,
            listener,
            fd_tls,
            chroot,
        } => {
            crate::logging::init("imap");
            let config = load_config(&source)?;
            let broker = adopt_inherited(fd_broker).context("broker descriptor")?;
            let control = adopt_inherited(fd_control).context("control descriptor")?;
            let listeners = listener
                .iter()
                .map(|spec| {
                    let fd = adopt_inherited(spec.fd)
                        .with_context(|| format!("listener descriptor {spec}"))?;
                    Ok((spec.clone(), fd))
                })
                .collect::<anyhow::Result<Vec<(mailkeep_frontend::ListenerSpec, OwnedFd)>>>()?;
            let tls = fd_tls.map(read_tls_material).transpose()?;
            let hostname = hostname(&config);
            drop_privileges(&DropTo {
                uid: identity.uid,
                gid: identity.gid,
                chroot,
            })?;
            limit_protocol_process()?;
            let settings = imap_settings(&config, hostname);
            let accept = accept_settings(&config);
            let handshake_timeout =
                std::time::Duration::from_secs(config.tls.handshake_timeout_secs);
            runtime()?.block_on(async move {
                use mailkeep_frontend::{Acceptor, ControlChannel, Listener, ServerTls};
                let stream = mailkeep_storage_rpc::framing::into_unix_stream(broker)?;
                use mailkeep_storage_rpc::broker_client::BrokerClient;
                let broker = match &tls {
                    Some(m) => BrokerClient::with_tls(stream, m)?,
                    None => BrokerClient::new(stream),
                };
                // No client is accepted before the master's certificates came.
                let mut control =
                    ControlChannel::new(mailkeep_storage_rpc::framing::into_unix_stream(control)?);
                let certificates = control.first_certificates().await?;
                let server_tls = ServerTls::new(&certificates, handshake_timeout)?;
                tracing::info!(
                    generation = certificates.generation,
                    "TLS certificates installed"
                );
                tokio::spawn({
                    let server_tls = server_tls.clone();
                    async move {
                        if let Err(e) = control.apply(server_tls).await {
                            tracing::error!("control channel: {e}");
                        }
                    }
                });
                let listeners = listeners
                    .into_iter()
                    .map(|(spec, fd)| Listener::adopt(fd, spec.kind, &spec.name))
                    .collect::<Result<Vec<_>, _>>()?;
                let acceptor = Acceptor::new(listeners, server_tls, accept);
                mailkeep_imap::serve_accepted(settings, acceptor, broker).await;
                anyhow::Ok(())
            })
        }
        Role::Auth {
            source,
            identity,
            fd_control,
            fd_key,
        } => {
            crate::logging::init("auth");
            let config = load_config(&source)?;
            let control = adopt_inherited(fd_control).context("control descriptor")?;
            let key = read_key(fd_key)?;
            let hostname = hostname(&config);
            // The uid floor matters only with privilege separation: without
            // root every account has the server's own uid.
            let first_valid_uid = if mailkeep_master::privileges::running_as_root() {
                config.privileges.first_valid_uid
            } else {
                0
            };
            drop_privileges(&DropTo {
                uid: identity.uid,
                gid: identity.gid,
                chroot: None,
            })?;
            let settings = mailkeep_auth::AuthSettings {
                first_valid_uid,
                passwd_file: config.users_file(),
                ticket_lifetime_secs: config.auth.ticket_lifetime_secs,
                issuer: hostname,
                failure_delay: std::time::Duration::from_millis(config.auth.failure_delay_ms),
                max_failure_delay: std::time::Duration::from_millis(
                    config.auth.max_failure_delay_ms,
                ),
            };
            runtime()?.block_on(async move {
                let control = mailkeep_storage_rpc::framing::into_unix_stream(control)?;
                mailkeep_auth::serve(settings, key, control).await?;
                anyhow::Ok(())
            })
        }
        Role::Storage {
            owner,
            home,
            busy_after_ms,
            shared,
            identity,
            fd_control,
            fd_key,
        } => {
            crate::logging::init("storage");
            let control = adopt_inherited(fd_control).context("control descriptor")?;
            let key = read_key(fd_key)?;
            // Shared mode keeps root (no_new_privs and the parent-death
            // signal still apply); otherwise the process becomes the owner.
            let (run_uid, run_gid) = if shared {
                (
                    nix::unistd::Uid::effective().as_raw(),
                    nix::unistd::Gid::effective().as_raw(),
                )
            } else {
                (identity.uid, identity.gid)
            };
            drop_privileges(&DropTo {
                uid: run_uid,
                gid: run_gid,
                chroot: None,
            })?;
            // Files we make are the owner's alone.
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            let settings = mailkeep_storage_server::StorageSettings { owner, home };
            runtime()?.block_on(async move {
                let control = mailkeep_storage_rpc::framing::into_unix_stream(control)?;
                let tuning = mailkeep_storage_server::Tuning {
                    busy_after: std::time::Duration::from_millis(busy_after_ms),
                    shared: shared.then_some((identity.uid, identity.gid)),
                };
                mailkeep_storage_server::serve_tuned(settings, tuning, key, control).await?;
                anyhow::Ok(())
            })
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn load_config(source: &ConfigSource) -> anyhow::Result<Config> {
    let mut config = Config::load(source.config.as_deref())?;
    if let Some(dir) = &source.data_dir {
        config.server.data_dir = dir.clone();
        config.privileges.chroot_dir = None;
        config.auth.users_file = None;
        config.storage.home_base = None;
        config.cluster.key_file = None;
        config.resolve()?;
    }
    Ok(config)
}

fn read_key(fd: i32) -> anyhow::Result<TicketKey> {
    let owned = adopt_inherited(fd).context("key descriptor")?;
    let mut text = String::new();
    std::fs::File::from(owned)
        .read_to_string(&mut text)
        .context("reading the cluster key")?;
    Ok(TicketKey::parse(&text)?)
}

fn read_tls_material(fd: i32) -> anyhow::Result<mailkeep_storage_rpc::tls::TlsMaterial> {
    let owned = adopt_inherited(fd).context("TLS material descriptor")?;
    let mut bytes = Vec::new();
    std::fs::File::from(owned)
        .read_to_end(&mut bytes)
        .context("reading the TLS material")?;
    Ok(mailkeep_storage_rpc::tls::TlsMaterial::decode(&bytes)?)
}

fn hostname(config: &Config) -> String {
    if !config.server.hostname.is_empty() {
        return config.server.hostname.clone();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// How the imap process accepts clients: its limit, the refusal, the
/// plaintext-login rule (which every connection's `ConnInfo` carries).
fn accept_settings(config: &Config) -> mailkeep_frontend::AcceptSettings {
    use mailkeep_config::PlaintextLogins as Rule;
    use mailkeep_frontend::PlaintextLogins;
    mailkeep_frontend::AcceptSettings {
        max_connections: config.imap.max_connections,
        refusal: b"* BYE Too many connections, try again later\r\n".to_vec(),
        plaintext_logins: match config.imap.plaintext_logins {
            Rule::Loopback => PlaintextLogins::Loopback,
            Rule::Never => PlaintextLogins::Never,
            Rule::Always => PlaintextLogins::Always,
        },
        limits: mailkeep_frontend::ConnLimits {
            // A whole command line and one read beyond it.
            max_input: config.imap.max_line_length + 64 * 1024,
            ..Default::default()
        },
    }
}

fn imap_settings(config: &Config, hostname: String) -> mailkeep_imap::ImapSettings {
    mailkeep_imap::ImapSettings {
        limits: mailkeep_imap_proto::Limits {
            max_line: config.imap.max_line_length,
            max_inline_literal: 64 * 1024,
            max_append: config.imap.max_literal_size,
        },
        hostname,
        login_timeout: std::time::Duration::from_secs(config.imap.login_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(config.imap.idle_timeout_secs),
        max_connections: config.imap.max_connections,
    }
}

//! The roles the master starts: each adopts its inherited descriptors,
//! drops privileges, and only then starts its runtime and serves.

use std::io::Read;

use anyhow::Context;
use mailkeep_config::Config;
use mailkeep_master::privileges::{DropTo, drop_privileges};
use mailkeep_storage_rpc::fd::adopt_inherited;
use mailkeep_ticket::{HostKey, PublicKey, TrustedHosts};
use zeroize::Zeroizing;

use crate::cli::{ConfigSource, Role};
use crate::protocol_role::{ProtocolStart, accept_settings, client_policy};

pub fn run(role: Role) -> anyhow::Result<()> {
    match role {
        Role::Imap(process) => {
            crate::logging::init("imap");
            let start = ProtocolStart::prepare(process)?;
            let mut settings = imap_settings(&start.config, start.hostname.clone());
            settings.plugins = crate::plugins::protocol(&start.config.plugins)?;
            let imap = &start.config.imap;
            let clients = client_policy(
                imap.max_unauthenticated_per_address,
                imap.max_connections_per_user_address,
                &imap.exempt_networks,
                &imap.trusted_networks,
            )?;
            let accept = accept_settings(
                imap.max_connections,
                b"* BYE Too many connections, try again later\r\n",
                imap.plaintext_logins,
                imap.max_line_length,
                clients,
            );
            serve_protocol(one_thread_runtime()?, start, accept, |acceptor, broker| {
                mailkeep_imap::serve_accepted(settings, acceptor, broker)
            })
        }
        Role::Pop3(process) => {
            crate::logging::init("pop3");
            let start = ProtocolStart::prepare(process)?;
            let settings = pop3_settings(&start.config, start.hostname.clone());
            let pop3 = &start.config.pop3;
            let clients = client_policy(
                pop3.max_unauthenticated_per_address,
                pop3.max_connections_per_user_address,
                &pop3.exempt_networks,
                &pop3.trusted_networks,
            )?;
            let accept = accept_settings(
                pop3.max_connections,
                b"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
                pop3.plaintext_logins,
                pop3.max_line_length,
                clients,
            );
            serve_protocol(one_thread_runtime()?, start, accept, |acceptor, broker| {
                mailkeep_pop3::serve_accepted(settings, acceptor, broker)
            })
        }
        Role::Lmtp(process) => {
            crate::logging::init("lmtp");
            let start = ProtocolStart::prepare(process)?;
            let lmtp = &start.config.lmtp;
            let settings = mailkeep_lmtp::LmtpSettings {
                hostname: start.hostname.clone(),
                max_message_size: start.config.server.max_message_size,
                max_recipients: lmtp.max_recipients,
                recipient_delimiter: lmtp.recipient_delimiter.clone(),
                timeout: std::time::Duration::from_secs(lmtp.timeout_secs),
                plugins: crate::plugins::protocol(&start.config.plugins)?,
                public_owner: start.config.imap.public_namespace_owner.clone(),
            };
            // MTAs are trusted peers on loopback or the socket: no
            // per-address limits, no logins.
            let accept = accept_settings(
                lmtp.max_connections,
                b"421 4.3.2 Too many connections, try again later\r\n",
                mailkeep_config::PlaintextLogins::Never,
                mailkeep_lmtp::command::MAX_COMMAND_LINE,
                mailkeep_frontend::ClientPolicy::default(),
            );
            serve_protocol(one_thread_runtime()?, start, accept, |acceptor, broker| {
                mailkeep_lmtp::serve_accepted(settings, acceptor, broker)
            })
        }
        Role::AuthSocket(process) => {
            crate::logging::init("auth-socket");
            let start = ProtocolStart::prepare(process)?;
            let socket = &start.config.auth_socket;
            let settings = mailkeep_auth_socket::AuthSocketSettings {
                timeout: std::time::Duration::from_secs(socket.timeout_secs),
            };
            // The MTA is a trusted local peer on a UNIX socket: auth's
            // penalties count against the client address it names, and
            // the plaintext rule applies to that client.
            let accept = accept_settings(
                socket.max_connections,
                b"",
                socket.plaintext_logins,
                mailkeep_auth_socket::protocol::MAX_LINE,
                mailkeep_frontend::ClientPolicy::default(),
            );
            serve_protocol(runtime()?, start, accept, |acceptor, broker| {
                mailkeep_auth_socket::serve_accepted(settings, acceptor, broker)
            })
        }
        Role::Gateway {
            link,
            fd_broker,
            fd_listener,
        } => crate::cluster_roles::gateway(link, fd_broker, fd_listener),
        Role::Relay { link, fd_control } => crate::cluster_roles::relay(link, fd_control),
        Role::Auth {
            source,
            identity,
            fd_control,
            fd_key,
            public_key,
        } => {
            crate::logging::init("auth");
            let config = load_config(&source)?;
            let control = adopt_inherited(fd_control).context("control descriptor")?;
            let key = read_key(fd_key)?;
            let expected = PublicKey::parse(&public_key)?;
            anyhow::ensure!(
                key.public() == expected,
                "the signing key file does not match this host's public key {expected} \
                 (check {} and its .pub beside it)",
                config.key_file().display()
            );
            let hostname = hostname(&config);
            // The uid floor matters only with privilege separation: without
            // root every account has the server's own uid.
            let first_valid_uid = if mailkeep_master::privileges::running_as_root() {
                config.privileges.first_valid_uid
            } else {
                0
            };
            // Confined to what it reads: chrooted to the users file's
            // directory when it runs as its own user (its signing key came
            // as a descriptor and is read already).
            let passwd_file = confine_auth(&config, identity.uid)?;
            drop_privileges(&DropTo {
                uid: identity.uid,
                gid: identity.gid,
                chroot: None,
            })?;
            // No core dump may carry the signing key out.
            mailkeep_master::privileges::limit_protocol_process()?;
            // Reads the users file (again when `mailkeep user add` replaced
            // it) and nothing else; makes no socket.
            let users_dir = passwd_file
                .parent()
                .context("the users file has no directory")?
                .to_owned();
            crate::cluster_roles::confine(&mailkeep_sandbox::Allowances {
                read_dirs: vec![users_dir],
                ..mailkeep_sandbox::Allowances::default()
            })?;
            let settings = mailkeep_auth::AuthSettings {
                first_valid_uid,
                passwd_file,
                ticket_lifetime_secs: config.auth.ticket_lifetime_secs,
                session_max_secs: config.auth.session_max_secs,
                issuer: hostname,
                failure_delay: std::time::Duration::from_millis(config.auth.failure_delay_ms),
                max_failure_delay: std::time::Duration::from_millis(
                    config.auth.max_failure_delay_ms,
                ),
                hashing: mailkeep_auth::HashLimits {
                    workers: config.auth.hash_workers,
                    queue: config.auth.hash_queue,
                },
                local_domains: config.auth.local_domains.clone(),
                master_users: config.auth.master_users.clone(),
                master_user_separator: config.auth.master_user_separator.clone(),
            };
            auth_runtime()?.block_on(async move {
                let control = mailkeep_storage_rpc::quiet_stream::QuietStream::new(control)?;
                mailkeep_auth::serve(settings, key, control).await?;
                anyhow::Ok(())
            })
        }
        Role::Storage {
            owner,
            home,
            maildir,
            busy_after_ms,
            release_idle_secs,
            shared,
            shared_uid,
            shared_gid,
            confine_to,
            special_use,
            metadata_max_value_size,
            metadata_max_entries,
            max_mailboxes,
            autoexpunge,
            autoexpunge_every_secs,
            plugins,
            userdb_field,
            identity,
            fd_control,
            fd_trusted,
        } => {
            crate::logging::init("storage");
            let auto_mailboxes = special_use
                .iter()
                .map(|arg| auto_mailbox(arg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let autoexpunge = autoexpunge
                .iter()
                .map(|arg| autoexpunge_rule(arg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let control = adopt_inherited(fd_control).context("control descriptor")?;
            let trusted = read_trusted(fd_trusted)?;
            let section = match plugins {
                Some(text) => mailkeep_config::Plugins::from_toml(&text)
                    .context("--plugins is not a [plugins] section")?,
                None => mailkeep_config::Plugins::default(),
            };
            let plugins = crate::plugins::storage(&section)?;
            let userdb = userdb_field
                .iter()
                .map(|f| match f.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (f.clone(), String::new()),
                })
                .collect();
            // Shared mode runs as its own unprivileged uid, keeping only
            // CAP_SETUID/SETGID (bounding set shrunk while still root);
            // otherwise the process becomes the owner. no_new_privs and the
            // parent-death signal apply either way.
            let (run_uid, run_gid) = if shared {
                mailkeep_storage_server::become_shared_user(shared_uid, shared_gid)?;
                (shared_uid, shared_gid)
            } else {
                (identity.uid, identity.gid)
            };
            drop_privileges(&DropTo {
                uid: run_uid,
                gid: run_gid,
                chroot: None,
            })?;
            // Only the homes it serves, its own descriptors, and (shared
            // mode) the calls that switch a thread's credentials; before
            // any other thread exists, so that every thread is confined.
            let mut places = vec![home.clone()];
            places.extend(maildir.as_deref().and_then(|m| m.parent()).map(Into::into));
            places.extend(confine_to);
            crate::cluster_roles::confine(&mailkeep_sandbox::Allowances {
                read_dirs: vec!["/proc/self/fd".into()],
                write_dirs: existing_dirs(places),
                switch_credentials: shared,
                ..mailkeep_sandbox::Allowances::default()
            })?;
            // Shared mode: only CAP_SETUID/SETGID remain, held by the one
            // thread that starts the per-uid workers; this thread, and so
            // the runtime's, holds none.
            let spawner = if shared {
                Some(mailkeep_storage_server::prepare_shared_mode()?)
            } else {
                None
            };
            // Files we make are the owner's alone.
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            let settings = mailkeep_storage_server::StorageSettings {
                owner,
                home,
                maildir,
            };
            storage_runtime(spawner.is_some())?.block_on(async move {
                let control = mailkeep_storage_rpc::quiet_stream::QuietStream::new(control)?;
                let tuning = mailkeep_storage_server::Tuning {
                    busy_after: std::time::Duration::from_millis(busy_after_ms),
                    release_idle_every: std::time::Duration::from_secs(release_idle_secs.max(1)),
                    shared: spawner.map(|spawner| mailkeep_storage_server::SharedMode {
                        uid: identity.uid,
                        gid: identity.gid,
                        spawner,
                    }),
                    metadata: mailkeep_store::MetadataLimits {
                        max_value_size: metadata_max_value_size,
                        max_entries: metadata_max_entries,
                    },
                    auto_mailboxes,
                    max_mailboxes,
                    plugins,
                    userdb,
                    autoexpunge,
                    autoexpunge_every: std::time::Duration::from_secs(
                        autoexpunge_every_secs.max(1),
                    ),
                };
                mailkeep_storage_server::serve_tuned(settings, tuning, trusted, control).await?;
                anyhow::Ok(())
            })
        }
    }
}

/// Runs a protocol process on `runtime`: its acceptor and broker client
/// once the master's certificates came, then `serve` until it ends.
fn serve_protocol<F, Fut>(
    runtime: tokio::runtime::Runtime,
    start: ProtocolStart,
    accept: mailkeep_frontend::AcceptSettings,
    serve: F,
) -> anyhow::Result<()>
where
    F: FnOnce(
        mailkeep_frontend::Acceptor,
        mailkeep_storage_rpc::broker_client::BrokerClient,
    ) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    runtime.block_on(async move {
        let (acceptor, broker) = start.connect(accept).await?;
        serve(acceptor, broker).await;
        anyhow::Ok(())
    })
}

/// The directories of `places` that exist (a rule needs one); a missing
/// one is logged: owners below it cannot be served by this process.
fn existing_dirs(places: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    for place in places {
        if place.is_dir() {
            if !dirs.contains(&place) {
                dirs.push(place);
            }
        } else {
            tracing::warn!(path = %place.display(),
                "not a directory: nothing below it can be served by this process");
        }
    }
    dirs
}

/// A `--special-use ATTRIBUTE=NAME` argument of the storage role.
fn auto_mailbox(arg: &str) -> anyhow::Result<mailkeep_store::AutoMailbox> {
    let (attribute, name) = arg
        .split_once('=')
        .with_context(|| format!("--special-use {arg:?} is not ATTRIBUTE=NAME"))?;
    Ok(mailkeep_store::AutoMailbox {
        name: name.to_owned(),
        attribute: attribute.to_owned(),
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The runtime of the imap, pop3 and lmtp processes: one thread, like a
/// storage process's. A command passes through several tasks (the
/// session, its storage call, the storage channel's connection) that do
/// little CPU work each, so a second worker only turned those hand-overs
/// into cross-thread wakeups: with two workers an IMAP command cost about
/// twelve context switches in the imap process, with one about five
/// (`mailkeep-load`, one client), and lmtp used a fifth less CPU per
/// message (`cargo bench --bench lmtp_vs_dovecot`). The price is that a
/// TLS handshake (a millisecond or two of CPU) holds up the process's
/// other sessions while it runs, as in Dovecot's login processes; more
/// cores are used with `imap.processes`, `pop3.processes` and
/// `lmtp.processes`, which share the listeners.
fn one_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The auth process's runtime: one async thread, like the protocol
/// processes'. What runs on it is little CPU work per login (decoding the
/// request, signing and sealing the ticket, one log line); password
/// hashing runs on its own threads (`auth.hash_workers`) and the users
/// file is read on the blocking pool. With two workers a POP3 login woke
/// the idle second worker to steal every task handed over (the exchange,
/// the blocking read's answer, the master's revocation notice): about nine
/// context switches per POP3 poller session in auth, against about seven
/// with one (`perf stat` of the auth process while pollers ran).
fn auth_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    one_thread_runtime()
}

/// Most threads a storage process runs store work on at once. Enough for
/// many long calls side by side (a process that has a call running past
/// the busy threshold gets no new sessions anyway); far below tokio's 512,
/// whose idle threads each keep a stack and heap of their own.
const STORAGE_BLOCKING_THREADS: usize = 64;

// Each blocking thread gets a malloc arena of its own, none the async
// thread's (see `STORAGE_MALLOC_ARENAS`).
const _: () =
    assert!(mailkeep_master::children::STORAGE_MALLOC_ARENAS > STORAGE_BLOCKING_THREADS + 1);

/// How long an idle store-work thread waits for more before it ends.
const STORAGE_THREAD_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

/// The storage process's runtime: one async thread, and store work on a
/// bounded pool. All the async thread runs is moving gRPC frames, checking
/// tickets and passing change events; every store call (and every poll of
/// a Maildir for outside changes) runs on the blocking pool (or, in shared
/// mode, on a credential thread), so a long SEARCH or FETCH never holds
/// it. One thread saves the wakeups of a second worker on every call: a
/// settled STATUS over the RPC took about 40 µs less at p50
/// (`cargo bench --bench rpc_ab`).
///
/// In shared mode every thread the runtime starts drops all capabilities
/// first (they inherit none already; this holds even if that changed): a
/// thread that cannot is a process that must not serve.
fn storage_runtime(shared: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder
        .enable_all()
        .max_blocking_threads(STORAGE_BLOCKING_THREADS)
        .thread_keep_alive(STORAGE_THREAD_KEEP_ALIVE);
    if shared {
        builder.on_thread_start(|| {
            if let Err(e) = mailkeep_storage_server::drop_thread_capabilities() {
                tracing::error!(error = %e, "a runtime thread cannot drop its capabilities");
                std::process::abort();
            }
        });
    }
    Ok(builder.build()?)
}

pub(crate) fn load_config(source: &ConfigSource) -> anyhow::Result<Config> {
    let mut config = Config::load(source.config.as_deref())?;
    if let Some(dir) = &source.data_dir {
        config.server.data_dir = dir.clone();
        config.privileges.chroot_dir = None;
        config.auth.users_file = None;
        config.storage.home_base = None;
        config.cluster.key_file = None;
        config.cluster.trusted_hosts_file = None;
        config.resolve()?;
    }
    Ok(config)
}

/// Chroots the auth process (still root) into the directory of the users
/// file when it is to run as a user of its own, and returns the users
/// file's path as auth then sees it. Without root, or when configured to
/// stay root, nothing changes.
fn confine_auth(config: &Config, uid: u32) -> anyhow::Result<std::path::PathBuf> {
    let users = config.users_file();
    if !mailkeep_master::privileges::running_as_root() || uid == 0 {
        return Ok(users);
    }
    let (Some(dir), Some(name)) = (users.parent(), users.file_name()) else {
        anyhow::bail!("users file {} has no directory", users.display());
    };
    nix::unistd::chroot(dir).with_context(|| format!("chroot to {}", dir.display()))?;
    nix::unistd::chdir("/").context("chdir / after chroot")?;
    Ok(std::path::Path::new("/").join(name))
}

/// This host's signing key, read from its inherited descriptor; the
/// text is wiped once parsed.
fn read_key(fd: i32) -> anyhow::Result<HostKey> {
    let owned = adopt_inherited(fd).context("key descriptor")?;
    let mut text = Zeroizing::new(String::new());
    std::fs::File::from(owned)
        .read_to_string(&mut text)
        .context("reading the host key")?;
    Ok(HostKey::parse(&text)?)
}

/// The trusted-host list, read from its inherited descriptor.
fn read_trusted(fd: i32) -> anyhow::Result<TrustedHosts> {
    let owned = adopt_inherited(fd).context("trusted-host list descriptor")?;
    let mut text = String::new();
    std::fs::File::from(owned)
        .read_to_string(&mut text)
        .context("reading the trusted-host list")?;
    Ok(TrustedHosts::parse(&text)?)
}

pub(crate) fn hostname(config: &Config) -> String {
    if !config.server.hostname.is_empty() {
        return config.server.hostname.clone();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn imap_settings(config: &Config, hostname: String) -> mailkeep_imap::ImapSettings {
    mailkeep_imap::ImapSettings {
        limits: mailkeep_imap_proto::Limits {
            max_line: config.imap.max_line_length,
            max_inline_literal: 64 * 1024,
            max_append: config
                .imap
                .max_literal_size
                .min(config.server.max_message_size),
            max_metadata_value: config.storage.metadata_max_value_size,
            ..mailkeep_imap_proto::Limits::default()
        },
        hostname,
        login_timeout: std::time::Duration::from_secs(config.imap.login_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(config.imap.idle_timeout_secs),
        idle_keepalive: std::time::Duration::from_secs(config.imap.idle_keepalive_secs),
        watch_waits: mailkeep_imap::WatchWaits {
            own_append: std::time::Duration::from_millis(config.imap.own_append_wait_ms),
            opening: std::time::Duration::from_millis(config.imap.watch_open_wait_ms),
        },
        public_owner: config.imap.public_namespace_owner.clone(),
        keep_warm: config.storage.keep_warm(),
        fetch_cache_bytes: config.imap.fetch_cache_mb.saturating_mul(1 << 20),
        ..mailkeep_imap::ImapSettings::default()
    }
}

fn pop3_settings(config: &Config, hostname: String) -> mailkeep_pop3::Pop3Settings {
    let pop3 = &config.pop3;
    mailkeep_pop3::Pop3Settings {
        hostname,
        max_line: pop3.max_line_length,
        login_timeout: std::time::Duration::from_secs(pop3.login_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(pop3.idle_timeout_secs),
        lock_session: pop3.lock_session,
        keep_warm: config.storage.keep_warm(),
    }
}

/// One `--autoexpunge MAILBOX=SECONDS` argument.
fn autoexpunge_rule(arg: &str) -> anyhow::Result<mailkeep_storage_server::AutoExpunge> {
    let (mailbox, secs) = arg
        .rsplit_once('=')
        .with_context(|| format!("--autoexpunge {arg:?} is not MAILBOX=SECONDS"))?;
    let secs: u64 = secs
        .parse()
        .with_context(|| format!("--autoexpunge {arg:?}: seconds"))?;
    Ok(mailkeep_storage_server::AutoExpunge {
        mailbox: mailbox.to_owned(),
        older_than: std::time::Duration::from_secs(secs),
    })
}

//! The settings, grouped as in the TOML file, with their defaults.

use std::path::PathBuf;

use serde::Deserialize;

/// All settings. Paths left unset are derived from `server.data_dir`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where data lives and what the host is called.
    pub server: Server,
    /// Which users the processes run as.
    pub privileges: Privileges,
    /// The IMAP service.
    pub imap: Imap,
    /// The LMTP service.
    pub lmtp: Lmtp,
    /// The POP3 service.
    pub pop3: Pop3,
    /// Dovecot's auth-client protocol for an MTA's SMTP AUTH.
    pub auth_socket: AuthSocket,
    /// TLS for clients of every protocol service.
    pub tls: Tls,
    /// Authentication and tickets.
    pub auth: Auth,
    /// Storage processes.
    pub storage: Storage,
    /// The cluster key shared by cooperating hosts.
    pub cluster: Cluster,
    /// The storage gateway and the relay: other hosts' sessions reach this
    /// host's storage, and this host's reach theirs, over TCP+TLS.
    pub gateway: Gateway,
    /// The supervisor.
    pub master: Master,
    /// Plugins (quota, ...): which run, and each one's own table.
    pub plugins: Plugins,
}

/// `[plugins]`: the plugins that run, and their settings, each in its own
/// table (`[plugins.quota]`) that only the plugin reads, so this crate
/// names no plugin's settings.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(default)]
pub struct Plugins {
    /// The plugins to run, by name (`["quota"]`). Empty: none.
    pub enabled: Vec<String>,
    /// Every other key: the plugins' own tables.
    #[serde(flatten)]
    pub settings: toml::Table,
}

impl Plugins {
    /// The table of plugin `name` (`[plugins.NAME]`); empty if absent.
    pub fn settings_of(&self, name: &str) -> toml::Table {
        match self.settings.get(name) {
            Some(toml::Value::Table(table)) => table.clone(),
            _ => toml::Table::new(),
        }
    }

    /// The section as TOML text, to hand to a process that does not read
    /// the configuration file (a storage process).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The section back from [`Plugins::to_toml`]'s text.
    pub fn from_toml(text: &str) -> Result<Plugins, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Where data lives and what the host is called.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Everything mailkeep keeps (users file, homes, keys, sockets) goes
    /// under this directory unless set otherwise. Relative to the working
    /// directory at start.
    pub data_dir: PathBuf,
    /// The host's name in greetings and tickets; empty: the system's.
    pub hostname: String,
    /// The largest message taken, in bytes: announced as LMTP SIZE (bigger
    /// ones get `552 5.3.4`) and IMAP APPENDLIMIT (with
    /// `imap.max_literal_size`, the smaller of the two).
    pub max_message_size: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            data_dir: PathBuf::from("mailkeep-data"),
            hostname: String::new(),
            max_message_size: 50 * 1024 * 1024,
        }
    }
}

/// Which users the processes run as (when started as root).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privileges {
    /// Protocol processes (imap, pop3, lmtp) run as this user, chrooted.
    pub unprivileged_user: String,
    /// The empty directory protocol processes are chrooted into.
    /// Default: `<data_dir>/empty`.
    pub chroot_dir: Option<PathBuf>,
    /// The uid that owns mail of accounts made by `mailkeep user add` and
    /// of the demo account.
    pub mail_uid: u32,
    /// The gid that goes with `mail_uid`.
    pub mail_gid: u32,
    /// Users whose uid is below this are never served.
    pub first_valid_uid: u32,
}

impl Default for Privileges {
    fn default() -> Self {
        Privileges {
            unprivileged_user: "nobody".into(),
            chroot_dir: None,
            mail_uid: 5000,
            mail_gid: 5000,
            first_valid_uid: 500,
        }
    }
}

/// How a listener's clients start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerKind {
    /// TCP, plain text; the protocol offers STARTTLS.
    Plain,
    /// TCP, TLS from the first byte (IMAPS on 993).
    Tls,
    /// A UNIX stream socket; `address` is its path.
    Unix,
}

/// One listening socket of a protocol service. The same shape serves
/// `[[imap.listener]]` and the services to come (`[[pop3.listener]]`,
/// `[[lmtp.listener]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Unique among all listeners; letters, digits, `.`, `_`, `-`. Also the
    /// name a pre-bound socket is passed under (systemd's
    /// `FileDescriptorName=`, `LISTEN_FDNAMES`).
    pub name: String,
    /// `ip:port` (IPv6 as `[::1]:1143`) for TCP; a path for `unix`
    /// (relative: under the data directory).
    pub address: String,
    /// `plain`, `tls` or `unix`.
    pub kind: ListenerKind,
    /// Every connection starts with a PROXY protocol v2 header naming the
    /// client (a load balancer in front); only peers in
    /// `imap.trusted_networks` may connect.
    #[serde(default)]
    pub proxy_protocol: bool,
    /// `unix` listeners: the socket file's mode (default 0o666: access is
    /// then limited by the directory).
    #[serde(default)]
    pub mode: Option<u32>,
    /// `unix` listeners: the socket file's owner (a user name); default:
    /// whoever runs the master.
    #[serde(default)]
    pub owner: Option<String>,
    /// `unix` listeners: the socket file's group (a group name).
    #[serde(default)]
    pub group: Option<String>,
}

impl Listener {
    fn new(name: &str, address: &str, kind: ListenerKind) -> Listener {
        Listener {
            name: name.into(),
            address: address.into(),
            kind,
            proxy_protocol: false,
            mode: None,
            owner: None,
            group: None,
        }
    }
}

/// The LMTP service (RFC 2033): delivery from an MTA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lmtp {
    /// The listening sockets; listing any replaces the defaults
    /// (127.0.0.1:1124, and the UNIX socket `lmtp.sock` under the data
    /// directory, which `mailkeep deliver` and Postfix's `lmtp:unix:` use).
    pub listener: Vec<Listener>,
    /// How many lmtp processes share the listeners.
    pub processes: u32,
    /// Clients one lmtp process serves at most.
    pub max_connections: usize,
    /// Recipients one message may have; more get `452 4.5.3` (the client
    /// sends the message again to the rest).
    pub max_recipients: usize,
    /// Characters that start a `+detail` in a recipient's local part
    /// (`user+detail@domain` is delivered into the folder `detail` when it
    /// exists, else INBOX); empty: no detail is taken.
    pub recipient_delimiter: String,
    /// Seconds a client may be silent.
    pub timeout_secs: u64,
}

impl Default for Lmtp {
    fn default() -> Self {
        Lmtp {
            listener: vec![
                Listener::new("lmtp", "127.0.0.1:1124", ListenerKind::Plain),
                Listener::new("lmtp-unix", "lmtp.sock", ListenerKind::Unix),
            ],
            processes: 1,
            max_connections: 1000,
            max_recipients: 100,
            recipient_delimiter: "+".into(),
            timeout_secs: 300,
        }
    }
}

/// The auth socket: Dovecot's auth-client protocol (Postfix's
/// `smtpd_sasl_type = dovecot`), so that SMTP AUTH checks passwords against
/// the same accounts, penalties and log as IMAP and POP3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSocket {
    /// Its listening sockets, `unix` ones (Postfix's `smtpd_sasl_path`);
    /// none by default: whoever can open the socket can try passwords, so
    /// an administrator enables it and gives it an `owner`/`mode` that
    /// admits the MTA only.
    pub listener: Vec<Listener>,
    /// How many auth-socket processes share the listeners.
    pub processes: u32,
    /// Clients (MTA processes) one auth-socket process serves at most.
    pub max_connections: usize,
    /// Seconds a client may be silent before it is disconnected (it
    /// reconnects when it next needs a login checked).
    pub timeout_secs: u64,
    /// When the MTA's client may have sent its password in the clear
    /// (the MTA says `secured` for TLS and names the client's address):
    /// `loopback` (TLS, or a client on 127.0.0.0/8 or ::1), `never`
    /// (TLS only) or `always`.
    pub plaintext_logins: PlaintextLogins,
}

impl Default for AuthSocket {
    fn default() -> Self {
        AuthSocket {
            listener: Vec::new(),
            processes: 1,
            max_connections: 1000,
            timeout_secs: 600,
            plaintext_logins: PlaintextLogins::Loopback,
        }
    }
}

/// When a client may send a password in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaintextLogins {
    /// Over TLS, or from a loopback address or a UNIX socket.
    #[default]
    Loopback,
    /// Over TLS only.
    Never,
    /// Always.
    Always,
}

/// The IMAP service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    /// The listening sockets; listing any replaces the defaults.
    pub listener: Vec<Listener>,
    /// How many imap processes share the listeners.
    pub processes: u32,
    /// Largest message APPEND accepts, in bytes.
    pub max_literal_size: u64,
    /// Longest command line, literals excluded, in bytes.
    pub max_line_length: usize,
    /// Seconds a client may stay connected without logging in.
    pub login_timeout_secs: u64,
    /// Seconds of inactivity after login before the server logs out.
    pub idle_timeout_secs: u64,
    /// Seconds between IDLE's keepalive lines (`* OK Still here`): below
    /// the time after which a NAT or firewall drops a quiet connection.
    /// An IDLE without DONE still ends after `idle_timeout_secs` (RFC 2177
    /// asks clients to idle again within 29 minutes), so it is at most
    /// that.
    pub idle_keepalive_secs: u64,
    /// Milliseconds a reply to the session's own APPEND into the selected
    /// mailbox waits for the mailbox's watch to tell of it before asking
    /// storage (the same answer, one call more).
    pub own_append_wait_ms: u64,
    /// Milliseconds the first command after SELECT waits for the
    /// mailbox's watch to open before asking storage what changed.
    pub watch_open_wait_ms: u64,
    /// MiB each imap process may keep of what its sessions fetched that
    /// never changes in a message (size, date, ENVELOPE, BODYSTRUCTURE,
    /// small header sections such as a message list's HEADER.FIELDS), to
    /// answer the next FETCH of it without a storage call; 0 keeps
    /// nothing. Flags always come fresh.
    pub fetch_cache_mb: usize,
    /// Clients one imap process serves at most.
    pub max_connections: usize,
    /// When LOGIN and plaintext SASL mechanisms are allowed.
    pub plaintext_logins: PlaintextLogins,
    /// Connections not yet logged in from one client address at once, per
    /// imap process; 0: no limit.
    pub max_unauthenticated_per_address: usize,
    /// Logged-in connections of one user from one client address at once,
    /// per imap process (Dovecot's `mail_max_userip_connections`); 0: no
    /// limit.
    pub max_connections_per_user_address: usize,
    /// Networks (`"192.0.2.0/24"`, `"2001:db8::/32"`, or one address) the
    /// two limits above do not apply to: a webmail host, a benchmark.
    pub exempt_networks: Vec<String>,
    /// Networks allowed to state the client's real address: a PROXY v2
    /// header on a listener with `proxy_protocol = true`, or IMAP ID's
    /// `x-originating-ip` before login. From anywhere else these are
    /// ignored (ID) or the connection is refused (PROXY).
    pub trusted_networks: Vec<String>,
    /// The account whose mailboxes every user sees in the public
    /// namespace `Public.` (RFC 2342), as far as its ACLs allow (e.g.
    /// `mailkeep admin acl set public News anyone lr`); empty: none.
    pub public_namespace_owner: String,
}

impl Default for Imap {
    fn default() -> Self {
        Imap {
            listener: vec![
                Listener::new("imap", "127.0.0.1:1143", ListenerKind::Plain),
                Listener::new("imaps", "127.0.0.1:1993", ListenerKind::Tls),
            ],
            processes: 1,
            max_literal_size: 64 * 1024 * 1024,
            max_line_length: 64 * 1024,
            login_timeout_secs: 60,
            idle_timeout_secs: 30 * 60,
            idle_keepalive_secs: 2 * 60,
            own_append_wait_ms: 20,
            watch_open_wait_ms: 250,
            fetch_cache_mb: 16,
            max_connections: 20000,
            plaintext_logins: PlaintextLogins::Loopback,
            max_unauthenticated_per_address: 20,
            max_connections_per_user_address: 10,
            exempt_networks: Vec::new(),
            trusted_networks: Vec::new(),
            public_namespace_owner: String::new(),
        }
    }
}

/// The POP3 service. Without listeners (`listener = []`) it is off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// The listening sockets; listing any replaces the defaults.
    pub listener: Vec<Listener>,
    /// How many pop3 processes share the listeners.
    pub processes: u32,
    /// Longest command line (or SASL response), in bytes.
    pub max_line_length: usize,
    /// Seconds a client may stay connected without logging in.
    pub login_timeout_secs: u64,
    /// Seconds of inactivity after login before the server disconnects
    /// (RFC 1939: at least 600). Nothing is deleted then.
    pub idle_timeout_secs: u64,
    /// Clients one pop3 process serves at most.
    pub max_connections: usize,
    /// When USER/PASS and plaintext SASL mechanisms are allowed.
    pub plaintext_logins: PlaintextLogins,
    /// As `imap.max_unauthenticated_per_address`, per pop3 process.
    pub max_unauthenticated_per_address: usize,
    /// As `imap.max_connections_per_user_address`, per pop3 process.
    pub max_connections_per_user_address: usize,
    /// As `imap.exempt_networks`.
    pub exempt_networks: Vec<String>,
    /// As `imap.trusted_networks` (PROXY v2 headers).
    pub trusted_networks: Vec<String>,
    /// One POP3 session per maildrop at a time: a second one gets
    /// `-ERR [IN-USE]` (Dovecot's `pop3_lock_session`).
    pub lock_session: bool,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            listener: vec![
                Listener::new("pop3", "127.0.0.1:1110", ListenerKind::Plain),
                Listener::new("pop3s", "127.0.0.1:1995", ListenerKind::Tls),
            ],
            processes: 1,
            max_line_length: 1024,
            login_timeout_secs: 60,
            idle_timeout_secs: 10 * 60,
            max_connections: 20000,
            plaintext_logins: PlaintextLogins::Loopback,
            max_unauthenticated_per_address: 20,
            max_connections_per_user_address: 10,
            exempt_networks: Vec::new(),
            trusted_networks: Vec::new(),
            lock_session: false,
        }
    }
}

/// The oldest TLS version clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// A certificate chosen by the server name a client asks for (SNI).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniCertificate {
    /// Host names it serves; `*.example.org` for any one label under
    /// example.org.
    pub names: Vec<String>,
    /// Its chain (PEM): the certificate, then intermediates.
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
}

/// TLS for clients (STARTTLS and implicit-TLS listeners).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// The default certificate chain (PEM). Unset (with `key_file`): a
    /// self-signed certificate made at first start under
    /// `<data_dir>/tls/`.
    pub cert_file: Option<PathBuf>,
    /// The default certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// More certificates, chosen by SNI.
    pub sni: Vec<SniCertificate>,
    /// `"1.2"` or `"1.3"`.
    pub min_version: TlsMinVersion,
    /// Seconds between checks of the certificate files' modification
    /// times; changed files are loaded and handed to every protocol
    /// process. 0: only on SIGHUP.
    pub reload_check_secs: u64,
    /// Seconds a client may take for the TLS handshake.
    pub handshake_timeout_secs: u64,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            cert_file: None,
            key_file: None,
            sni: Vec::new(),
            min_version: TlsMinVersion::Tls12,
            reload_check_secs: 60,
            handshake_timeout_secs: 30,
        }
    }
}

/// Authentication and tickets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// The passwd-file (Dovecot's format). Default: `<data_dir>/users`.
    pub users_file: Option<PathBuf>,
    /// Seconds a session ticket is valid; sessions renew it at half its
    /// life. Short, so that a revoked session's entry is kept briefly.
    pub ticket_lifetime_secs: i64,
    /// Seconds after login a session may go on renewing its ticket; then
    /// its client must log in again.
    pub session_max_secs: i64,
    /// Wait before checking a login after a failed one from the same
    /// address, network (/24, /64) or account, doubled per recent failure,
    /// in milliseconds.
    pub failure_delay_ms: u64,
    /// Cap on that delay, in milliseconds.
    pub max_failure_delay_ms: u64,
    /// Run the auth process as this user (looked up by name); empty: as
    /// `uid`/`gid`.
    pub user: String,
    /// The uid the auth process runs as when `user` is empty: its own,
    /// unprivileged, needing no system account. It reads the users file
    /// (made group-readable by `gid` only) and nothing else.
    pub uid: u32,
    /// The gid that goes with `uid`.
    pub gid: u32,
    /// Password hashes checked at once; 0: one per core.
    pub hash_workers: usize,
    /// Logins waiting for a hash worker; beyond this they fail at once
    /// with a temporary error ("try again").
    pub hash_queue: usize,
    /// This server's mail domains: a login name or an LMTP recipient
    /// `local@domain` with one of these (in any case) also names the
    /// account `local` (logins and deliveries match the userdb the same
    /// way).
    pub local_domains: Vec<String>,
    /// Master users (Dovecot's): accounts of the users file that may log
    /// in as any other account with their own password, for support and
    /// migration tools (imapsync). Empty (the default): nobody may.
    pub master_users: Vec<String>,
    /// What separates the user from the master in a master login's name:
    /// `alice*admin` logs in to alice's mail with admin's password
    /// (Dovecot's `auth_master_user_separator`). One character.
    pub master_user_separator: String,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            users_file: None,
            ticket_lifetime_secs: 3600,
            session_max_secs: 7 * 24 * 3600,
            failure_delay_ms: 2000,
            max_failure_delay_ms: 15000,
            user: String::new(),
            uid: 64_990,
            gid: 64_990,
            hash_workers: 0,
            hash_queue: 16,
            local_domains: Vec::new(),
            master_users: Vec::new(),
            master_user_separator: "*".to_owned(),
        }
    }
}

/// How storage processes are assigned to owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageMode {
    /// One process per user.
    PerUser,
    /// One process per uid.
    PerUid,
    /// One process for many uids.
    Shared,
}

/// Storage processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// per-user, per-uid (the default: accounts that share a uid gain no
    /// isolation from separate processes, and one process per uid costs
    /// far less memory per owner) or shared.
    pub mode: StorageMode,
    /// Homes of accounts made by `mailkeep user add`: `<home_base>/<user>`.
    /// Default: `<data_dir>/home`.
    pub home_base: Option<PathBuf>,
    /// Shortest time an idle storage process stays after its last client,
    /// in seconds (what a one-off login gets).
    pub linger_min_secs: u64,
    /// Longest time it stays, in seconds, however regular its owners are.
    pub linger_max_secs: u64,
    /// How long, in seconds, an IMAP or POP3 process keeps its connection
    /// to a storage process open after the last session there ended, so
    /// that the next login of the same owner skips making a new one. Part
    /// of the linger time, not added to it: at most `linger_min_secs`
    /// (see [`Storage::keep_warm`]), and the master counts a process's
    /// linger from its last connection's close less this, so a process
    /// whose last client kept nothing (a delivery, an admin command)
    /// lingers that much less. 0: no connection is kept.
    pub keep_warm_secs: u64,
    /// Most idle storage processes kept at once; beyond it the least
    /// recently used exits first.
    pub max_lingering: usize,
    /// A storage process whose oldest running call is older than this, in
    /// milliseconds, while no call has finished for as long, is busy: new
    /// sessions of its owners go to another.
    pub busy_after_ms: u64,
    /// An owner with no call for this long, in seconds, has its index
    /// connections closed (sooner when the process nears its open-file
    /// limit); its watchers stay. What an idle logged-in client costs
    /// depends on it.
    pub release_idle_secs: u64,
    /// Most storage processes for one key (one owner in per-user mode, one
    /// uid in per-uid mode) when the others are busy.
    pub max_processes_per_key: usize,
    /// The special-use mailboxes every owner gets.
    pub special_use: SpecialUseFolders,
    /// Largest METADATA value (RFC 5464) accepted, in bytes.
    pub metadata_max_value_size: u64,
    /// Most METADATA entries one owner may have.
    pub metadata_max_entries: u64,
    /// Most mailboxes one owner may have, INBOX included; a CREATE beyond
    /// it is refused with `NO [LIMIT]`.
    pub max_mailboxes: u64,
    /// Per-folder autoexpunge: mailbox name to the age after which its
    /// messages are removed (e.g. `{ Trash = "30d", Junk = "30d" }`; the
    /// save date counts, as Dovecot's autoexpunge). Done by each owner's
    /// storage process while it runs or lingers. Empty by default.
    pub autoexpunge: std::collections::BTreeMap<String, String>,
    /// How often, in seconds, the autoexpunge rules run (also once when a
    /// storage process starts).
    pub autoexpunge_every_secs: u64,
    /// The uid a shared-mode storage process runs as (real, effective and
    /// saved; started as root): its own, unprivileged, needing no system
    /// account, owning no file. Only its spawner thread keeps CAP_SETUID
    /// and CAP_SETGID, to start the threads that work as each owner, so no
    /// thread of it is root. Must not be 0 nor a mail uid.
    pub shared_uid: u32,
    /// The gid that goes with `shared_uid` (its only group).
    pub shared_gid: u32,
}

impl Storage {
    /// How long protocol processes keep an idle storage connection open:
    /// `keep_warm_secs`, capped at `linger_min_secs` so that a kept
    /// connection never holds a storage process longer than its linger
    /// time (the broker counts the kept time as part of it).
    pub fn keep_warm(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.keep_warm_secs.min(self.linger_min_secs))
    }

    /// The autoexpunge rules with their ages parsed.
    pub fn autoexpunge_rules(&self) -> Result<Vec<(String, std::time::Duration)>, String> {
        self.autoexpunge
            .iter()
            .map(|(mailbox, age)| {
                crate::age::parse_age(age)
                    .map(|age| (mailbox.clone(), age))
                    .map_err(|e| format!("storage.autoexpunge.{mailbox}: {e}"))
            })
            .collect()
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            mode: StorageMode::PerUid,
            home_base: None,
            linger_min_secs: 10,
            linger_max_secs: 900,
            keep_warm_secs: 5,
            max_lingering: 200,
            busy_after_ms: 500,
            release_idle_secs: 30,
            max_processes_per_key: 4,
            special_use: SpecialUseFolders::default(),
            metadata_max_value_size: 32 * 1024,
            metadata_max_entries: 1000,
            max_mailboxes: 10_000,
            autoexpunge: std::collections::BTreeMap::new(),
            autoexpunge_every_secs: 3600,
            shared_uid: 64_992,
            shared_gid: 64_992,
        }
    }
}

/// The special-use mailboxes (RFC 6154) every owner gets, as Dovecot's
/// `auto = subscribe`: created and subscribed with their attribute when
/// the owner's store is opened, and created again if deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpecialUseFolders {
    /// `\Drafts`; default name "Drafts".
    pub drafts: AutoFolder,
    /// `\Sent`; default name "Sent".
    pub sent: AutoFolder,
    /// `\Trash`; default name "Trash".
    pub trash: AutoFolder,
    /// `\Junk`; default name "Junk".
    pub junk: AutoFolder,
}

/// One auto-created special-use mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoFolder {
    /// Its name; empty: the default for its use.
    pub name: String,
    /// Whether every owner gets it.
    pub enable: bool,
}

impl Default for AutoFolder {
    fn default() -> Self {
        AutoFolder {
            name: String::new(),
            enable: true,
        }
    }
}

impl Default for SpecialUseFolders {
    fn default() -> Self {
        let folder = |name: &str| AutoFolder {
            name: name.to_owned(),
            enable: true,
        };
        SpecialUseFolders {
            drafts: folder("Drafts"),
            sent: folder("Sent"),
            trash: folder("Trash"),
            junk: folder("Junk"),
        }
    }
}

impl SpecialUseFolders {
    /// The enabled folders as (special-use attribute, mailbox name).
    pub fn enabled(&self) -> Vec<(&'static str, String)> {
        [
            ("\\Drafts", "Drafts", &self.drafts),
            ("\\Sent", "Sent", &self.sent),
            ("\\Trash", "Trash", &self.trash),
            ("\\Junk", "Junk", &self.junk),
        ]
        .into_iter()
        .filter(|(_, _, f)| f.enable)
        .map(|(attribute, default, f)| {
            let name = if f.name.is_empty() { default } else { &f.name };
            (attribute, name.to_owned())
        })
        .collect()
    }
}

/// Ticket keys and the hosts of a cluster.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// This host's ticket signing key (an Ed25519 seed as 64 hex digits,
    /// mode 0600, owned by root, made at first start or by `mailkeep
    /// cluster add-host`); only the auth process gets it, as a descriptor.
    /// Its public half is beside it, `<key_file>.pub`. Default:
    /// `<data_dir>/keys/host.key`.
    pub key_file: Option<PathBuf>,
    /// The hosts whose tickets are accepted here, one `NAME PUBLIC-KEY`
    /// per line (written by `mailkeep cluster add-host`). This host is
    /// always trusted, with the key beside `key_file`. Default:
    /// `<data_dir>/keys/trusted-hosts` (absent: this host alone).
    pub trusted_hosts_file: Option<PathBuf>,
    /// Host names (as in a user's `host=` userdb field) to the address of
    /// that host's storage gateway, `name = "ip:port"`.
    pub hosts: std::collections::BTreeMap<String, String>,
}

/// The storage gateway (DESIGN §3): terminates TLS from other hosts and
/// forwards each connection to the local storage process of its owner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// Address to listen on, `ip:port`; empty: no gateway.
    pub listen: String,
    /// This host's certificate chain (PEM), signed by `ca_file`.
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file` (PEM).
    pub key_file: Option<PathBuf>,
    /// The relay's client certificate chain (PEM), signed by `ca_file`:
    /// what this host shows other hosts' gateways. Its own, so that the
    /// gateway role (which holds `key_file`) cannot act as this host's
    /// relay. Unset (with `relay_key_file`): the relay uses `cert_file`,
    /// as clusters set up before the split do (logged).
    pub relay_cert_file: Option<PathBuf>,
    /// The private key of `relay_cert_file` (PEM).
    pub relay_key_file: Option<PathBuf>,
    /// The cluster CA (PEM) that signs every host's certificate; both
    /// sides verify the peer against it.
    pub ca_file: Option<PathBuf>,
    /// Refuse peers without a client certificate signed by `ca_file`.
    pub require_client_cert: bool,
    /// The uid the gateway and relay processes run as (started as root):
    /// their own, unprivileged, needing no system account, chrooted into
    /// the empty directory. They are the only processes that get the
    /// material of `ca_file` and, each its own, of `cert_file`/`key_file`
    /// (the gateway) and `relay_cert_file`/`relay_key_file` (the relay).
    pub uid: u32,
    /// The gid that goes with `uid`.
    pub gid: u32,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            listen: String::new(),
            cert_file: None,
            key_file: None,
            relay_cert_file: None,
            relay_key_file: None,
            ca_file: None,
            require_client_cert: true,
            uid: 64_991,
            gid: 64_991,
        }
    }
}

/// The supervisor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Master {
    /// First delay before restarting a child that died, in milliseconds;
    /// doubled per quick death.
    pub restart_backoff_ms: u64,
    /// Cap on the restart delay, in milliseconds.
    pub max_restart_backoff_ms: u64,
    /// Permission bits of the client socket (`<run dir>/client.sock`), on
    /// which programs other than the server's own (a webmail backend, an
    /// admin tool) log in through auth and reach storage with their own
    /// session ticket, as the protocol processes do. 0o600 (root only) by
    /// default; widen it for a backend that runs as another user.
    pub client_socket_mode: u32,
}

impl Default for Master {
    fn default() -> Self {
        Master {
            restart_backoff_ms: 100,
            max_restart_backoff_ms: 30_000,
            client_socket_mode: 0o600,
        }
    }
}

//! Command-line syntax.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mailkeep_auth::PasswordScheme;

/// mailkeep: an IMAP server whose network-facing processes hold no privileges.
#[derive(Parser)]
#[command(name = "mailkeep", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (in the foreground). Without --config, embedded
    /// defaults: data under ./mailkeep-data, IMAP on 127.0.0.1:1143.
    Serve {
        /// The configuration file (TOML); see config/mailkeep.example.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Manage accounts in the users file.
    User {
        /// The configuration file, to find the users file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Administer a running server (as root).
    Admin {
        /// The configuration file, to find the data directory.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Set up a cluster of hosts: its CA, each host's certificate and
    /// ticket key pair, and the list of hosts whose tickets are trusted.
    Cluster {
        /// The cluster directory (kept by the administrator; each host
        /// gets its own part of it).
        #[arg(long, global = true, default_value = "mailkeep-cluster")]
        dir: PathBuf,
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Deliver one message, read on stdin, to USER through the running
    /// server's LMTP UNIX socket (for Postfix's mailbox_command and
    /// scripts). Holds no key and needs no privilege: whoever may open the
    /// socket may deliver. Exits 0, 67 (unknown user), 75 (temporary
    /// failure, try again), 77 (refused) or 64 (usage), as sysexits(3).
    Deliver {
        /// The configuration file, to find the LMTP socket.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The recipient: a user name or user@domain.
        #[arg(short = 'u', long = "user")]
        user: String,
        /// The folder to deliver into when it exists (as `user+FOLDER`);
        /// INBOX otherwise. Another owner's mailbox (`shared.alice.Team`,
        /// `Public.News`) takes it when its owner granted USER 'p'.
        #[arg(short = 'm', long = "mailbox")]
        mailbox: Option<String>,
        /// The envelope sender (Return-Path); default: the null sender.
        #[arg(short = 'f', long = "from", default_value = "")]
        from: String,
    },
    /// Internal: run one process role (started by `serve`).
    #[command(subcommand, hide = true)]
    Role(Role),
}

#[derive(Subcommand)]
pub enum AdminAction {
    /// Every process of the running server: role, pid, uid, storage key
    /// and owners, connections, calls in flight, idle time, linger left.
    Ps,
    /// Check USER's index against the message files; exit non-zero with
    /// a report of every inconsistency.
    Verify {
        /// The user name (as in the users file).
        user: String,
    },
    /// Rebuild USER's index from the message files, keeping UIDs the old
    /// index or a dovecot-uidlist knows.
    Reindex {
        /// The user name (as in the users file).
        user: String,
    },
    /// USER's quota (the quota plugin): usage and the limits in force.
    Quota {
        #[command(subcommand)]
        action: QuotaAction,
    },
    /// Remove messages of USER's MAILBOX, done by USER's storage process:
    /// `savedbefore AGE` (30d, 12h, ...), flag conditions (seen, unseen,
    /// deleted, undeleted, flagged, unflagged), or `all`; all must hold.
    Expunge {
        /// The owner (as in the users file).
        user: String,
        /// The owner's mailbox.
        mailbox: String,
        /// The conditions, e.g. `savedbefore 30d` or `seen deleted`.
        #[arg(required = true, num_args = 1..)]
        conditions: Vec<String>,
    },
    /// The access control list of one of USER's mailboxes (RFC 4314).
    Acl {
        #[command(subcommand)]
        action: AclCli,
    },
}

#[derive(Subcommand)]
pub enum AclCli {
    /// Print the ACL: one line per identifier and its rights.
    Get {
        /// The owner (as in the users file).
        user: String,
        /// The owner's mailbox, e.g. INBOX or Projects.Team.
        mailbox: String,
    },
    /// Give IDENTIFIER (a user, anyone, authenticated; "-" in front for
    /// negative rights) RIGHTS: letters of lrswipkxtea, "+..." to add,
    /// "-..." to remove.
    Set {
        /// The owner (as in the users file).
        user: String,
        /// The owner's mailbox.
        mailbox: String,
        /// Who is granted.
        identifier: String,
        /// The rights, e.g. lr, +w, -k.
        #[arg(allow_hyphen_values = true)]
        rights: String,
    },
    /// Remove IDENTIFIER's entry.
    Delete {
        /// The owner (as in the users file).
        user: String,
        /// The owner's mailbox.
        mailbox: String,
        /// Whose entry.
        #[arg(allow_hyphen_values = true)]
        identifier: String,
    },
}

#[derive(Subcommand)]
pub enum QuotaAction {
    /// Usage (after picking up files dropped in from outside) and limits.
    Get {
        /// The user name (as in the users file).
        user: String,
    },
    /// Recount usage from the message files, store it, and print it.
    Recalc {
        /// The user name (as in the users file).
        user: String,
    },
}

#[derive(Subcommand)]
pub enum ClusterAction {
    /// Make the cluster CA and an empty trusted-host list in --dir.
    Init,
    /// Add host NAME: its gateway certificate (signed by the CA), its
    /// ticket signing key pair, its line in the trusted-host list and in
    /// hosts.toml, and the configuration lines that use them.
    AddHost {
        /// The host's name (its `[server] hostname`, and what users' `host=`
        /// field names).
        name: String,
        /// Where its storage gateway listens, IP:PORT or DNS-NAME:PORT.
        #[arg(long)]
        address: String,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Add an account; the password is read from the terminal or stdin.
    Add {
        /// The user name.
        name: String,
        /// Owner uid of the mail (default: privileges.mail_uid).
        #[arg(long)]
        uid: Option<u32>,
        /// Owner gid of the mail (default: privileges.mail_gid).
        #[arg(long)]
        gid: Option<u32>,
        /// Home directory (default: <home_base>/<name>).
        #[arg(long)]
        home: Option<PathBuf>,
        /// How the password is stored, by Dovecot's scheme name:
        /// ARGON2ID (default), ARGON2I, SCRAM-SHA-256 or SCRAM-SHA-1 (needed
        /// for SCRAM logins), SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT,
        /// SSHA512, PLAIN.
        #[arg(long, default_value = "ARGON2ID", value_parser = parse_scheme)]
        scheme: PasswordScheme,
    },
    /// Change an account's password (read from the terminal or stdin).
    Passwd {
        /// The user name.
        name: String,
        /// How the new password is stored (see `user add --scheme`).
        #[arg(long, default_value = "ARGON2ID", value_parser = parse_scheme)]
        scheme: PasswordScheme,
    },
    /// Delete an account (its mail stays on disk).
    Del {
        /// The user name.
        name: String,
    },
    /// List accounts.
    List,
}

/// A `--scheme` value; the error lists the schemes there are.
fn parse_scheme(name: &str) -> Result<PasswordScheme, String> {
    name.parse()
        .map_err(|e: mailkeep_auth::SchemeError| e.to_string())
}

/// Where a role finds its configuration.
#[derive(clap::Args, Clone)]
pub struct ConfigSource {
    /// The configuration file the master read.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The data directory, when the master ran on embedded defaults.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Whom to become.
#[derive(clap::Args, Clone)]
pub struct Identity {
    /// The uid to run as.
    #[arg(long)]
    pub uid: u32,
    /// The gid to run as.
    #[arg(long)]
    pub gid: u32,
}

/// What every protocol process (imap, pop3, lmtp, auth-socket) is given by
/// the master.
#[derive(clap::Args)]
pub struct ProtocolProcess {
    #[command(flatten)]
    pub source: ConfigSource,
    #[command(flatten)]
    pub identity: Identity,
    /// The broker channel's descriptor.
    #[arg(long)]
    pub fd_broker: i32,
    /// The control channel's descriptor (TLS certificates from the master).
    #[arg(long)]
    pub fd_control: i32,
    /// A listening socket: `FD:KIND:NAME`, KIND plain, tls or unix.
    #[arg(long, required = true)]
    pub listener: Vec<mailkeep_frontend::ListenerSpec>,
    /// The empty directory to chroot into.
    #[arg(long)]
    pub chroot: Option<std::path::PathBuf>,
}

/// What both cluster link roles (gateway, relay) are given by the master.
#[derive(clap::Args)]
pub struct ClusterLink {
    #[command(flatten)]
    pub source: ConfigSource,
    #[command(flatten)]
    pub identity: Identity,
    /// The cluster TLS material's descriptor (CA, certificate, key).
    #[arg(long)]
    pub fd_tls: i32,
    /// The empty directory to chroot into.
    #[arg(long)]
    pub chroot: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Role {
    /// An IMAP protocol process.
    Imap(ProtocolProcess),
    /// An LMTP protocol process.
    Lmtp(ProtocolProcess),
    /// A POP3 protocol process.
    Pop3(ProtocolProcess),
    /// An auth-socket protocol process (Dovecot's auth-client protocol for
    /// an MTA's SMTP AUTH).
    AuthSocket(ProtocolProcess),
    /// The storage gateway: other hosts' relays in, to local storage.
    Gateway {
        #[command(flatten)]
        link: ClusterLink,
        /// Its broker channel's descriptor.
        #[arg(long)]
        fd_broker: i32,
        /// The listening TCP socket's descriptor.
        #[arg(long)]
        fd_listener: i32,
    },
    /// The relay: this host's sessions out to other hosts' gateways.
    Relay {
        #[command(flatten)]
        link: ClusterLink,
        /// Its control channel's descriptor (requests from the master).
        #[arg(long)]
        fd_control: i32,
    },
    /// The auth process.
    Auth {
        #[command(flatten)]
        source: ConfigSource,
        #[command(flatten)]
        identity: Identity,
        /// The control channel's descriptor.
        #[arg(long)]
        fd_control: i32,
        /// This host's signing key file's descriptor (read before
        /// privileges are dropped).
        #[arg(long)]
        fd_key: i32,
        /// This host's public key, as the master trusts it: auth refuses
        /// to start with a signing key that does not match it.
        #[arg(long, allow_hyphen_values = true)]
        public_key: String,
    },
    /// A storage process.
    Storage {
        /// The owner whose mail it serves.
        #[arg(long)]
        owner: String,
        /// The owner's home directory.
        #[arg(long)]
        home: PathBuf,
        /// The owner's Maildir++ root when the users file names one
        /// (default: <home>/Maildir).
        #[arg(long)]
        maildir: Option<PathBuf>,
        /// Report busy when the oldest running call is older than this.
        #[arg(long, default_value_t = 500)]
        busy_after_ms: u64,
        /// Close the index connections of owners idle this long.
        #[arg(long, default_value_t = 30)]
        release_idle_secs: u64,
        /// Shared mode: run as --shared-uid/--shared-gid and work as each
        /// owner (--uid/--gid are the first owner's) on threads with the
        /// owner's file-system credentials.
        #[arg(long)]
        shared: bool,
        /// Shared mode: the process's own uid (real, effective, saved).
        #[arg(long, default_value_t = 64_992)]
        shared_uid: u32,
        /// Shared mode: the process's own gid.
        #[arg(long, default_value_t = 64_992)]
        shared_gid: u32,
        /// A directory beneath which the homes and Maildirs of owners sent
        /// later may lie (per-uid and shared modes; repeated): with the
        /// first owner's home, the only places the process can touch a
        /// file (Landlock).
        #[arg(long = "confine-to")]
        confine_to: Vec<PathBuf>,
        /// A mailbox every owner gets, as ATTRIBUTE=NAME (e.g.
        /// `\Sent=Sent`); repeated for each.
        #[arg(long = "special-use")]
        special_use: Vec<String>,
        /// Largest METADATA value accepted, in bytes.
        #[arg(long, default_value_t = 65536)]
        metadata_max_value_size: u64,
        /// Most METADATA entries one owner may have.
        #[arg(long, default_value_t = 1000)]
        metadata_max_entries: u64,
        /// Most mailboxes one owner may have, INBOX included.
        #[arg(long, default_value_t = 10_000)]
        max_mailboxes: u64,
        /// A per-folder autoexpunge rule, MAILBOX=SECONDS (messages saved
        /// longer ago go); repeated.
        #[arg(long = "autoexpunge")]
        autoexpunge: Vec<String>,
        /// How often the autoexpunge rules run.
        #[arg(long, default_value_t = 3600)]
        autoexpunge_every_secs: u64,
        /// The configuration's `[plugins]` section as TOML (the storage
        /// process reads no configuration file).
        #[arg(long)]
        plugins: Option<String>,
        /// An extra field of the first owner's users-file entry, as
        /// KEY=VALUE (for plugins: quota rules); repeated.
        #[arg(long = "userdb-field")]
        userdb_field: Vec<String>,
        #[command(flatten)]
        identity: Identity,
        /// The control channel's descriptor.
        #[arg(long)]
        fd_control: i32,
        /// The trusted-host list's descriptor (public keys only).
        #[arg(long)]
        fd_trusted: i32,
    },
}

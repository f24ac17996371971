//! Debian's Dovecot (2.3) as the baseline: a throwaway configuration in a
//! temporary directory (as `crates/store/tests/data/dovecot/regenerate.py`
//! does), users in a passwd-file whose password fields the benchmark
//! chooses (the very hash mailkeep stored, or `{PLAIN}`), mail as Maildir
//! owned by uid 5000, and Drafts, Sent, Trash and Junk created and
//! subscribed at first login as mailkeep does (`auto = subscribe`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{ServerProcess, free_port};
use crate::error::BenchError;

/// Owner of the Dovecot homes (mailkeep's default mail uid/gid).
const MAIL_ID: u32 = 5000;

/// A running Dovecot.
#[derive(Debug)]
pub struct Dovecot {
    process: ServerProcess,
    version: String,
    /// The POP3 port, when dovecot-pop3d is installed.
    pop3_port: Option<u16>,
}

/// Where Debian installs the master.
fn find_dovecot() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// One protocol's blocks: its per-user connection limit, its process
/// limit, and its login service with one plain listener on
/// 127.0.0.1:`port` (the implicit-TLS one off).
fn service(protocol: &str, port: u16, processes: usize) -> String {
    format!(
        "protocol {protocol} {{
  mail_max_userip_connections = 1000
}}
service {protocol} {{
  process_limit = {processes}
}}
service {protocol}-login {{
  inet_listener {protocol} {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener {protocol}s {{
    port = 0
  }}
  chroot =
  process_limit = 200
}}
"
    )
}

/// The configuration: everything under `tmp`, plain IMAP on
/// 127.0.0.1:`port`, POP3 on 127.0.0.1:`pop3_port` and LMTP on
/// 127.0.0.1:`lmtp_port` if given, users from `tmp/passwd`, limits for
/// `connections` logged-in clients at once.
fn config(
    tmp: &Path,
    port: u16,
    pop3_port: Option<u16>,
    connections: usize,
    lmtp_port: Option<u16>,
) -> String {
    let tmp = tmp.display();
    // One imap (pop3) process per logged-in client (Dovecot's default,
    // client_limit 1); the log and anvil services hold a connection
    // per process.
    let processes = connections + 100;
    let mut protocols = "imap".to_owned();
    let mut services = service("imap", port, processes);
    if let Some(pop3_port) = pop3_port {
        protocols.push_str(" pop3");
        services.push_str(&service("pop3", pop3_port, processes));
    }
    if let Some(lmtp_port) = lmtp_port {
        protocols.push_str(" lmtp");
        services.push_str(&format!(
            "service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
postmaster_address = postmaster@example.org
"
        ));
    }
    let clients = (2 * connections + 1000).max(1000);
    format!(
        "protocols = {protocols}
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
userdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
default_client_limit = {clients}
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
}}
{services}service anvil {{
  chroot =
}}
"
    )
}

impl Dovecot {
    /// Starts a throwaway Dovecot under `dir/dovecot` whose users are
    /// `users` as `(name, password field)`, configured for `connections`
    /// logged-in clients at once. `Err(Unavailable)` says why the
    /// baseline cannot run here (no Dovecot, not root).
    pub fn start(
        dir: &Path,
        users: &[(String, String)],
        connections: usize,
    ) -> Result<Dovecot, BenchError> {
        Self::start_with(dir, users, connections, None)
    }

    /// [`Dovecot::start`] with LMTP too (Debian's dovecot-lmtpd) on
    /// 127.0.0.1:`lmtp_port`, when given.
    pub fn start_with(
        dir: &Path,
        users: &[(String, String)],
        connections: usize,
        lmtp_port: Option<u16>,
    ) -> Result<Dovecot, BenchError> {
        let Some(dovecot) = find_dovecot() else {
            return Err(BenchError::Unavailable(
                "dovecot is not installed (apt-get install dovecot-imapd)".into(),
            ));
        };
        if !Path::new("/usr/lib/dovecot/imap").is_file() {
            return Err(BenchError::Unavailable(
                "Dovecot's imap binary is missing (apt-get install dovecot-imapd)".into(),
            ));
        }
        if !nix::unistd::Uid::effective().is_root() {
            return Err(BenchError::Unavailable(
                "the throwaway Dovecot needs root (it runs as root, mail as uid 5000)".into(),
            ));
        }
        let tmp = dir.join("dovecot");
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(tmp.join(sub))
                .map_err(|e| BenchError::io("creating Dovecot's directories", e))?;
        }
        let io = |what: &str| {
            let what = what.to_owned();
            move |e| BenchError::io(what, e)
        };
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod"))?;
        let mut passwd = String::new();
        for (name, password) in users {
            let home = tmp.join("home").join(name);
            std::fs::create_dir_all(&home).map_err(io("creating a home"))?;
            std::os::unix::fs::chown(&home, Some(MAIL_ID), Some(MAIL_ID))
                .map_err(io("chown of a home"))?;
            passwd.push_str(&format!(
                "{name}:{password}:{MAIL_ID}:{MAIL_ID}::{}\n",
                home.display()
            ));
        }
        std::os::unix::fs::chown(tmp.join("home"), Some(MAIL_ID), Some(MAIL_ID))
            .map_err(io("chown of the homes"))?;
        std::fs::write(tmp.join("passwd"), passwd).map_err(io("writing the passwd file"))?;
        let port = free_port()?;
        let pop3_port = if Path::new("/usr/lib/dovecot/pop3").is_file() {
            Some(free_port()?)
        } else {
            None
        };
        let conf = tmp.join("dovecot.conf");
        if lmtp_port.is_some() && !Path::new("/usr/lib/dovecot/lmtp").is_file() {
            return Err(BenchError::Unavailable(
                "Dovecot's lmtp binary is missing (apt-get install dovecot-lmtpd)".into(),
            ));
        }
        std::fs::write(&conf, config(&tmp, port, pop3_port, connections, lmtp_port))
            .map_err(io("writing the Dovecot config"))?;
        let output = std::fs::File::create(tmp.join("stderr.log")).map_err(io("stderr log"))?;
        let child = Command::new(&dovecot)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .map_err(|e| BenchError::io(format!("running {}", dovecot.display()), e))?;
        let mut process = ServerProcess::new(child, port);
        if let Err(why) = process.wait_listening(Duration::from_secs(20)) {
            let log = |name: &str| std::fs::read_to_string(tmp.join(name)).unwrap_or_default();
            return Err(BenchError::Start {
                server: "dovecot",
                why: format!("{why}\n{}{}", log("stderr.log"), log("dovecot.log")),
            });
        }
        let version = Command::new(&dovecot)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Ok(Dovecot {
            process,
            version,
            pop3_port,
        })
    }

    /// The server process (port, pid).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// The POP3 listener (plain, on 127.0.0.1); `None` without
    /// dovecot-pop3d.
    pub fn pop3_addr(&self) -> Option<std::net::SocketAddr> {
        self.pop3_port
            .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// `dovecot --version`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

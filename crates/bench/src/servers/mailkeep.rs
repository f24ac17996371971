//! mailkeep started as `mailkeep serve` from a configuration of the
//! embedded defaults plus what a benchmark sets, with accounts added the
//! way an administrator adds them, and its process table read from the
//! master's admin socket.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mailkeep_storage_rpc::broker::{
    AdminReply, AdminRequest, ListProcesses, ProcessInfo, admin_request,
};
use mailkeep_storage_rpc::framing::{recv_frame, send_frame};

use super::{Account, ServerProcess, free_port};
use crate::error::BenchError;

/// The load generator opens thousands of connections, all from loopback:
/// the per-address limits (meant against one remote host taking every
/// slot) must not apply to it.
const EXEMPT_LOOPBACK: &str = "exempt_networks = [\"127.0.0.0/8\", \"::1\"]\n";

/// `extra` with loopback exempt from the per-address limits, in its
/// `[imap]` table if it has one.
fn exempt_loopback(extra: &str) -> String {
    if extra.contains("[imap]\n") {
        extra.replacen("[imap]\n", &format!("[imap]\n{EXEMPT_LOOPBACK}"), 1)
    } else {
        format!("{extra}\n[imap]\n{EXEMPT_LOOPBACK}")
    }
}

/// A running mailkeep.
#[derive(Debug)]
pub struct Mailkeep {
    process: ServerProcess,
    lmtp_port: u16,
    pop3_port: u16,
    bin: PathBuf,
    config: PathBuf,
    data: PathBuf,
}

impl Mailkeep {
    /// Starts `bin serve` with its data in `dir/<name>`, IMAP and POP3 on
    /// one plain listener each on free loopback ports, and `extra` (TOML tables such as
    /// `[storage]\nmode = "per-uid"`) in the configuration; every other
    /// setting is the embedded default. Waits (at most 30 s) until it
    /// listens.
    pub fn start(bin: &Path, dir: &Path, name: &str, extra: &str) -> Result<Mailkeep, BenchError> {
        let port = free_port()?;
        let lmtp_port = free_port()?;
        let pop3_port = free_port()?;
        let data = dir.join(name);
        let config = dir.join(format!("{name}.toml"));
        let extra = exempt_loopback(extra);
        let text = format!(
            "[server]\ndata_dir = \"{}\"\n{extra}\n\
             [[imap.listener]]\nname = \"imap\"\naddress = \"127.0.0.1:{port}\"\nkind = \"plain\"\n\
             [[lmtp.listener]]\nname = \"lmtp\"\naddress = \"127.0.0.1:{lmtp_port}\"\nkind = \"plain\"\n\
             [[pop3.listener]]\nname = \"pop3\"\naddress = \"127.0.0.1:{pop3_port}\"\nkind = \"plain\"\n",
            data.display()
        );
        std::fs::write(&config, text).map_err(|e| BenchError::io("writing the config", e))?;
        let log = std::fs::File::create(dir.join(format!("{name}.log")))
            .map_err(|e| BenchError::io("creating the server log", e))?;
        let child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", bin.display()), e))?;
        let mut process = ServerProcess::new(child, port);
        if let Err(why) = process.wait_listening(Duration::from_secs(30)) {
            let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            return Err(BenchError::Start {
                server: "mailkeep",
                why: format!("{why}\n{log}"),
            });
        }
        Ok(Mailkeep {
            process,
            lmtp_port,
            pop3_port,
            bin: bin.to_path_buf(),
            config,
            data,
        })
    }

    /// Where its LMTP listener is (a free loopback port, never the default
    /// 1124, so that several servers can run at once).
    pub fn lmtp_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.lmtp_port))
    }

    /// The server process (port, pid).
    pub fn process(&self) -> &ServerProcess {
        &self.process
    }

    /// The POP3 listener (plain, on 127.0.0.1).
    pub fn pop3_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.pop3_port))
    }

    /// [`Mailkeep::start`] with storage processes that linger ten minutes
    /// (a benchmark's steps must not pay for starting them again) and
    /// `account` added under `scheme`: the server and the stored password
    /// field, for the baseline's users file.
    pub fn start_lingering_with(
        bin: &Path,
        dir: &Path,
        account: &Account,
        scheme: &str,
    ) -> Result<(Mailkeep, String), BenchError> {
        let mailkeep = Mailkeep::start(bin, dir, "mailkeep", "[storage]\nlinger_min_secs = 600\n")?;
        let hash = mailkeep.add_user(account, scheme)?;
        Ok((mailkeep, hash))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Adds `account` with `mailkeep user add --scheme <scheme>` (the
    /// password on stdin) and returns the stored password field
    /// (`{ARGON2ID}$argon2id$...`), for the baseline to use the very same.
    pub fn add_user(&self, account: &Account, scheme: &str) -> Result<String, BenchError> {
        let mut add = Command::new(&self.bin)
            .args(["user", "add", &account.name, "--scheme", scheme, "--config"])
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::io("mailkeep user add", e))?;
        if let Some(mut stdin) = add.stdin.take() {
            stdin
                .write_all(format!("{}\n", account.password).as_bytes())
                .map_err(|e| BenchError::io("writing the password", e))?;
        }
        let status = add
            .wait()
            .map_err(|e| BenchError::io("mailkeep user add", e))?;
        if !status.success() {
            return Err(BenchError::Refused {
                what: format!("mailkeep user add {}", account.name),
                answer: status.to_string(),
            });
        }
        self.user_line(&account.name)?
            .and_then(|line| line.split(':').nth(1).map(str::to_owned))
            .ok_or_else(|| BenchError::Refused {
                what: "reading the users file".into(),
                answer: format!("no line for {}", account.name),
            })
    }

    /// Adds many accounts with `{PLAIN}` passwords: the first through
    /// `mailkeep user add --scheme PLAIN`, the others as lines of the very
    /// form it wrote (same uid, gid and home base), in one atomic rewrite
    /// of the users file, which auth re-reads when it changes. (`user add`
    /// rewrites and fsyncs the file per account: thousands of accounts
    /// would take minutes.)
    pub fn add_plain_users(&self, accounts: &[Account]) -> Result<(), BenchError> {
        let Some((first, rest)) = accounts.split_first() else {
            return Ok(());
        };
        self.add_user(first, "PLAIN")?;
        let users = self.data.join("users");
        let text = std::fs::read_to_string(&users)
            .map_err(|e| BenchError::io("reading the users file", e))?;
        let line = self.user_line(&first.name)?.unwrap_or_default();
        // name:{PLAIN}password:uid:gid:gecos:home:shell:extra
        let fields: Vec<&str> = line.split(':').collect();
        let (Some(uid), Some(gid), Some(home)) = (fields.get(2), fields.get(3), fields.get(5))
        else {
            return Err(BenchError::Refused {
                what: "reading the users file".into(),
                answer: format!("unexpected line {line:?}"),
            });
        };
        let base = Path::new(home).parent().unwrap_or(Path::new("/"));
        let mut out = text;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        for a in rest {
            out.push_str(&format!(
                "{}:{{PLAIN}}{}:{uid}:{gid}::{}::\n",
                a.name,
                a.password,
                base.join(&a.name).display()
            ));
        }
        // The new file keeps the old one's owner and mode (root and auth's
        // group, 0640), or the unprivileged auth could not read it.
        let meta =
            std::fs::metadata(&users).map_err(|e| BenchError::io("reading the users file", e))?;
        let temporary = self.data.join("users.bench-tmp");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut f| f.write_all(out.as_bytes()))
            .and_then(|()| std::os::unix::fs::chown(&temporary, Some(meta.uid()), Some(meta.gid())))
            .and_then(|()| std::fs::set_permissions(&temporary, meta.permissions()))
            .and_then(|()| std::fs::rename(&temporary, &users))
            .map_err(|e| BenchError::io("writing the users file", e))
    }

    /// `name`'s line of the users file, if any.
    fn user_line(&self, name: &str) -> Result<Option<String>, BenchError> {
        let text = std::fs::read_to_string(self.data.join("users"))
            .map_err(|e| BenchError::io("reading the users file", e))?;
        let prefix = format!("{name}:");
        Ok(text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .map(str::to_owned))
    }

    /// Every process the master knows (`mailkeep admin ps`), from its
    /// admin socket.
    pub async fn processes(&self) -> Result<Vec<ProcessInfo>, BenchError> {
        let path = self
            .data
            .join("run")
            .join(mailkeep_master::admin::ADMIN_SOCKET);
        let fail = |why: String| BenchError::Admin {
            path: path.clone(),
            why,
        };
        let stream = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let request = AdminRequest {
            kind: Some(admin_request::Kind::ListProcesses(ListProcesses {})),
        };
        send_frame(&stream, &request, None)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (reply, _fd): (AdminReply, _) =
            recv_frame(&stream).await.map_err(|e| fail(e.to_string()))?;
        if !reply.error.is_empty() {
            return Err(fail(reply.error));
        }
        Ok(reply.processes)
    }

    /// The storage processes serving `owner`.
    pub async fn storage_processes_of(&self, owner: &str) -> Result<Vec<ProcessInfo>, BenchError> {
        Ok(self
            .processes()
            .await?
            .into_iter()
            .filter(|p| p.role == "storage" && p.owners.iter().any(|o| o == owner))
            .collect())
    }
}

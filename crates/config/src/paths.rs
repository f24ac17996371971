//! Resolving paths: an absolute data_dir, and every unset path derived from it.

use std::path::{Path, PathBuf};

use crate::{Config, ConfigError};

pub(crate) fn resolve(config: &mut Config) -> Result<(), ConfigError> {
    let data_dir = absolute(&config.server.data_dir)?;
    config.server.data_dir = data_dir.clone();
    let under = |p: &Option<PathBuf>, default: &str| -> PathBuf {
        match p {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => data_dir.join(p),
            None => data_dir.join(default),
        }
    };
    config.privileges.chroot_dir = Some(under(&config.privileges.chroot_dir, "empty"));
    config.auth.users_file = Some(under(&config.auth.users_file, "users"));
    config.storage.home_base = Some(under(&config.storage.home_base, "home"));
    config.cluster.key_file = Some(under(&config.cluster.key_file, "keys/host.key"));
    config.cluster.trusted_hosts_file = Some(under(
        &config.cluster.trusted_hosts_file,
        "keys/trusted-hosts",
    ));
    let listeners = config.imap.listener.iter_mut();
    for l in listeners
        .chain(config.lmtp.listener.iter_mut())
        .chain(config.pop3.listener.iter_mut())
        .chain(config.auth_socket.listener.iter_mut())
    {
        if l.kind == crate::ListenerKind::Unix && !l.address.is_empty() {
            l.address = under(&Some(PathBuf::from(&l.address)), "")
                .display()
                .to_string();
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf, ConfigError> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        Ok(std::env::current_dir().map_err(ConfigError::Cwd)?.join(p))
    }
}

impl Config {
    /// The data directory (absolute after loading).
    pub fn data_dir(&self) -> &Path {
        &self.server.data_dir
    }

    /// The empty chroot directory of protocol processes.
    pub fn chroot_dir(&self) -> PathBuf {
        self.resolved(&self.privileges.chroot_dir, "empty")
    }

    /// The passwd-file.
    pub fn users_file(&self) -> PathBuf {
        self.resolved(&self.auth.users_file, "users")
    }

    /// Where homes of new accounts go.
    pub fn home_base(&self) -> PathBuf {
        self.resolved(&self.storage.home_base, "home")
    }

    /// This host's ticket signing key file.
    pub fn key_file(&self) -> PathBuf {
        self.resolved(&self.cluster.key_file, "keys/host.key")
    }

    /// The public half of [`Config::key_file`]: the same name with `.pub`.
    pub fn public_key_file(&self) -> PathBuf {
        let mut name = self.key_file().into_os_string();
        name.push(".pub");
        PathBuf::from(name)
    }

    /// The trusted-host list.
    pub fn trusted_hosts_file(&self) -> PathBuf {
        self.resolved(&self.cluster.trusted_hosts_file, "keys/trusted-hosts")
    }

    /// Where the self-signed certificate and its key go when no
    /// certificate is configured: `(chain, key)`.
    pub fn self_signed_files(&self) -> (PathBuf, PathBuf) {
        let dir = self.server.data_dir.join("tls");
        (dir.join("self-signed.pem"), dir.join("self-signed.key"))
    }

    /// The directory for runtime state (sockets, pid file).
    pub fn run_dir(&self) -> PathBuf {
        self.server.data_dir.join("run")
    }

    fn resolved(&self, p: &Option<PathBuf>, default: &str) -> PathBuf {
        match p {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => self.server.data_dir.join(p),
            None => self.server.data_dir.join(default),
        }
    }
}

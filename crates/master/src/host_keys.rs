//! This host's ticket keys as the master keeps them: the signing key is
//! made at first start (or installed by `mailkeep cluster add-host`) and
//! after that only opened, never read, by the master, to be passed to auth
//! as a descriptor; the master itself and the storage processes it starts
//! hold only public keys: this host's and those of the trusted-host list.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use mailkeep_config::Config;
use mailkeep_ticket::{HostKey, PublicKey, TrustedHosts};

use crate::MasterError;

/// This host's name (the issuer of its tickets) and the hosts it trusts.
#[derive(Debug, Clone)]
pub struct HostKeys {
    /// This host's name, as its tickets name their issuer.
    pub name: String,
    /// This host's public key.
    pub public: PublicKey,
    /// Every trusted host, this one included.
    pub trusted: TrustedHosts,
}

/// This host's name for tickets: `[server] hostname`, else the system's.
pub fn host_name(config: &Config) -> String {
    if !config.server.hostname.is_empty() {
        return config.server.hostname.clone();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Makes the key pair if there is none (the private key mode 0600, the
/// public one 0644, in a 0700 directory), checks the private key file's
/// mode and owner, and reads the public key and the trusted-host list.
pub fn prepare(config: &Config, privileged: bool) -> Result<HostKeys, MasterError> {
    let key_file = config.key_file();
    let public_file = config.public_key_file();
    if let Some(parent) = key_file.parent()
        && !parent.is_dir()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| MasterError::io(format!("creating {}", parent.display()), e))?;
    }
    if !key_file.exists() {
        write_key_pair(&key_file, &public_file, &HostKey::generate())?;
    }
    let meta = fs::metadata(&key_file)
        .map_err(|e| MasterError::io(format!("key file {}", key_file.display()), e))?;
    if meta.mode() & 0o077 != 0 || (privileged && meta.uid() != 0) {
        return Err(MasterError::Setup(format!(
            "key file {} must be mode 0600 and owned by root",
            key_file.display()
        )));
    }
    let text = fs::read_to_string(&public_file).map_err(|e| {
        MasterError::io(
            format!(
                "reading the public key {} (written beside the key file)",
                public_file.display()
            ),
            e,
        )
    })?;
    let public = PublicKey::parse(&text)
        .map_err(|e| MasterError::Setup(format!("{}: {e}", public_file.display())))?;
    let name = host_name(config);
    let trusted_file = config.trusted_hosts_file();
    let mut trusted = match fs::read_to_string(&trusted_file) {
        Ok(text) => TrustedHosts::parse(&text)
            .map_err(|e| MasterError::Setup(format!("{}: {e}", trusted_file.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => TrustedHosts::new(),
        Err(e) => {
            return Err(MasterError::io(
                format!("reading {}", trusted_file.display()),
                e,
            ));
        }
    };
    trusted.insert(&name, public).map_err(|_| {
        MasterError::Setup(format!(
            "{} lists this host {name:?} with a key other than {}",
            trusted_file.display(),
            public_file.display()
        ))
    })?;
    Ok(HostKeys {
        name,
        public,
        trusted,
    })
}

/// Writes `key` to `key_file` (0600, new) and its public half to
/// `public_file` (0644).
pub fn write_key_pair(
    key_file: &Path,
    public_file: &Path,
    key: &HostKey,
) -> Result<(), MasterError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_file)
        .map_err(|e| MasterError::io(format!("creating key file {}", key_file.display()), e))?;
    f.write_all(key.to_file_contents().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| MasterError::io(format!("writing key file {}", key_file.display()), e))?;
    let mut p = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(public_file)
        .map_err(|e| MasterError::io(format!("creating {}", public_file.display()), e))?;
    p.write_all(format!("{}\n", key.public()).as_bytes())
        .and_then(|()| p.sync_all())
        .map_err(|e| MasterError::io(format!("writing {}", public_file.display()), e))
}

/// The signing key file, opened for auth (which reads it before dropping
/// privileges); the master never reads it.
pub fn open_signing_key(config: &Config) -> Result<OwnedFd, MasterError> {
    let path = config.key_file();
    let f = fs::File::open(&path)
        .map_err(|e| MasterError::io(format!("opening key file {}", path.display()), e))?;
    Ok(OwnedFd::from(f))
}

/// The trusted-host list for a storage process, as the read end of a pipe
/// holding its file form (a storage process cannot read the keys
/// directory).
pub fn trusted_for_child(trusted: &TrustedHosts) -> Result<OwnedFd, MasterError> {
    let text = trusted.to_file_contents();
    // Written whole before the child starts: it must fit the pipe's buffer
    // (64 KiB on Linux), about 1,000 hosts.
    if text.len() > 60 * 1024 {
        return Err(MasterError::Setup(format!(
            "the trusted-host list is {} bytes, over 60 KiB",
            text.len()
        )));
    }
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| MasterError::io("a pipe for the trusted-host list", e))?;
    writer
        .write_all(text.as_bytes())
        .map_err(|e| MasterError::io("writing the trusted-host list", e))?;
    drop(writer);
    Ok(OwnedFd::from(reader))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn config_in(dir: &Path) -> Config {
        let mut c = Config::default();
        c.server.data_dir = dir.join("data");
        c.server.hostname = "here".into();
        c.resolve().expect("resolve");
        c
    }

    #[test]
    fn first_start_makes_a_key_pair_and_trusts_this_host_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let first = prepare(&config, false).unwrap();
        let meta = fs::metadata(config.key_file()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let key = HostKey::parse(&fs::read_to_string(config.key_file()).unwrap()).unwrap();
        assert_eq!(key.public(), first.public);
        assert_eq!(first.trusted.get("here"), Some(&first.public));
        let second = prepare(&config, false).unwrap();
        assert_eq!(second.public, first.public, "kept across starts");
    }

    #[test]
    fn a_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        prepare(&config, false).unwrap();
        fs::set_permissions(config.key_file(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = prepare(&config, false).unwrap_err().to_string();
        assert!(err.contains("0600"), "{err}");
    }

    #[test]
    fn trusted_list_adds_hosts_but_cannot_replace_this_hosts_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        prepare(&config, false).unwrap();
        let other = HostKey::generate();
        fs::write(
            config.trusted_hosts_file(),
            format!("there {}\n", other.public()),
        )
        .unwrap();
        let keys = prepare(&config, false).unwrap();
        assert_eq!(keys.trusted.get("there"), Some(&other.public()));
        assert_eq!(keys.trusted.len(), 2);
        fs::write(
            config.trusted_hosts_file(),
            format!("here {}\n", other.public()),
        )
        .unwrap();
        let err = prepare(&config, false).unwrap_err().to_string();
        assert!(err.contains("other than"), "{err}");
    }
}

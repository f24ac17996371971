//! The data directory: what the master makes at first start and checks at
//! every start (key, chroot, homes, users file with the demo account).

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mailkeep_config::Config;
use nix::unistd::{Gid, Uid, User};

use crate::MasterError;
use crate::privileges::running_as_root;

/// The demo account's name.
pub const DEMO_USER: &str = "demo";

/// What the master learned while preparing: who runs what, and the key.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Started as root: privilege separation is on.
    pub privileged: bool,
    /// Protocol processes run as this uid/gid.
    pub protocol_uid: u32,
    /// See `protocol_uid`.
    pub protocol_gid: u32,
    /// The auth process runs as this uid/gid.
    pub auth_uid: u32,
    /// See `auth_uid`.
    pub auth_gid: u32,
    /// The uid/gid new accounts get.
    pub mail_uid: u32,
    /// See `mail_uid`.
    pub mail_gid: u32,
    /// The empty chroot directory.
    pub chroot: PathBuf,
    /// This host's name and public ticket key, and the hosts it trusts.
    pub keys: crate::host_keys::HostKeys,
    /// The demo account's password, when it was made by this start.
    pub demo_password: Option<String>,
}

fn mkdir(path: &Path, mode: u32) -> Result<(), MasterError> {
    if path.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| MasterError::io(format!("creating directory {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| MasterError::io(format!("setting mode of {}", path.display()), e))
}

/// Makes and checks everything under the data directory.
pub fn prepare(config: &Config) -> Result<Prepared, MasterError> {
    let privileged = running_as_root();
    let data_dir = config.data_dir();
    mkdir(data_dir, 0o755)?;
    if privileged {
        check_traversable(data_dir)?;
    }
    let keys = crate::host_keys::prepare(config, privileged)?;
    let chroot = config.chroot_dir();
    mkdir(&chroot, 0o555)?;
    if privileged {
        crate::privileges::check_empty_root_owned(&chroot)?;
    }
    mkdir(&config.home_base(), 0o755)?;
    mkdir(&config.run_dir(), 0o700)?;

    let (protocol_uid, protocol_gid, auth_uid, auth_gid, mail_uid, mail_gid);
    if privileged {
        (protocol_uid, protocol_gid) = lookup_user(&config.privileges.unprivileged_user)?;
        // Auth runs as its own uid by default, a number that needs no
        // system account (DESIGN §1).
        (auth_uid, auth_gid) = if config.auth.user.is_empty() {
            (config.auth.uid, config.auth.gid)
        } else {
            lookup_user(&config.auth.user)?
        };
        (mail_uid, mail_gid) = (config.privileges.mail_uid, config.privileges.mail_gid);
    } else {
        let (u, g) = (Uid::current().as_raw(), Gid::current().as_raw());
        (
            protocol_uid,
            protocol_gid,
            auth_uid,
            auth_gid,
            mail_uid,
            mail_gid,
        ) = (u, g, u, g, u, g);
    }

    let users = config.users_file();
    let demo_password = if users.exists() {
        None
    } else {
        let password = random_password();
        mailkeep_auth::add_user(
            &users,
            DEMO_USER,
            &password,
            mail_uid,
            mail_gid,
            &config.home_base().join(DEMO_USER),
        )?;
        Some(password)
    };
    if privileged && auth_uid != 0 && users.exists() {
        // Readable by auth (its group) and root only; written by root
        // alone (`mailkeep user`, which keeps owner and mode).
        nix::unistd::chown(
            &users,
            Some(Uid::from_raw(0)),
            Some(Gid::from_raw(auth_gid)),
        )
        .map_err(|e| MasterError::io(format!("chown {} to root:{auth_gid}", users.display()), e))?;
        fs::set_permissions(&users, fs::Permissions::from_mode(0o640))
            .map_err(|e| MasterError::io(format!("chmod 0640 {}", users.display()), e))?;
    }
    Ok(Prepared {
        privileged,
        protocol_uid,
        protocol_gid,
        auth_uid,
        auth_gid,
        mail_uid,
        mail_gid,
        chroot,
        keys,
        demo_password,
    })
}

fn lookup_user(name: &str) -> Result<(u32, u32), MasterError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw())),
        Ok(None) => Err(MasterError::Setup(format!(
            "user {name:?} (privileges.unprivileged_user or auth.user) does not exist on this system"
        ))),
        Err(e) => Err(MasterError::io(format!("looking up user {name:?}"), e)),
    }
}

/// Storage processes run as mail owners and must reach their homes under
/// the data directory: every ancestor must be searchable by others.
fn check_traversable(dir: &Path) -> Result<(), MasterError> {
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor)
            .map_err(|e| MasterError::io(format!("checking {}", ancestor.display()), e))?;
        if meta.mode() & 0o001 == 0 {
            return Err(MasterError::Setup(format!(
                "{} is not searchable by other users (mode {:o}), so storage processes running as \
                 the mail owners cannot reach their homes under {}; chmod o+x it or set \
                 server.data_dir elsewhere",
                ancestor.display(),
                meta.mode() & 0o7777,
                dir.display()
            )));
        }
    }
    Ok(())
}

fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        let mut c = Config::default();
        c.server.data_dir = dir.join("data");
        c.resolve().expect("resolve");
        c
    }

    fn open_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        dir
    }

    #[test]
    fn first_start_makes_key_chroot_and_demo_then_reuses_them() {
        let dir = open_dir();
        let config = config_in(dir.path());
        let first = prepare(&config).expect("first prepare");
        let password = first
            .demo_password
            .clone()
            .expect("demo made at first start");
        assert_eq!(password.len(), 16);
        assert!(config.key_file().is_file());
        assert!(config.chroot_dir().is_dir());
        assert_eq!(
            fs::read_dir(config.chroot_dir()).expect("chroot").count(),
            0
        );
        let users = mailkeep_auth::PasswdFile::load(config.users_file()).expect("users");
        let demo = users.lookup(DEMO_USER).expect("demo listed");
        assert_eq!(
            demo.home.as_deref(),
            Some(config.home_base().join(DEMO_USER).as_path())
        );
        assert!(
            mailkeep_auth::verify_password(&demo.password, password.as_bytes()).unwrap_or(false)
        );

        let second = prepare(&config).expect("second prepare");
        assert!(second.demo_password.is_none());
        assert_eq!(first.keys.public, second.keys.public);
    }

    #[test]
    fn a_populated_chroot_is_refused() {
        let dir = open_dir();
        let config = config_in(dir.path());
        prepare(&config).expect("prepare");
        fs::set_permissions(config.chroot_dir(), fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::write(config.chroot_dir().join("x"), b"x").expect("write");
        let result = crate::privileges::check_empty_root_owned(&config.chroot_dir());
        if running_as_root() {
            assert!(
                result
                    .expect_err("must refuse")
                    .to_string()
                    .contains("empty")
            );
        } else {
            // Not root-owned when not run as root: refused either way.
            assert!(result.is_err());
        }
    }

    #[test]
    fn an_untraversable_data_dir_is_explained_when_root() {
        if !running_as_root() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root"
            );
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let config = config_in(dir.path());
        let err = prepare(&config).expect_err("must refuse").to_string();
        assert!(err.contains("not searchable"), "{err}");
    }
}

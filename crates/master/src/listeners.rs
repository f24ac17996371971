//! The protocol services' listening sockets: adopted from a service
//! manager that bound them (systemd socket activation: `LISTEN_PID`,
//! `LISTEN_FDS`, `LISTEN_FDNAMES`, descriptors from 3 on), or bound here.
//! Adopting lets an administrator bind privileged ports outside mailkeep
//! and lets a test bind port 0 first and start the server with no race.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use mailkeep_config::{Config, Listener as ListenerConfig, ListenerKind};
use mailkeep_frontend::ListenerKind as Kind;
use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname};

use crate::MasterError;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// A listening socket of a protocol service, ready to pass to its processes.
#[derive(Debug)]
pub struct BoundListener {
    /// The configured name.
    pub name: String,
    /// How its clients start.
    pub kind: Kind,
    /// The socket.
    pub socket: OwnedFd,
}

/// The frontend's kind for a configured one.
pub fn kind_of(kind: ListenerKind) -> Kind {
    match kind {
        ListenerKind::Plain => Kind::Plain,
        ListenerKind::Tls => Kind::ImplicitTls,
        ListenerKind::Unix => Kind::Unix,
    }
}

/// The sockets a service manager passed, by name. Empty when none were
/// passed to this process (no `LISTEN_PID`, or another pid's).
pub fn inherited_sockets() -> Result<HashMap<String, OwnedFd>, MasterError> {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(pid), Some(count)) = (var("LISTEN_PID"), var("LISTEN_FDS")) else {
        return Ok(HashMap::new());
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(HashMap::new());
    }
    let count: i32 = count
        .trim()
        .parse()
        .map_err(|_| MasterError::Setup(format!("LISTEN_FDS={count:?} is not a number")))?;
    let names: Vec<String> = var("LISTEN_FDNAMES")
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut sockets = HashMap::new();
    for i in 0..count.clamp(0, 1024) {
        let fd = LISTEN_FDS_START + i;
        let owned = mailkeep_storage_rpc::fd::adopt_inherited(fd)
            .map_err(|e| MasterError::io(format!("adopting passed socket {fd}"), e))?;
        // systemd names unnamed sockets "unknown".
        let name = names
            .get(usize::try_from(i).unwrap_or(usize::MAX))
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        if sockets.insert(name.clone(), owned).is_some() {
            return Err(MasterError::Setup(format!(
                "two passed sockets are named {name:?}"
            )));
        }
    }
    Ok(sockets)
}

/// Every configured listener of `service`, taken from `inherited` by name
/// or bound to its address.
pub fn bind_service(
    config: &Config,
    service: &str,
    inherited: &mut HashMap<String, OwnedFd>,
) -> Result<Vec<BoundListener>, MasterError> {
    config
        .listeners()
        .into_iter()
        .filter(|(s, _)| *s == service)
        .map(|(_, l)| match inherited.remove(&l.name) {
            Some(socket) => adopt(l, socket),
            None => bind(l),
        })
        .collect()
}

fn adopt(l: &ListenerConfig, socket: OwnedFd) -> Result<BoundListener, MasterError> {
    let address: SockaddrStorage = getsockname(socket.as_raw_fd())
        .map_err(|e| MasterError::io(format!("passed socket {:?}", l.name), e))?;
    let fits = matches!(
        (l.kind, address.family()),
        (ListenerKind::Unix, Some(AddressFamily::Unix))
            | (
                ListenerKind::Plain | ListenerKind::Tls,
                Some(AddressFamily::Inet | AddressFamily::Inet6)
            )
    );
    if !fits {
        return Err(MasterError::Setup(format!(
            "the passed socket named {:?} is not a {:?} listener's socket",
            l.name, l.kind
        )));
    }
    tracing::info!(listener = l.name, "using the passed socket");
    Ok(BoundListener {
        name: l.name.clone(),
        kind: kind_of(l.kind),
        socket,
    })
}

fn bind(l: &ListenerConfig) -> Result<BoundListener, MasterError> {
    let socket = match l.kind {
        ListenerKind::Plain | ListenerKind::Tls => {
            let listener = std::net::TcpListener::bind(&l.address).map_err(|e| {
                MasterError::io(format!("binding listener {:?} on {}", l.name, l.address), e)
            })?;
            OwnedFd::from(listener)
        }
        ListenerKind::Unix => OwnedFd::from(bind_unix(l)?),
    };
    tracing::info!(listener = l.name, address = l.address, kind = ?l.kind, "listening");
    Ok(BoundListener {
        name: l.name.clone(),
        kind: kind_of(l.kind),
        socket,
    })
}

/// Binds a UNIX socket, replacing a stale socket file left by an earlier
/// run (never another kind of file), and gives it the configured mode
/// (default 0o666), owner and group.
fn bind_unix(l: &ListenerConfig) -> Result<std::os::unix::net::UnixListener, MasterError> {
    let (name, path) = (l.name.as_str(), Path::new(&l.address));
    let err = |what: &str, e: std::io::Error| {
        MasterError::io(format!("listener {name:?}: {what} {}", path.display()), e)
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(MasterError::Setup(format!(
                "listener {name:?}: {} exists and is not a socket",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| err("removing the old socket", e))?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err("making the directory of", e))?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| err("binding", e))?;
    // Unless set, access is limited by the directory the administrator chose.
    let mode = l.mode.unwrap_or(0o666);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err("setting the mode of", e))?;
    if l.owner.is_some() || l.group.is_some() {
        let uid = match &l.owner {
            Some(user) => Some(
                nix::unistd::User::from_name(user)
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        MasterError::Setup(format!("listener {name:?}: no user {user:?}"))
                    })?
                    .uid,
            ),
            None => None,
        };
        let gid = match &l.group {
            Some(group) => Some(
                nix::unistd::Group::from_name(group)
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        MasterError::Setup(format!("listener {name:?}: no group {group:?}"))
                    })?
                    .gid,
            ),
            None => None,
        };
        nix::unistd::chown(path, uid, gid)
            .map_err(|e| err("setting the owner of", std::io::Error::from(e)))?;
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(listeners: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!(
                "[server]\ndata_dir = \"{}\"\n{listeners}",
                dir.path().join("data").display()
            ),
        )
        .expect("write");
        let config = Config::load(Some(&path)).expect("config");
        (dir, config)
    }

    #[test]
    fn binds_tcp_and_unix_listeners_and_prefers_passed_sockets() {
        let (_dir, config) = config_with(
            "[[imap.listener]]\nname = \"a\"\naddress = \"127.0.0.1:0\"\nkind = \"plain\"\n\
             [[imap.listener]]\nname = \"b\"\naddress = \"127.0.0.1:9\"\nkind = \"tls\"\n\
             [[imap.listener]]\nname = \"c\"\naddress = \"run2/imap.sock\"\nkind = \"unix\"\n",
        );
        // "b" comes pre-bound (its configured port 9 is never bound).
        let pre = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let pre_addr = pre.local_addr().expect("addr");
        let mut inherited = HashMap::from([("b".to_owned(), OwnedFd::from(pre))]);
        let bound = bind_service(&config, "imap", &mut inherited).expect("bound");
        assert!(inherited.is_empty());
        assert_eq!(bound.len(), 3);
        assert_eq!(bound[1].kind, Kind::ImplicitTls);
        let b = std::net::TcpListener::from(bound[1].socket.try_clone().expect("dup"));
        assert_eq!(b.local_addr().expect("addr"), pre_addr);
        assert_eq!(bound[2].kind, Kind::Unix);
        let path = config.data_dir().join("run2/imap.sock");
        std::os::unix::net::UnixStream::connect(&path).expect("the unix socket listens");

        // A second start replaces the stale socket file.
        drop(bound);
        let again = bind_service(&config, "imap", &mut HashMap::new()).expect("rebind");
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn a_passed_socket_of_the_wrong_family_is_refused() {
        let (_dir, config) = config_with(
            "[[imap.listener]]\nname = \"a\"\naddress = \"127.0.0.1:0\"\nkind = \"plain\"\n",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let unix = std::os::unix::net::UnixListener::bind(dir.path().join("s")).expect("bind");
        let mut inherited = HashMap::from([("a".to_owned(), OwnedFd::from(unix))]);
        let err = bind_service(&config, "imap", &mut inherited).expect_err("wrong family");
        assert!(err.to_string().contains("not a"), "{err}");
    }
}

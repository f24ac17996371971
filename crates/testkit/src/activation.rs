//! Listening sockets bound by the test before the server starts and
//! handed to it as systemd's socket activation does (`sd_listen_fds(3)`):
//! descriptors from 3 on, `LISTEN_FDS` (their count), `LISTEN_FDNAMES`
//! (their names, `:`-separated) and `LISTEN_PID` (the pid that may take
//! them). The test knows every port before the server runs, and no other
//! test can take one in between.

use std::ffi::OsStr;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::process::Command;

use command_fds::{CommandFdExt, FdMapping};

/// Why the listeners could not be bound or passed.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// Binding a listener failed.
    #[error("binding a listener on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A name that `LISTEN_FDNAMES` cannot carry.
    #[error("listener name {0:?} is empty or holds ':'")]
    BadName(String),
    /// The command to run is empty.
    #[error("no program to run")]
    NoProgram,
    /// The descriptors could not be mapped into the child.
    #[error("mapping listener descriptors: {0}")]
    Mapping(#[from] command_fds::FdMappingCollision),
}

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// Listening sockets with names, in the order they are passed.
#[derive(Debug, Default)]
pub struct Listeners {
    listeners: Vec<(String, TcpListener)>,
}

impl Listeners {
    /// No listeners yet.
    pub fn new() -> Listeners {
        Listeners::default()
    }

    /// Binds a listener named `name` on `ip` at a port the kernel picks,
    /// and returns its address. Several listeners may share a name (IMAP on
    /// 127.0.0.1 and 127.0.0.2, say).
    pub fn bind(&mut self, name: &str, ip: IpAddr) -> Result<SocketAddr, ActivationError> {
        self.bind_addr(name, SocketAddr::new(ip, 0))
    }

    /// Binds a listener named `name` at `addr` (port 0: one the kernel
    /// picks) and returns its address.
    pub fn bind_addr(
        &mut self,
        name: &str,
        addr: SocketAddr,
    ) -> Result<SocketAddr, ActivationError> {
        if name.is_empty() || name.contains(':') {
            return Err(ActivationError::BadName(name.to_owned()));
        }
        let bound = TcpListener::bind(addr)
            .and_then(|l| Ok((l.local_addr()?, l)))
            .map_err(|source| ActivationError::Bind { addr, source })?;
        self.listeners.push((name.to_owned(), bound.1));
        Ok(bound.0)
    }

    /// The addresses of the listeners named `name`, in binding order.
    pub fn addrs(&self, name: &str) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.local_addr().ok())
            .collect()
    }

    /// Every listener's name and address, in passing order.
    pub fn all(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(n, l)| Some((n.clone(), l.local_addr().ok()?)))
            .collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// A command that runs `argv` with the listeners as descriptors 3, 4,
    /// ... and the `LISTEN_*` variables, through `sh` so that `LISTEN_PID`
    /// is the pid of the program itself (`sh` sets it to its own pid and
    /// then `exec`s the program, which keeps that pid; a wrapper such as
    /// `setpriv` that execs in turn keeps it too).
    ///
    /// The returned `Command` owns the parent's copies of the sockets: drop
    /// it right after spawning, so that only the server holds them (else
    /// the port keeps accepting connections after the server is gone).
    pub fn command<I, A>(self, argv: I) -> Result<Command, ActivationError>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        let mut argv = argv.into_iter();
        let program = argv.next().ok_or(ActivationError::NoProgram)?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("export LISTEN_PID=$$; exec \"$0\" \"$@\"")
            .arg(program)
            .args(argv);
        let names: Vec<&str> = self.listeners.iter().map(|(n, _)| n.as_str()).collect();
        cmd.env("LISTEN_FDS", self.listeners.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env_remove("LISTEN_PID");
        let mappings = self
            .listeners
            .into_iter()
            .zip(LISTEN_FDS_START..)
            .map(|((_, listener), child_fd)| FdMapping {
                parent_fd: OwnedFd::from(listener),
                child_fd,
            })
            .collect();
        cmd.fd_mappings(mappings)?;
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpStream};

    /// The child sees the variables with its own pid and the listeners at
    /// 3 and 4, and can accept on them: a connection to the port bound here
    /// reaches it.
    #[test]
    fn a_child_receives_named_listeners_and_its_own_pid() {
        let mut listeners = Listeners::new();
        let imap = listeners
            .bind("imap", IpAddr::V4(Ipv4Addr::LOCALHOST))
            .unwrap();
        listeners
            .bind("imaps", IpAddr::V4(Ipv4Addr::LOCALHOST))
            .unwrap();
        // python3 is what the end-to-end tests use too; it accepts one
        // connection on fd 3 and answers with what it was given.
        let script = "import os, socket\n\
            s = socket.socket(fileno=3)\n\
            c, _ = s.accept()\n\
            ok = os.environ['LISTEN_PID'] == str(os.getpid())\n\
            c.sendall(('%s %s %s' % (os.environ['LISTEN_FDS'], os.environ['LISTEN_FDNAMES'], ok)).encode())\n\
            c.close()\n";
        let mut cmd = listeners.command(["python3", "-c", script]).unwrap();
        let mut child = cmd.spawn().unwrap();
        drop(cmd);
        let mut conn = TcpStream::connect(imap).unwrap();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(got, "2 imap:imaps True");
    }

    #[test]
    fn names_with_colons_are_refused() {
        let err = Listeners::new()
            .bind("a:b", IpAddr::V4(Ipv4Addr::LOCALHOST))
            .unwrap_err();
        assert!(matches!(err, ActivationError::BadName(_)));
    }
}

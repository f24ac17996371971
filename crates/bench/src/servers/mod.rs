//! The servers under test, each started from a throwaway configuration in
//! a temporary directory and stopped when dropped: mailkeep (the binary
//! the benchmark was built with) and Debian's Dovecot, the baseline.

pub mod dovecot;
pub mod mailkeep;

use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// A login name and its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name.
    pub name: String,
    /// The password, sent as given.
    pub password: String,
}

impl Account {
    /// `count` accounts named `{prefix}{n}`, each with its own password.
    pub fn numbered(prefix: &str, count: usize) -> Vec<Account> {
        (0..count)
            .map(|n| Account {
                name: format!("{prefix}{n}"),
                password: format!("pw-{prefix}{n}"),
            })
            .collect()
    }
}

/// A free TCP port on 127.0.0.1 (bound and released: the server binds it
/// next; nothing else on this machine hands out ports in between).
pub fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::io("binding a free port", e))
}

/// A running server process: SIGTERM when dropped, SIGKILL 10 s later.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    /// A server started as `child`, to listen on `port`.
    pub fn new(child: Child, port: u16) -> ServerProcess {
        ServerProcess { child, port }
    }

    /// The IMAP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The IMAP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The pid of the server's top process (the root of its tree).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server accepts connections; `Err` if its process
    /// ends or `limit` passes first.
    pub fn wait_listening(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while TcpStream::connect(self.addr()).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited at start ({status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!("it did not listen within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Listening sockets a protocol process inherits from the master: TCP
//! (IPv4 or IPv6) or UNIX stream sockets, each with a name (as configured,
//! and as systemd socket activation names it) and a kind that says how
//! its clients start.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::str::FromStr;
use std::sync::Arc;

use nix::sys::socket::{
    AddressFamily, SockaddrLike, SockaddrStorage, getsockname, getsockopt, sockopt,
};
use tokio::net::{TcpListener, UnixListener};

use crate::conn_info::Endpoint;
use crate::connection::Transport;

/// How clients of a listener start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// TCP, plain text at first; the protocol may offer STARTTLS.
    Plain,
    /// TCP, TLS from the first byte (IMAPS, POP3S).
    ImplicitTls,
    /// A UNIX stream socket, plain text (local clients such as an MTA).
    Unix,
}

impl ListenerKind {
    /// The name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Plain => "plain",
            ListenerKind::ImplicitTls => "tls",
            ListenerKind::Unix => "unix",
        }
    }
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListenerKind {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" => Ok(ListenerKind::Plain),
            "tls" => Ok(ListenerKind::ImplicitTls),
            "unix" => Ok(ListenerKind::Unix),
            other => Err(ListenError::Spec(format!(
                "unknown listener kind {other:?} (plain, tls or unix)"
            ))),
        }
    }
}

/// Why a listener could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A `FD:KIND:NAME` argument is malformed.
    #[error("listener argument: {0}")]
    Spec(String),
    /// The descriptor is not a listening socket of the kind's family.
    #[error("listener {name}: {message}")]
    NotAListener {
        /// The listener's name.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The OS refused an operation on the socket.
    #[error("listener {name}: {source}")]
    Io {
        /// The listener's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A listener as the master passes it on the command line: the descriptor
/// number, the kind and the name, written `FD:KIND:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The inherited descriptor.
    pub fd: RawFd,
    /// Its kind.
    pub kind: ListenerKind,
    /// Its configured name.
    pub name: String,
}

impl fmt::Display for ListenerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.fd, self.kind, self.name)
    }
}

impl FromStr for ListenerSpec {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ListenError::Spec(format!("{s:?} is not FD:KIND:NAME"));
        let mut parts = s.splitn(3, ':');
        let fd = parts
            .next()
            .and_then(|p| p.parse::<RawFd>().ok())
            .filter(|fd| *fd >= 0)
            .ok_or_else(bad)?;
        let kind = parts.next().ok_or_else(bad)?.parse()?;
        let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
        Ok(ListenerSpec {
            fd,
            kind,
            name: name.to_owned(),
        })
    }
}

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A listening socket ready to accept, with its name and kind.
pub struct Listener {
    name: Arc<str>,
    kind: ListenerKind,
    socket: Socket,
    proxy_protocol: bool,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Listener {
    /// Takes over an inherited listening socket. Checks that it is one,
    /// and of the family its kind needs (TCP for plain and implicit TLS,
    /// UNIX for unix), so a mixed-up descriptor fails at start. Must be
    /// called inside a tokio runtime.
    pub fn adopt(fd: OwnedFd, kind: ListenerKind, name: &str) -> Result<Listener, ListenError> {
        let wrong = |message: String| ListenError::NotAListener {
            name: name.to_owned(),
            message,
        };
        let io = |e: nix::Error| ListenError::Io {
            name: name.to_owned(),
            source: e.into(),
        };
        if !getsockopt(&fd.as_fd(), sockopt::AcceptConn).map_err(io)? {
            return Err(wrong("the socket is not listening".into()));
        }
        let address: SockaddrStorage =
            getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(io)?;
        let family = address.family();
        match (kind, family) {
            (ListenerKind::Unix, Some(AddressFamily::Unix)) => {
                Listener::unix(std::os::unix::net::UnixListener::from(fd), name)
            }
            (
                ListenerKind::Plain | ListenerKind::ImplicitTls,
                Some(AddressFamily::Inet | AddressFamily::Inet6),
            ) => Listener::tcp(std::net::TcpListener::from(fd), kind, name),
            (kind, family) => Err(wrong(format!(
                "a {kind} listener cannot be a socket of family {family:?}"
            ))),
        }
    }

    /// Wraps a bound TCP listener (`kind` plain or implicit TLS).
    pub fn tcp(
        listener: std::net::TcpListener,
        kind: ListenerKind,
        name: &str,
    ) -> Result<Listener, ListenError> {
        let io = |source| ListenError::Io {
            name: name.to_owned(),
            source,
        };
        if kind == ListenerKind::Unix {
            return Err(ListenError::NotAListener {
                name: name.to_owned(),
                message: "a TCP socket cannot be a unix listener".into(),
            });
        }
        listener.set_nonblocking(true).map_err(io)?;
        Ok(Listener {
            name: name.into(),
            kind,
            socket: Socket::Tcp(TcpListener::from_std(listener).map_err(io)?),
            proxy_protocol: false,
        })
    }

    /// Wraps a bound UNIX listener.
    pub fn unix(
        listener: std::os::unix::net::UnixListener,
        name: &str,
    ) -> Result<Listener, ListenError> {
        let io = |source| ListenError::Io {
            name: name.to_owned(),
            source,
        };
        listener.set_nonblocking(true).map_err(io)?;
        Ok(Listener {
            name: name.into(),
            kind: ListenerKind::Unix,
            socket: Socket::Unix(UnixListener::from_std(listener).map_err(io)?),
            proxy_protocol: false,
        })
    }

    /// Its configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kind.
    pub fn kind(&self) -> ListenerKind {
        self.kind
    }

    /// The listener with every connection starting with a PROXY v2 header
    /// from a load balancer (TCP listeners only; the balancer must be in
    /// the trusted networks, see [`crate::ClientPolicy`]).
    pub fn with_proxy_protocol(mut self, on: bool) -> Listener {
        self.proxy_protocol = on && matches!(self.socket, Socket::Tcp(_));
        self
    }

    /// Whether connections start with a PROXY v2 header.
    pub fn proxy_protocol(&self) -> bool {
        self.proxy_protocol
    }

    /// The address it listens on (for TCP).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.socket {
            Socket::Tcp(l) => l.local_addr().ok(),
            Socket::Unix(_) => None,
        }
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// Accepts one client: the stream, its address and ours.
    pub(crate) async fn accept(&self) -> std::io::Result<Accepted> {
        match &self.socket {
            Socket::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Responses are batched and flushed; do not delay them.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr()?;
                Ok(Accepted {
                    stream: AcceptedStream::Tcp(stream),
                    peer: Endpoint::Tcp(peer),
                    local: Endpoint::Tcp(local),
                })
            }
            Socket::Unix(l) => {
                let (stream, _) = l.accept().await?;
                Ok(Accepted {
                    stream: AcceptedStream::Unix(stream),
                    peer: Endpoint::Unix,
                    local: Endpoint::Unix,
                })
            }
        }
    }
}

/// An accepted socket, before any handshake.
pub(crate) enum AcceptedStream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl AcceptedStream {
    /// Writes `line` if the socket takes it at once, without waiting: to
    /// refuse a client when full, at no cost to the clients being served.
    pub(crate) fn refuse(self, line: &[u8]) {
        let _ = match &self {
            AcceptedStream::Tcp(s) => s.try_write(line),
            AcceptedStream::Unix(s) => s.try_write(line),
        };
    }

    /// The TCP socket's descriptor, if it is one (see
    /// [`crate::Connection::with_tcp_socket`]).
    pub(crate) fn tcp_socket(&self) -> Option<std::os::fd::RawFd> {
        match self {
            AcceptedStream::Tcp(s) => Some(std::os::fd::AsRawFd::as_raw_fd(s)),
            AcceptedStream::Unix(_) => None,
        }
    }

    pub(crate) fn into_transport(self) -> Box<dyn Transport> {
        match self {
            AcceptedStream::Tcp(s) => Box::new(s),
            AcceptedStream::Unix(s) => Box::new(s),
        }
    }
}

/// One accepted client, before any handshake.
pub(crate) struct Accepted {
    pub(crate) stream: AcceptedStream,
    pub(crate) peer: Endpoint,
    pub(crate) local: Endpoint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_specs_round_trip() {
        let spec: ListenerSpec = "5:tls:imaps".parse().expect("parses");
        assert_eq!(spec.fd, 5);
        assert_eq!(spec.kind, ListenerKind::ImplicitTls);
        assert_eq!(spec.name, "imaps");
        assert_eq!(spec.to_string(), "5:tls:imaps");
        for bad in [
            "",
            "5",
            "5:tls",
            "5:tls:",
            "x:tls:a",
            "-1:plain:a",
            "5:ssl:a",
        ] {
            assert!(bad.parse::<ListenerSpec>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn adopt_checks_family_and_listening() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let err = Listener::adopt(OwnedFd::from(tcp), ListenerKind::Unix, "x").expect_err("family");
        assert!(err.to_string().contains("family"), "{err}");

        let tcp = std::net::TcpListener::bind("[::1]:0")
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let l = Listener::adopt(OwnedFd::from(tcp), ListenerKind::ImplicitTls, "imaps")
            .expect("adopts");
        assert_eq!(l.kind(), ListenerKind::ImplicitTls);
        assert!(l.local_addr().is_some());

        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("pair");
        let err = Listener::adopt(OwnedFd::from(a), ListenerKind::Unix, "lmtp")
            .expect_err("not listening");
        assert!(err.to_string().contains("not listening"), "{err}");
    }
}

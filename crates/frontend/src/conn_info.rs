//! What a session may know about its connection: who is at the other end,
//! which listener it came through, and whether it is encrypted. A session
//! decides from these facts what to offer (STARTTLS, AUTH= before TLS,
//! SCRAM-SHA-256-PLUS); the frontend decides nothing for it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::listen::ListenerKind;

/// One end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address (IPv4 or IPv6).
    Tcp(SocketAddr),
    /// A UNIX stream socket (the peer of one is unnamed).
    Unix,
}

impl Endpoint {
    /// The IP address, for TCP.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Tcp(a) => Some(a.ip()),
            Endpoint::Unix => None,
        }
    }

    /// Whether the traffic never leaves this host: a loopback address
    /// (127.0.0.0/8, ::1, or ::ffff:127.x.y.z) or a UNIX socket.
    pub fn is_local(&self) -> bool {
        match self {
            Endpoint::Tcp(a) => is_loopback(a.ip()),
            Endpoint::Unix => true,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "{a}"),
            Endpoint::Unix => f.write_str("unix"),
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        // A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback(),
            None => v6.is_loopback(),
        },
    }
}

/// When a client may send a password in the clear (LOGIN, AUTHENTICATE
/// PLAIN): Dovecot's `disable_plaintext_auth`, with loopback as the
/// default exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlaintextLogins {
    /// Over TLS, or from a loopback address or a UNIX socket.
    #[default]
    Loopback,
    /// Over TLS only.
    Never,
    /// Always, even in the clear over the network.
    Always,
}

/// The TLS protocol version a connection negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// What TLS negotiated on a connection.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The server name the client asked for (SNI), lower-cased.
    pub server_name: Option<String>,
    /// The protocol version.
    pub version: TlsVersion,
    /// The cipher suite, as rustls names it.
    pub cipher_suite: String,
    /// RFC 9266 `tls-exporter` channel binding: 32 bytes exported with the
    /// label "EXPORTER-Channel-Binding" and no context. Only on TLS 1.3:
    /// on TLS 1.2 it is defined only with the extended master secret,
    /// which rustls does not report per connection.
    pub channel_binding: Option<[u8; 32]>,
}

impl fmt::Debug for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The channel binding is a secret of the session.
        f.debug_struct("TlsInfo")
            .field("server_name", &self.server_name)
            .field("version", &self.version)
            .field("cipher_suite", &self.cipher_suite)
            .field("channel_binding", &self.channel_binding.is_some())
            .finish()
    }
}

/// The facts about one client connection, kept current across STARTTLS
/// and COMPRESS.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: Endpoint,
    /// The address the client connected to.
    pub local: Endpoint,
    /// The name of the listener it came through (as configured).
    pub listener: Arc<str>,
    /// What kind of listener that is.
    pub kind: ListenerKind,
    /// Whether the peer is on this host (loopback address or UNIX socket).
    pub loopback: bool,
    /// TLS, once active (from the start on an implicit-TLS listener,
    /// after STARTTLS on a plain one).
    pub tls: Option<TlsInfo>,
    /// Whether COMPRESS=DEFLATE is active.
    pub compressed: bool,
    /// The configured rule for plaintext logins.
    pub plaintext_logins: PlaintextLogins,
}

impl ConnInfo {
    /// Whether a password may be sent now in a plaintext mechanism: by the
    /// configured rule, given TLS and where the peer is. A session that
    /// gets `false` announces LOGINDISABLED and no AUTH= (RFC 9051 §6.2.3).
    pub fn plaintext_login_allowed(&self) -> bool {
        match self.plaintext_logins {
            PlaintextLogins::Always => true,
            PlaintextLogins::Never => self.tls.is_some(),
            PlaintextLogins::Loopback => self.tls.is_some() || self.loopback,
        }
    }

    /// Whether STARTTLS can be offered: a plain TCP listener whose
    /// connection is not yet encrypted or compressed.
    pub fn can_start_tls(&self) -> bool {
        self.kind == ListenerKind::Plain && self.tls.is_none() && !self.compressed
    }

    /// The RFC 9266 `tls-exporter` channel binding, when there is one.
    pub fn channel_binding(&self) -> Option<&[u8; 32]> {
        self.tls.as_ref().and_then(|t| t.channel_binding.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(peer: &str, tls: bool, rule: PlaintextLogins) -> ConnInfo {
        let peer = Endpoint::Tcp(peer.parse().expect("address"));
        ConnInfo {
            loopback: peer.is_local(),
            peer,
            local: Endpoint::Unix,
            listener: "imap".into(),
            kind: ListenerKind::Plain,
            tls: tls.then(|| TlsInfo {
                server_name: None,
                version: TlsVersion::Tls13,
                cipher_suite: String::new(),
                channel_binding: None,
            }),
            compressed: false,
            plaintext_logins: rule,
        }
    }

    #[test]
    fn loopback_covers_v4_range_v6_and_mapped_addresses() {
        for a in [
            "127.0.0.1:1",
            "127.0.0.2:1",
            "[::1]:1",
            "[::ffff:127.0.0.9]:1",
        ] {
            assert!(Endpoint::Tcp(a.parse().expect("address")).is_local(), "{a}");
        }
        for a in ["192.0.2.1:1", "[2001:db8::1]:1", "[::ffff:192.0.2.1]:1"] {
            assert!(
                !Endpoint::Tcp(a.parse().expect("address")).is_local(),
                "{a}"
            );
        }
        assert!(Endpoint::Unix.is_local());
    }

    #[test]
    fn plaintext_login_rules() {
        use PlaintextLogins::*;
        assert!(info("127.0.0.2:5", false, Loopback).plaintext_login_allowed());
        assert!(!info("192.0.2.1:5", false, Loopback).plaintext_login_allowed());
        assert!(info("192.0.2.1:5", true, Loopback).plaintext_login_allowed());
        assert!(!info("127.0.0.2:5", false, Never).plaintext_login_allowed());
        assert!(info("127.0.0.2:5", true, Never).plaintext_login_allowed());
        assert!(info("192.0.2.1:5", false, Always).plaintext_login_allowed());
    }
}

//! What a session knows about its connection.

/// Facts about one client connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnFacts {
    /// The client's address, for auth's penalty and the logs.
    pub(crate) peer: String,
    /// The client connects from a loopback address.
    pub(crate) loopback: bool,
    /// The connection is TLS (implicit or after STARTTLS).
    pub(crate) tls: bool,
    /// STARTTLS may be offered (a plain listener with TLS configured).
    pub(crate) starttls_available: bool,
    /// The RFC 9266 tls-exporter value, for SCRAM-SHA-256-PLUS.
    pub(crate) tls_exporter: Option<Vec<u8>>,
}

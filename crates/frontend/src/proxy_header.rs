//! The PROXY protocol v2 header (HAProxy's proxy-protocol.txt §2.2), read
//! on listeners behind a load balancer: the balancer sends it first on
//! every connection, naming the client it accepted. Exactly the header is
//! read, byte for byte, so what follows it (a TLS ClientHello, say) stays
//! in the socket for the next layer.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::v2::{Addresses, Command, Header};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The fixed part: 12-byte signature, version/command, family/protocol,
/// 2-byte length of what follows.
const FIXED: usize = 16;

/// The longest address-and-TLV part accepted: addresses take at most 216
/// bytes (UNIX), and a balancer's TLVs (ALPN, SNI, TLS facts) a few
/// hundred more.
const MAX_PAYLOAD: usize = 4096;

/// Why no header could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyHeaderError {
    /// Nothing, or only part of it, came in time.
    #[error("no PROXY v2 header within {0:?}")]
    Timeout(Duration),
    /// The socket failed or closed first.
    #[error("reading the PROXY v2 header: {0}")]
    Io(#[from] std::io::Error),
    /// What came is not a valid v2 header.
    #[error("invalid PROXY v2 header: {0}")]
    Invalid(String),
}

/// Reads the header at the start of `stream`: the client's address, or
/// `None` when the balancer speaks for itself (a LOCAL health check, or a
/// family without an IP address), in which case the connection's own peer
/// stands.
pub(crate) async fn read_client_address(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    match tokio::time::timeout(timeout, read_header(stream)).await {
        Ok(result) => result,
        Err(_) => Err(ProxyHeaderError::Timeout(timeout)),
    }
}

async fn read_header(stream: &mut TcpStream) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let mut header = vec![0u8; FIXED];
    stream.read_exact(&mut header).await?;
    let payload = usize::from(u16::from_be_bytes([header[14], header[15]]));
    if payload > MAX_PAYLOAD {
        return Err(ProxyHeaderError::Invalid(format!(
            "{payload} bytes of addresses and TLVs (at most {MAX_PAYLOAD})"
        )));
    }
    header.resize(FIXED + payload, 0);
    stream.read_exact(&mut header[FIXED..]).await?;
    client_address(&header)
}

/// The client's address in a whole header.
fn client_address(bytes: &[u8]) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let header = Header::try_from(bytes).map_err(|e| ProxyHeaderError::Invalid(e.to_string()))?;
    if header.command == Command::Local {
        return Ok(None);
    }
    Ok(match header.addresses {
        Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        Addresses::Unspecified | Addresses::Unix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use ppp::v2::{Builder, Protocol, Version};

    use super::*;

    fn proxy(source: &str, destination: &str) -> Vec<u8> {
        let addresses: Addresses = (
            source.parse::<SocketAddr>().unwrap(),
            destination.parse::<SocketAddr>().unwrap(),
        )
            .into();
        Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses)
            .build()
            .unwrap()
    }

    #[test]
    fn the_source_of_a_proxied_connection_is_the_client() {
        let header = proxy("203.0.113.7:40000", "192.0.2.1:993");
        assert_eq!(
            client_address(&header).unwrap(),
            Some("203.0.113.7:40000".parse().unwrap())
        );
        let header = proxy("[2001:db8::7]:40000", "[2001:db8::1]:993");
        assert_eq!(
            client_address(&header).unwrap(),
            Some("[2001:db8::7]:40000".parse().unwrap())
        );
    }

    #[test]
    fn a_local_header_names_no_client_and_garbage_is_invalid() {
        let local = Builder::with_addresses(
            Version::Two | Command::Local,
            Protocol::Unspecified,
            Addresses::Unspecified,
        )
        .build()
        .unwrap();
        assert_eq!(client_address(&local).unwrap(), None);
        assert!(client_address(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err());
        // A version 1 (text) header is not what the listener expects.
        assert!(client_address(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 993\r\n").is_err());
    }

    #[tokio::test]
    async fn exactly_the_header_is_read_from_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut sent = proxy("203.0.113.7:40000", "192.0.2.1:993");
        sent.extend_from_slice(b"A1 CAPABILITY\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut client, &sent)
            .await
            .unwrap();
        let address = read_client_address(&mut server, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(address, Some("203.0.113.7:40000".parse().unwrap()));
        let mut rest = [0u8; 15];
        server.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"A1 CAPABILITY\r\n");
    }
}

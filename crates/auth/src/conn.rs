//! A connection handed over by the master, as the gRPC server sees it: the
//! socket plus a tag that every request on it carries (tonic puts
//! [`Connected::connect_info`] into the request extensions): its key, so
//! SASL exchanges are kept per connection and dropped when it closes, and
//! the role of the protocol process it serves, which the master stated
//! when it handed the connection over (the process cannot forge it), so
//! deliver tickets go to the lmtp role alone.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mailkeep_storage_rpc::coalesce::Coalesced;
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

use crate::chains::ReplyChains;
use crate::exchanges::{ConnectionKey, Exchanges};

/// The role of the protocol process a connection serves, as the master
/// said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRole {
    /// The lmtp process: may ask for deliver tickets.
    Lmtp,
    /// The auth-socket process (Dovecot's auth protocol for an MTA's SMTP
    /// AUTH): its logins only say yes or no, so they get no ticket.
    AuthSocket,
    /// Any other (imap, pop3, or a role this auth does not know).
    Other,
}

impl PeerRole {
    /// The role the master named in its NewConnection message.
    pub(crate) fn from_master(role: &str) -> PeerRole {
        match role {
            "lmtp" => PeerRole::Lmtp,
            "auth-socket" => PeerRole::AuthSocket,
            _ => PeerRole::Other,
        }
    }
}

/// What every request on a connection carries: which connection, and
/// which role it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionTag {
    /// Keys the connection's SASL exchanges.
    pub(crate) key: ConnectionKey,
    /// The role of the process at the other end.
    pub(crate) role: PeerRole,
}

/// A protocol process's connection to auth. Its writes are gathered per
/// turn of the HTTP/2 connection, so that an answer and its trailers reach
/// the protocol process in one write (see `Coalesced`): a login's answer
/// is bigger than what h2 sends with its trailers.
#[derive(Debug)]
pub(crate) struct AuthConnection {
    stream: Coalesced<QuietStream>,
    tag: ConnectionTag,
    exchanges: Arc<Exchanges>,
    chains: Arc<ReplyChains>,
}

impl AuthConnection {
    /// Wraps `stream`, which will be known by `tag`; its open exchanges
    /// live in `exchanges` and its reply chain in `chains` until it
    /// closes.
    pub(crate) fn new(
        stream: QuietStream,
        tag: ConnectionTag,
        exchanges: Arc<Exchanges>,
        chains: Arc<ReplyChains>,
    ) -> Self {
        AuthConnection {
            stream: Coalesced::new(stream),
            tag,
            exchanges,
            chains,
        }
    }
}

impl Drop for AuthConnection {
    fn drop(&mut self) {
        self.exchanges.forget_connection(self.tag.key);
        self.chains.forget_connection(self.tag.key);
    }
}

impl Connected for AuthConnection {
    type ConnectInfo = ConnectionTag;

    fn connect_info(&self) -> ConnectionTag {
        self.tag
    }
}

impl AsyncRead for AuthConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for AuthConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::{ChannelBinding, Exchange, Mechanism};

    #[tokio::test]
    async fn closing_a_connection_forgets_its_exchanges() {
        let exchanges = Arc::new(Exchanges::default());
        let (a, _peer) = QuietStream::pair().unwrap();
        let (b, _peer_b) = QuietStream::pair().unwrap();
        let tag = |key| ConnectionTag {
            key: ConnectionKey(key),
            role: PeerRole::Other,
        };
        let chains = Arc::new(ReplyChains::default());
        let conn_a = AuthConnection::new(a, tag(1), Arc::clone(&exchanges), Arc::clone(&chains));
        let conn_b = AuthConnection::new(b, tag(2), Arc::clone(&exchanges), Arc::clone(&chains));
        assert_eq!(conn_a.connect_info(), tag(1));
        exchanges
            .put(
                ConnectionKey(1),
                5,
                Exchange::new(Mechanism::Login, ChannelBinding::None),
            )
            .unwrap();
        exchanges
            .put(
                ConnectionKey(2),
                5,
                Exchange::new(Mechanism::Login, ChannelBinding::None),
            )
            .unwrap();
        drop(conn_a);
        assert!(exchanges.take(ConnectionKey(1), 5).is_none());
        assert!(exchanges.take(ConnectionKey(2), 5).is_some());
        drop(conn_b);
    }
}

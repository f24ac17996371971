//! Storage connections that close when no session uses them any more, so
//! that an idle storage process sees its last client go and can linger and
//! exit (DESIGN §1).

use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;

use crate::socket_channel::{CallBody, SocketChannel};

/// The one owner of a connection's channel: when the last [`LeasedChannel`]
/// holding it is dropped, the channel and its socket are closed.
pub(crate) struct Lease {
    pub(crate) channel: SocketChannel,
}

/// A gRPC channel over a storage connection that stays open only while a
/// session holds a client made from it. Use it wherever a `Channel` would
/// go: `StorageClient<LeasedChannel>`.
#[derive(Clone)]
pub struct LeasedChannel {
    channel: SocketChannel,
    _lease: Arc<Lease>,
}

impl LeasedChannel {
    /// Wraps a channel that nobody else leases (for tests and one-off
    /// clients): it closes when the last clone is dropped.
    pub fn new(channel: SocketChannel) -> LeasedChannel {
        LeasedChannel::from_lease(Arc::new(Lease { channel }))
    }

    /// How many [`LeasedChannel`]s hold this one's connection now (this
    /// one included): a holder that keeps a channel only while others use
    /// it (`KeepWarm`) compares it with its own holds.
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self._lease)
    }

    /// Whether the connection has ended (see [`SocketChannel::is_ended`]).
    pub fn is_ended(&self) -> bool {
        self.channel.is_ended()
    }

    /// What tells this channel's connection from others: equal for every
    /// channel over the same connection (one serves many owners).
    pub fn connection_id(&self) -> usize {
        Arc::as_ptr(&self._lease) as usize
    }

    pub(crate) fn from_lease(lease: Arc<Lease>) -> LeasedChannel {
        LeasedChannel {
            channel: lease.channel.clone(),
            _lease: lease,
        }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for LeasedChannel {
    type Response = http::Response<CallBody>;
    type Error = h2::Error;
    type Future = <SocketChannel as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<http::Request<tonic::body::Body>>::poll_ready(&mut self.channel, cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        tower::Service::call(&mut self.channel, request)
    }
}

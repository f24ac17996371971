//! Storage connections that close when no session uses them any more, so
//! that an idle storage process sees its last client go and can linger and
//! exit (DESIGN §1).

use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::transport::Channel;

/// The one owner of a connection's channel: when the last [`LeasedChannel`]
/// holding it is dropped, the channel and its socket are closed.
pub(crate) struct Lease {
    pub(crate) channel: Channel,
}

/// A gRPC channel over a storage connection that stays open only while a
/// session holds a client made from it. Use it wherever a `Channel` would
/// go: `StorageClient<LeasedChannel>`.
#[derive(Clone)]
pub struct LeasedChannel {
    channel: Channel,
    _lease: Arc<Lease>,
}

impl LeasedChannel {
    /// Wraps a channel that nobody else leases (for tests and one-off
    /// clients): it closes when the last clone is dropped.
    pub fn new(channel: Channel) -> LeasedChannel {
        LeasedChannel::from_lease(Arc::new(Lease { channel }))
    }

    pub(crate) fn from_lease(lease: Arc<Lease>) -> LeasedChannel {
        LeasedChannel {
            channel: lease.channel.clone(),
            _lease: lease,
        }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for LeasedChannel {
    type Response = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.channel, cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        tower::Service::call(&mut self.channel, request)
    }
}

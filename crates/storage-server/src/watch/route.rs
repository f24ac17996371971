//! The Watch service's route on the storage process's gRPC server: what
//! the generated `WatchServer` does, but with an encoder that starts each
//! watcher's response buffer small. tonic's default allocates 8 KiB per
//! streaming response for its whole life; a storage process keeps one
//! Watch stream per selected mailbox of every session (thousands, nearly
//! all silent), whose events are a few dozen bytes, so the default alone
//! would cost more than everything else an idle watcher holds.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::watch_server::{SERVICE_NAME, Watch};
use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::NamedService;

use super::service::WatchService;

/// Bytes a watcher's response buffer starts with (it grows when an event
/// needs more).
const ENCODE_BUFFER: usize = 256;

/// tonic's default: encoded events are sent once this many are buffered
/// (or the stream has nothing more ready).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// The route of the Watch service.
#[derive(Clone)]
pub(crate) struct WatchRoute {
    service: Arc<WatchService>,
}

impl WatchRoute {
    /// The route serving `service`.
    pub(crate) fn new(service: WatchService) -> WatchRoute {
        WatchRoute {
            service: Arc::new(service),
        }
    }
}

impl NamedService for WatchRoute {
    const NAME: &'static str = SERVICE_NAME;
}

/// Whether `path` names the Watch method (`/<service>/Watch`).
fn is_watch(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(SERVICE_NAME))
        .is_some_and(|method| method == "/Watch")
}

impl<B> tower::Service<http::Request<B>> for WatchRoute
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if !is_watch(req.uri().path()) {
            return Box::pin(async { Ok(unimplemented()) });
        }
        let service = Arc::clone(&self.service);
        Box::pin(async move {
            let method = tower::service_fn(move |request: tonic::Request<pb::WatchRequest>| {
                let service = Arc::clone(&service);
                async move { service.watch(request).await }
            });
            let mut grpc = tonic::server::Grpc::new(WatchCodec);
            Ok(grpc.server_streaming(method, req).await)
        })
    }
}

/// The answer to a method this route does not have, as generated servers
/// give it.
fn unimplemented() -> http::Response<tonic::body::Body> {
    let mut response = http::Response::new(tonic::body::Body::default());
    let headers = response.headers_mut();
    headers.insert(
        Status::GRPC_STATUS,
        (tonic::Code::Unimplemented as i32).into(),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        tonic::metadata::GRPC_CONTENT_TYPE,
    );
    response
}

/// Protobuf encoding of events and decoding of the request, with a small
/// encode buffer.
#[derive(Debug, Clone, Copy, Default)]
struct WatchCodec;

impl Codec for WatchCodec {
    type Encode = pb::MailboxEvent;
    type Decode = pb::WatchRequest;
    type Encoder = EventEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> EventEncoder {
        EventEncoder
    }

    fn decoder(&mut self) -> RequestDecoder {
        RequestDecoder
    }
}

/// Encodes events into a buffer that starts at [`ENCODE_BUFFER`] bytes.
#[derive(Debug, Clone, Copy, Default)]
struct EventEncoder;

impl Encoder for EventEncoder {
    type Item = pb::MailboxEvent;
    type Error = Status;

    fn encode(&mut self, item: pb::MailboxEvent, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // The buffer grows as needed, so encoding cannot run out of room.
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding a change event: {e}")))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(ENCODE_BUFFER, YIELD_THRESHOLD)
    }
}

/// Decodes the Watch request.
#[derive(Debug, Clone, Copy, Default)]
struct RequestDecoder;

impl Decoder for RequestDecoder {
    type Item = pb::WatchRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<pb::WatchRequest>, Status> {
        pb::WatchRequest::decode(buf)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding a Watch request: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_watch_method_is_routed() {
        assert!(is_watch(&format!("/{SERVICE_NAME}/Watch")));
        assert!(!is_watch(&format!("/{SERVICE_NAME}/Other")));
        assert!(!is_watch("/mailkeep.storage.v1.Storage/Watch"));
        assert!(!is_watch("/Watch"));
    }
}

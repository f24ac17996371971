//! The Watch service's route on the storage process's gRPC server: what
//! the generated `WatchServer` does, but with a codec that starts each
//! watcher's buffers small (`mailkeep_storage_rpc::small_codec`): tonic's
//! default allocates 8 KiB per streaming response for its whole life, and
//! a storage process keeps one Watch stream per selected mailbox of every
//! session that used its selection (thousands, nearly all silent), so the
//! default alone would cost more than everything else an idle watcher
//! holds.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use mailkeep_storage_rpc::small_codec::SmallCodec;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::watch_server::{SERVICE_NAME, Watch};
use tonic::Status;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::NamedService;

use super::service::WatchService;

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
            let mut grpc = tonic::server::Grpc::new(
                SmallCodec::<pb::MailboxEvent, pb::WatchRequest>::default(),
            );
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

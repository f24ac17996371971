//! Calls in flight: how long the oldest running call has been running. A
//! storage process whose oldest call is older than the busy threshold is
//! "busy" (a long SEARCH, a big FETCH); it tells the broker, which then
//! sends new sessions of its owners to another process (DESIGN §1).
//! Change subscriptions (Watch) are not counted: they wait, not work.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::codegen::{Body, http};

/// The calls running now, by a sequence number, with their start times.
#[derive(Default)]
pub(crate) struct InFlight {
    next: AtomicU64,
    running: Mutex<BTreeMap<u64, Instant>>,
}

impl InFlight {
    /// How many calls run now, and whether the oldest has run longer than
    /// `threshold`.
    pub(crate) fn state(&self, threshold: Duration) -> (u32, bool) {
        let running = match self.running.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let count = u32::try_from(running.len()).unwrap_or(u32::MAX);
        // Sequence numbers grow with time, so the first entry is the oldest.
        let busy = running
            .values()
            .next()
            .is_some_and(|start| start.elapsed() >= threshold);
        (count, busy)
    }

    fn begin(self: &Arc<Self>) -> CallGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.running.lock() {
            r.insert(id, Instant::now());
        }
        CallGuard {
            id,
            calls: Arc::clone(self),
        }
    }
}

/// Removes a call from the running set when the call, including its
/// streamed response, is over.
struct CallGuard {
    id: u64,
    calls: Arc<InFlight>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        match self.calls.running.lock() {
            Ok(mut r) => {
                r.remove(&self.id);
            }
            Err(poisoned) => {
                poisoned.into_inner().remove(&self.id);
            }
        }
    }
}

/// A tower layer that counts every gRPC call of the server as in flight
/// from its start until its response body is finished or dropped.
#[derive(Clone)]
pub(crate) struct InFlightLayer {
    pub(crate) calls: Arc<InFlight>,
}

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = InFlightService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightService {
            inner,
            calls: Arc::clone(&self.calls),
        }
    }
}

/// The service [`InFlightLayer`] makes.
#[derive(Clone)]
pub(crate) struct InFlightService<S> {
    inner: S,
    calls: Arc<InFlight>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for InFlightService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Body + Unpin + Send + 'static,
{
    type Response = http::Response<CountedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // A change subscription lives as long as its session's selection:
        // it is waiting, not work, and must not make the process look busy.
        let guard = (!is_subscription(request.uri().path())).then(|| self.calls.begin());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| CountedBody {
                inner: body,
                _guard: guard,
            }))
        })
    }
}

/// The paths of calls that stream events for as long as a client listens.
/// The POP3 session lock is one too: it is held, not worked on.
const SUBSCRIPTIONS: &[&str] = &[
    "/mailkeep.storage.v1.Watch/",
    "/mailkeep.storage.v1.Maildrop/Lock",
];

/// Whether the call at `path` is a subscription rather than work.
fn is_subscription(path: &str) -> bool {
    SUBSCRIPTIONS.iter().any(|prefix| path.starts_with(prefix))
}

/// A response body that keeps its call counted until it is done.
pub(crate) struct CountedBody<B> {
    inner: B,
    _guard: Option<CallGuard>,
}

impl<B: Body + Unpin> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_streams_are_subscriptions_and_fetches_are_work() {
        assert!(is_subscription("/mailkeep.storage.v1.Watch/Watch"));
        assert!(!is_subscription("/mailkeep.storage.v1.Content/Fetch"));
        assert!(!is_subscription("/mailkeep.storage.v1.Search/Search"));
        assert!(is_subscription("/mailkeep.storage.v1.Maildrop/Lock"));
        assert!(!is_subscription("/mailkeep.storage.v1.Maildrop/Commit"));
    }
}

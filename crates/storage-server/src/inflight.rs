//! Calls in flight: how long the oldest running call has been running. A
//! storage process whose oldest call is older than the busy threshold is
//! "busy" (a long SEARCH, a big FETCH); it tells the broker, which then
//! sends new sessions of its owners to another process (DESIGN §1).
//! Change subscriptions (Watch) are not counted: they wait, not work.
//!
//! A long call alone does not make the process busy while other calls
//! keep finishing: they are not held up by it. When many clients call at
//! once (thousands logging in after a restart), every call waits its turn
//! for the cores and the disk, the oldest past the threshold too, and a
//! second process on the same cores would only split that load while
//! keeping a second heap for as long as its sessions last (3-4 KB per
//! idle connection in `idle_connections`). Busy is a long call and no
//! call finished for as long: a long SEARCH or FETCH with nothing else
//! asked, or long calls holding the store threads (streamed FETCHes
//! stalled on clients that do not read do).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::codegen::{Body, http};

/// The calls running now, and when the last one finished.
#[derive(Default)]
pub(crate) struct InFlight {
    next: AtomicU64,
    running: Mutex<Running>,
}

/// What [`InFlight`] keeps under its lock.
#[derive(Default)]
struct Running {
    /// The calls running, by a sequence number, with their start times.
    calls: BTreeMap<u64, Instant>,
    /// When the last call finished (none yet: `None`).
    last_finish: Option<Instant>,
}

impl InFlight {
    /// How many calls run now, and whether the process is busy: a call has
    /// run longer than `threshold` and none has finished for as long.
    pub(crate) fn state(&self, threshold: Duration) -> (u32, bool) {
        self.state_at(threshold, Instant::now())
    }

    /// [`InFlight::state`] as of `now`.
    fn state_at(&self, threshold: Duration, now: Instant) -> (u32, bool) {
        let running = self.lock();
        let count = u32::try_from(running.calls.len()).unwrap_or(u32::MAX);
        let past = |at: &Instant| now.saturating_duration_since(*at) >= threshold;
        // Sequence numbers grow with time, so the first call is the oldest.
        let long = running.calls.values().next().is_some_and(past);
        let stalled = running.last_finish.as_ref().is_none_or(past);
        (count, long && stalled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        match self.running.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn begin(self: &Arc<Self>) -> CallGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().calls.insert(id, Instant::now());
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
        let mut running = self.calls.lock();
        running.calls.remove(&self.id);
        running.last_finish = Some(Instant::now());
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
    fn the_state_sees_long_calls_and_when_one_last_finished() {
        let calls = Arc::new(InFlight::default());
        let hour = Duration::from_secs(3600);
        let first = calls.begin();
        let now = Instant::now();
        assert_eq!(calls.state_at(hour, now), (1, false));
        assert_eq!(calls.state_at(hour, now + 2 * hour), (1, true));
        let crowd: Vec<CallGuard> = (0..16).map(|_| calls.begin()).collect();
        let now = Instant::now();
        let later = now + 2 * hour;
        // Calls in which none has finished yet are held up.
        assert_eq!(calls.state_at(hour, later), (17, true));
        // One finished half an hour before: they are moving.
        calls.lock().last_finish = Some(later - hour / 2);
        assert_eq!(calls.state_at(hour, later), (17, false));
        // The last finished two hours before: held up again.
        calls.lock().last_finish = Some(now);
        assert_eq!(calls.state_at(hour, later), (17, true));
        drop((first, crowd));
        let (count, busy) = calls.state_at(hour, later);
        assert_eq!((count, busy), (0, false));
        assert!(calls.lock().last_finish.is_some_and(|f| f >= now));
    }

    #[test]
    fn watch_streams_are_subscriptions_and_fetches_are_work() {
        assert!(is_subscription("/mailkeep.storage.v1.Watch/Watch"));
        assert!(!is_subscription("/mailkeep.storage.v1.Content/Fetch"));
        assert!(!is_subscription("/mailkeep.storage.v1.Search/Search"));
        assert!(is_subscription("/mailkeep.storage.v1.Maildrop/Lock"));
        assert!(!is_subscription("/mailkeep.storage.v1.Maildrop/Commit"));
    }
}

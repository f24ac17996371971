//! Wall-clock time, injectable: ticket lifetimes are Unix seconds, and
//! tests of renewal move the clock instead of waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current Unix time in seconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        }))
    }

    /// A clock that reads `time` (tests move it).
    pub fn manual(time: Arc<AtomicI64>) -> Clock {
        Clock(Arc::new(move || time.load(Ordering::Relaxed)))
    }

    /// Now, in seconds since the epoch.
    pub fn now_unix(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_unix())
    }
}

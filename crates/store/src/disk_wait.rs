//! How many threads of this process wait now for an append's commit to
//! reach the disk (the journal's WAL sync, see `crate::journal`). A
//! storage process lets short reads run on its async thread only while no
//! other store work uses a core; a thread that waits for the disk uses
//! none, so it may count it as idle ([`threads_waiting_for_disk`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads inside a [`DiskWait`] now.
static WAITING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is counted already (waits do not nest, but a
    /// nested one must not count the thread twice).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// How many threads of this process wait for the disk now.
pub fn threads_waiting_for_disk() -> usize {
    WAITING.load(Ordering::Relaxed)
}

/// The calling thread counted as waiting for the disk while this lives.
pub(crate) struct DiskWait {
    counted: bool,
}

impl DiskWait {
    /// Counts the calling thread until the value drops.
    pub(crate) fn start() -> DiskWait {
        let counted = !COUNTED.with(|c| c.replace(true));
        if counted {
            WAITING.fetch_add(1, Ordering::Relaxed);
        }
        DiskWait { counted }
    }
}

impl Drop for DiskWait {
    fn drop(&mut self) {
        if self.counted {
            COUNTED.with(|c| c.set(false));
            WAITING.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_counts_once_while_it_waits() {
        // Other tests' threads may wait meanwhile, so the shared count is
        // only checked to include this thread; which wait counted it, and
        // that the inner one did not count it again, is checked exactly.
        {
            let outer = DiskWait::start();
            let inner = DiskWait::start();
            assert!(outer.counted, "the first wait counts the thread");
            assert!(!inner.counted, "a nested wait does not count it again");
            assert!(threads_waiting_for_disk() >= 1);
            assert!(COUNTED.with(Cell::get));
            drop(inner);
            assert!(
                COUNTED.with(Cell::get),
                "still counted while the outer wait lives"
            );
        }
        assert!(!COUNTED.with(Cell::get));
    }
}

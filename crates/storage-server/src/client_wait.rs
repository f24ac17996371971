//! Store threads that wait for a client to take what was sent (a streamed
//! Fetch or Retrieve whose client is slower than the file): counted, so
//! that the process does not take them for work. Settled reads run on the
//! async thread only while store work leaves a core free (see
//! `Gate::run_settled`); a thread parked in a full channel uses none, and
//! a few slow downloads must not send every session's short reads the long
//! way.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Threads of this process inside a [`send_waiting`] that waits now.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// How many store threads wait for a client now.
pub(crate) fn threads_waiting_for_clients() -> usize {
    WAITING.load(Ordering::Relaxed)
}

/// Sends `item` from a store thread, waiting while the channel is full
/// (counted meanwhile); `false` when the receiver is gone.
pub(crate) fn send_waiting<T>(tx: &mpsc::Sender<T>, item: T) -> bool {
    match tx.try_send(item) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(item)) => {
            let _waiting = Waiting::start();
            tx.blocking_send(item).is_ok()
        }
    }
}

/// The calling thread counted as waiting while this lives.
struct Waiting;

impl Waiting {
    fn start() -> Waiting {
        WAITING.fetch_add(1, Ordering::Relaxed);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_counts_while_the_client_is_behind() {
        let (tx, mut rx) = mpsc::channel(1);
        assert!(send_waiting(&tx, 1), "room: sent at once");
        // Other tests' threads may wait meanwhile: the count is checked to
        // include this test's thread, and that thread ends uncounted.
        let (started, waiting_now) = std::sync::mpsc::channel();
        let sender = std::thread::spawn(move || {
            let _ = started.send(());
            send_waiting(&tx, 2)
        });
        waiting_now.recv().expect("the sender started");
        while threads_waiting_for_clients() == 0 {
            std::thread::yield_now();
        }
        assert_eq!(rx.blocking_recv(), Some(1));
        assert!(
            sender.join().expect("the sender"),
            "sent once there was room"
        );
        assert_eq!(rx.blocking_recv(), Some(2));
        drop(rx);
        let (tx, rx) = mpsc::channel::<u8>(1);
        drop(rx);
        assert!(!send_waiting(&tx, 3), "no receiver: not sent");
    }
}

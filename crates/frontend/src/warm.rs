//! Storage connections kept open for a while after their last session
//! ended. A process holds its connection to a storage process only while
//! some session uses it (the broker's leases are weak), so a POP3 poller,
//! an IMAP client that logs in per check or a webmail opening short
//! session after short session paid, each time, a new socket pair from the
//! broker, a new HTTP/2 connection, and a storage process accepting it.
//! [`KeepWarm`] wraps a [`Connector`] and holds the last channel it got for
//! each owner for a configured time after the last session let go of its
//! connection (`[storage] keep_warm_secs`); the broker then answers "reuse"
//! (DESIGN.md §3, step 4).
//!
//! Holding a channel keeps nothing else alive: tickets are checked on every
//! call, every session still asks the broker (which picks the process, and
//! may pick another when this one is busy), and a storage process that
//! exits closes it (the next attach gets a new one). A session's first
//! call may go out on the held channel while the broker is still being
//! asked ([`Connector::warm_storage`]); the rest use the broker's answer.
//! A held channel is dropped once its time is up (checked every tenth of
//! it, so at most that late), and the broker counts that time as part of
//! the storage process's linger time, so an idle storage process does not
//! stay longer for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::connector::{ConnectError, Connector};

/// A [`Connector`] that keeps each owner's storage channel open for a
/// while after its last use.
#[derive(Clone)]
pub struct KeepWarm<C> {
    inner: C,
    held: Held<LeasedChannel>,
}

impl<C: Connector> KeepWarm<C> {
    /// Wraps `inner`, keeping each owner's last channel open for
    /// `warm_for` after it was last handed out (zero: keeps nothing).
    /// Inside a Tokio runtime it also starts the task that drops channels
    /// whose time is up (it ends when the last clone goes).
    pub fn new(inner: C, warm_for: Duration) -> KeepWarm<C> {
        KeepWarm {
            inner,
            held: Held::new(warm_for),
        }
    }
}

impl<C: Connector> Connector for KeepWarm<C> {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        self.inner.auth().await
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        let channel = self.inner.storage(ticket, owner).await?;
        self.held.hold(owner, channel.clone());
        Ok(channel)
    }

    fn warm_storage(&self, owner: &str) -> Option<LeasedChannel> {
        self.held.get(owner)
    }

    async fn report_sessions(&self, sessions: u32) {
        self.inner.report_sessions(sessions).await;
    }

    async fn end_session(&self, ticket: &str) {
        self.inner.end_session(ticket).await;
    }

    async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, ConnectError> {
        self.inner.sharing_owners(ticket).await
    }
}

/// A value a [`Held`] keeps while others use it and for a while after:
/// it counts who holds it.
trait Shared {
    /// How many hold it now, the [`Held`]'s own holds included.
    fn holders(&self) -> usize;
    /// Equal for values that share what they hold (one storage
    /// connection serves many owners' channels).
    fn identity(&self) -> usize;
    /// Whether it is of no use any more (an ended connection): dropped at
    /// the next look, however recently used.
    fn ended(&self) -> bool;
}

impl Shared for LeasedChannel {
    fn holders(&self) -> usize {
        LeasedChannel::holders(self)
    }

    fn identity(&self) -> usize {
        self.connection_id()
    }

    fn ended(&self) -> bool {
        self.is_ended()
    }
}

/// One value per key, each kept while anyone else holds it and until
/// `warm_for` after nobody did any more.
struct Held<T> {
    holds: Arc<Holds<T>>,
    warm_for: Duration,
    /// Whether a drop task runs (none without a Tokio runtime, or with a
    /// zero time): without one nothing is held.
    dropping: bool,
}

impl<T> Clone for Held<T> {
    fn clone(&self) -> Self {
        Held {
            holds: Arc::clone(&self.holds),
            warm_for: self.warm_for,
            dropping: self.dropping,
        }
    }
}

/// A held value and when it is looked at next.
struct Hold<T> {
    value: T,
    /// When the drop task looks at it next.
    until: Instant,
    /// Whether someone else held it when it was last looked at.
    was_used: bool,
}

/// The values and their times, shared by every clone of a [`Held`]; the
/// drop task sees them through a weak reference.
struct Holds<T> {
    values: Mutex<HashMap<String, Hold<T>>>,
    /// Wakes the drop task: a value was put in when none was held, or the
    /// last [`Held`] went.
    wake: Arc<Notify>,
}

impl<T> Drop for Holds<T> {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl<T: Shared + Send + 'static> Held<T> {
    fn new(warm_for: Duration) -> Held<T> {
        let wake = Arc::new(Notify::new());
        let holds = Arc::new(Holds {
            values: Mutex::default(),
            wake: Arc::clone(&wake),
        });
        let mut dropping = false;
        if !warm_for.is_zero()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(drop_when_due(Arc::downgrade(&holds), wake, warm_for));
            dropping = true;
        }
        Held {
            holds,
            warm_for,
            dropping,
        }
    }

    /// Keeps `value` for `key` (instead of the one before) while others
    /// hold it and until `warm_for` after they let go.
    fn hold(&self, key: &str, value: T) {
        if !self.dropping {
            return;
        }
        let hold = Hold {
            value,
            until: Instant::now() + self.warm_for,
            was_used: false,
        };
        let (previous, alone) = {
            let mut values = lock(&self.holds.values);
            let previous = values.insert(key.to_owned(), hold);
            (previous, values.len() == 1)
        };
        // A new value is due after every other one: the drop task needs
        // waking only if it waits with nothing held.
        if alone {
            self.holds.wake.notify_one();
        }
        drop(previous);
    }

    /// The value held for `key`, unless it is of no use any more.
    fn get(&self, key: &str) -> Option<T>
    where
        T: Clone,
    {
        let values = lock(&self.holds.values);
        values
            .get(key)
            .filter(|hold| !hold.value.ended())
            .map(|hold| hold.value.clone())
    }
}

/// Looks at each value when its time is up: one still held by others is
/// looked at again a tick (a tenth of `warm_for`) later; one that others
/// let go of since the last look gets `warm_for` more; any other is
/// dropped (a held storage channel past its time would keep its process
/// from lingering out). Looks happen at most once a tick, so that many
/// owners' values cost one pass, not one each. Returns when the last
/// [`Held`] has gone.
async fn drop_when_due<T: Shared>(holds: Weak<Holds<T>>, wake: Arc<Notify>, warm_for: Duration) {
    let tick = (warm_for / 10).max(Duration::from_millis(1));
    loop {
        let (next, passed) = {
            let Some(holds) = holds.upgrade() else {
                return;
            };
            let now = Instant::now();
            let mut values = lock(&holds.values);
            let mut ours: HashMap<usize, usize> = HashMap::new();
            for hold in values.values() {
                *ours.entry(hold.value.identity()).or_default() += 1;
            }
            let mut due = Vec::new();
            for (key, hold) in values.iter_mut().filter(|(_, h)| h.until <= now) {
                let own = ours.get(&hold.value.identity()).copied().unwrap_or(0);
                if hold.value.ended() {
                    due.push(key.clone());
                } else if hold.value.holders() > own {
                    hold.until = now + tick;
                    hold.was_used = true;
                } else if hold.was_used {
                    hold.until = now + warm_for;
                    hold.was_used = false;
                } else {
                    due.push(key.clone());
                }
            }
            let dropped: Vec<_> = due.iter().filter_map(|key| values.remove(key)).collect();
            let next = values.values().map(|hold| hold.until).min();
            drop(values);
            drop(dropped);
            (next, now)
        };
        match next {
            Some(until) => {
                let until = until.max(passed + tick);
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

fn lock<T>(values: &Mutex<T>) -> MutexGuard<'_, T> {
    values.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Shared for Arc<()> {
        fn holders(&self) -> usize {
            Arc::strong_count(self)
        }

        fn identity(&self) -> usize {
            Arc::as_ptr(self) as usize
        }

        fn ended(&self) -> bool {
            false
        }
    }

    /// A source that only knows who shares with whom.
    #[derive(Clone)]
    struct Sharing;

    impl Connector for Sharing {
        async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
            Err(ConnectError::unavailable("no auth here"))
        }

        async fn storage(&self, _: &str, _: &str) -> Result<LeasedChannel, ConnectError> {
            Err(ConnectError::unavailable("no storage here"))
        }

        async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, ConnectError> {
            Ok(vec![format!("owner-for-{ticket}")])
        }
    }

    #[tokio::test]
    async fn the_sharing_owners_come_from_the_wrapped_source() {
        let warm = KeepWarm::new(Sharing, Duration::from_secs(5));
        assert_eq!(
            warm.sharing_owners("t").await.expect("owners"),
            vec!["owner-for-t".to_owned()]
        );
    }

    /// Puts a fresh value in for `key` and returns a weak reference that
    /// lives exactly as long as the hold.
    fn hold_new(held: &Held<Arc<()>>, key: &str) -> Weak<()> {
        let value = Arc::new(());
        let weak = Arc::downgrade(&value);
        held.hold(key, value);
        weak
    }

    /// Lets the runtime advance its paused clock to `at` (after the start),
    /// running every timer due before then.
    async fn until(start: Instant, at: Duration) {
        tokio::time::sleep_until(start + at).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_is_held_for_the_configured_time_and_dropped_then() {
        let start = Instant::now();
        let held = Held::new(Duration::from_secs(3));
        let value = hold_new(&held, "alice");
        until(start, Duration::from_millis(2_999)).await;
        assert!(value.upgrade().is_some(), "dropped before its time");
        until(start, Duration::from_millis(3_001)).await;
        assert!(value.upgrade().is_none(), "still held after its time");
    }

    #[tokio::test(start_paused = true)]
    async fn each_use_restarts_the_time_and_owners_have_their_own() {
        let start = Instant::now();
        let held = Held::new(Duration::from_secs(3));
        let alice = Arc::new(());
        let bob = hold_new(&held, "bob");
        held.hold("alice", Arc::clone(&alice));
        until(start, Duration::from_secs(2)).await;
        held.hold("alice", Arc::clone(&alice));
        let alice = {
            let weak = Arc::downgrade(&alice);
            drop(alice);
            weak
        };
        until(start, Duration::from_millis(3_001)).await;
        assert!(bob.upgrade().is_none(), "bob's value outlived its time");
        assert!(alice.upgrade().is_some(), "alice's second use was ignored");
        until(start, Duration::from_millis(5_001)).await;
        assert!(alice.upgrade().is_none(), "alice's value outlived its time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_in_use_is_held_until_its_time_after_the_last_user_let_go() {
        let start = Instant::now();
        let held = Held::new(Duration::from_secs(3));
        let session = Arc::new(());
        held.hold("alice", Arc::clone(&session));
        let value = Arc::downgrade(&session);
        // The session outlives the hold's time many times over.
        until(start, Duration::from_secs(20)).await;
        assert!(value.upgrade().is_some());
        drop(session);
        until(start, Duration::from_millis(22_900)).await;
        assert!(
            value.upgrade().is_some(),
            "dropped before its time after the last user let go"
        );
        // Looked at every tenth of the time: at most that late.
        until(start, Duration::from_millis(23_301)).await;
        assert!(
            value.upgrade().is_none(),
            "held too long after the last use"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn values_sharing_a_connection_count_only_others_as_users() {
        let start = Instant::now();
        let held = Held::new(Duration::from_secs(3));
        // Two owners' channels over one connection, and nobody else.
        let connection = Arc::new(());
        held.hold("alice", Arc::clone(&connection));
        held.hold("bob", Arc::clone(&connection));
        let value = Arc::downgrade(&connection);
        drop(connection);
        until(start, Duration::from_millis(3_001)).await;
        assert!(value.upgrade().is_none(), "the holds kept each other");
    }

    #[test]
    fn without_a_runtime_nothing_is_held() {
        let held = Held::new(Duration::from_secs(3));
        let value = hold_new(&held, "alice");
        assert!(value.upgrade().is_none(), "held with no task to drop it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_value_replaces_the_one_before() {
        let held = Held::new(Duration::from_secs(3));
        let first = hold_new(&held, "alice");
        let second = hold_new(&held, "alice");
        assert!(
            first.upgrade().is_none(),
            "the replaced value is still held"
        );
        assert!(second.upgrade().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_time_holds_nothing() {
        let held = Held::new(Duration::ZERO);
        let value = hold_new(&held, "alice");
        assert!(value.upgrade().is_none(), "held with a zero time");
    }

    #[tokio::test(start_paused = true)]
    async fn the_drop_task_ends_with_the_last_holder() {
        let start = Instant::now();
        let held = Held::<Arc<()>>::new(Duration::from_secs(3));
        let value = hold_new(&held, "alice");
        // The task and the values share the wake-up signal: it is gone
        // once both are.
        let wake = Arc::downgrade(&held.holds.wake);
        until(start, Duration::from_secs(1)).await;
        assert!(wake.upgrade().is_some(), "no drop task is waiting");
        drop(held);
        until(start, Duration::from_millis(1_001)).await;
        assert!(value.upgrade().is_none(), "the value outlived its holder");
        assert!(wake.upgrade().is_none(), "the drop task did not end");
    }
}

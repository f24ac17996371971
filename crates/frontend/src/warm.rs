//! Storage connections kept open for a while after their last session
//! ended. A process holds its connection to a storage process only while
//! some session uses it (the broker's leases are weak), so a POP3 poller
//! or an MTA opening short session after short session paid, each time, a
//! new socket pair from the broker, a new HTTP/2 connection, and a storage
//! process accepting it. [`KeepWarm`] wraps a [`Connector`] and holds the
//! last channel it got for each owner for [`WARM_FOR`] after its last use;
//! the broker then answers "reuse" (DESIGN.md §3, step 4).
//!
//! Holding a channel keeps nothing else alive: tickets are checked on every
//! call, and a storage process that exits closes it (the next attach gets
//! a new one). Entries past their time are dropped by a sweep, so an idle
//! storage process still lingers out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::connector::{ConnectError, Connector};

/// How long a storage channel is held after it was last handed out.
pub const WARM_FOR: Duration = Duration::from_secs(60);

type Warm = Mutex<HashMap<String, (LeasedChannel, Instant)>>;

/// A [`Connector`] that keeps each owner's storage channel open for
/// [`WARM_FOR`] after its last use.
#[derive(Clone)]
pub struct KeepWarm<C> {
    inner: C,
    warm: Arc<Warm>,
}

impl<C: Connector> KeepWarm<C> {
    /// Wraps `inner`; inside a Tokio runtime it also starts the sweep that
    /// drops channels past their time (it ends when the last clone goes).
    pub fn new(inner: C) -> KeepWarm<C> {
        let warm: Arc<Warm> = Arc::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&warm)));
        }
        KeepWarm { inner, warm }
    }
}

impl<C: Connector> Connector for KeepWarm<C> {
    async fn auth(&self) -> Result<AuthClient<Channel>, ConnectError> {
        self.inner.auth().await
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        let channel = self.inner.storage(ticket, owner).await?;
        lock(&self.warm).insert(
            owner.to_owned(),
            (channel.clone(), Instant::now() + WARM_FOR),
        );
        Ok(channel)
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

/// Drops held channels past their time, every [`WARM_FOR`] / 4.
async fn sweep(warm: Weak<Warm>) {
    let mut every = tokio::time::interval(WARM_FOR / 4);
    loop {
        every.tick().await;
        let Some(warm) = warm.upgrade() else {
            return;
        };
        let now = Instant::now();
        lock(&warm).retain(|_, (_, until)| now < *until);
    }
}

fn lock(warm: &Warm) -> MutexGuard<'_, HashMap<String, (LeasedChannel, Instant)>> {
    warm.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that only knows who shares with whom.
    #[derive(Clone)]
    struct Sharing;

    impl Connector for Sharing {
        async fn auth(&self) -> Result<AuthClient<Channel>, ConnectError> {
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
        let warm = KeepWarm::new(Sharing);
        assert_eq!(
            warm.sharing_owners("t").await.expect("owners"),
            vec!["owner-for-t".to_owned()]
        );
    }
}

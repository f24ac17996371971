//! Where a session gets its auth and storage connections: the broker in
//! production, an in-process fake in tests.

use mailkeep_storage_rpc::leased::LeasedChannel;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::broker_client::BrokerClient;
use tokio::sync::Mutex;
use tonic::transport::Channel;

/// A source of auth and storage connections.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A new connection to the auth process.
    fn auth(&self) -> impl Future<Output = Result<AuthClient<Channel>, String>> + Send;
    /// A client for the storage process serving `owner`.
    fn storage(
        &self,
        ticket: &str,
        owner: &str,
    ) -> impl Future<Output = Result<LeasedChannel, String>> + Send;

    /// Reports how many client sessions this process serves (for the
    /// administrator's process list). Sources without a master ignore it.
    fn report_sessions(&self, _sessions: u32) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl Backend for BrokerClient {
    async fn auth(&self) -> Result<AuthClient<Channel>, String> {
        BrokerClient::auth(self).await.map_err(|e| e.to_string())
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, String> {
        BrokerClient::storage_channel(self, ticket, owner)
            .await
            .map_err(|e| e.to_string())
    }

    async fn report_sessions(&self, sessions: u32) {
        if let Err(e) = BrokerClient::report_sessions(self, sessions).await {
            tracing::debug!(error = %e, "session count not reported");
        }
    }
}

/// Process-wide state shared by all sessions: the one auth connection and
/// the SASL exchange counter.
pub(crate) struct Shared<B> {
    /// The connection source.
    pub backend: B,
    /// The process's auth connection, made on first use.
    auth: Mutex<Option<AuthClient<Channel>>>,
    /// Exchange ids, unique on the auth connection.
    exchange: AtomicU64,
}

impl<B: Backend> Shared<B> {
    /// Shared state over `backend`.
    pub fn new(backend: B) -> Arc<Shared<B>> {
        Arc::new(Shared {
            backend,
            auth: Mutex::new(None),
            exchange: AtomicU64::new(0),
        })
    }

    /// The auth client, connecting if there is none. With `fresh`, the
    /// current one is dropped first (its call failed with UNAVAILABLE).
    pub async fn auth_client(&self, fresh: bool) -> Result<AuthClient<Channel>, String> {
        let mut guard = self.auth.lock().await;
        if fresh {
            *guard = None;
        }
        if let Some(client) = guard.as_ref() {
            return Ok(client.clone());
        }
        let client = self.backend.auth().await?;
        *guard = Some(client.clone());
        Ok(client)
    }

    /// A new SASL exchange id.
    pub fn next_exchange(&self) -> u64 {
        self.exchange.fetch_add(1, Ordering::Relaxed) + 1
    }
}

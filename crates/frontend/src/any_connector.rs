//! A [`Connector`] behind a pointer, so that sessions and the storage path
//! need not be generic over where their connections come from.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;

use crate::connector::{ConnectError, Connector};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`Connector`].
trait ErasedConnector: Send + Sync {
    fn auth(&self) -> Boxed<'_, Result<AuthClient<SocketChannel>, ConnectError>>;
    fn storage<'a>(
        &'a self,
        ticket: &'a str,
        owner: &'a str,
    ) -> Boxed<'a, Result<LeasedChannel, ConnectError>>;
    fn warm_storage(&self, owner: &str) -> Option<LeasedChannel>;
    fn report_sessions(&self, sessions: u32) -> Boxed<'_, ()>;
    fn end_session<'a>(&'a self, ticket: &'a str) -> Boxed<'a, ()>;
    fn sharing_owners<'a>(
        &'a self,
        ticket: &'a str,
    ) -> Boxed<'a, Result<Vec<String>, ConnectError>>;
}

impl<C: Connector> ErasedConnector for C {
    fn auth(&self) -> Boxed<'_, Result<AuthClient<SocketChannel>, ConnectError>> {
        Box::pin(Connector::auth(self))
    }

    fn storage<'a>(
        &'a self,
        ticket: &'a str,
        owner: &'a str,
    ) -> Boxed<'a, Result<LeasedChannel, ConnectError>> {
        Box::pin(Connector::storage(self, ticket, owner))
    }

    fn warm_storage(&self, owner: &str) -> Option<LeasedChannel> {
        Connector::warm_storage(self, owner)
    }

    fn report_sessions(&self, sessions: u32) -> Boxed<'_, ()> {
        Box::pin(Connector::report_sessions(self, sessions))
    }

    fn end_session<'a>(&'a self, ticket: &'a str) -> Boxed<'a, ()> {
        Box::pin(Connector::end_session(self, ticket))
    }

    fn sharing_owners<'a>(
        &'a self,
        ticket: &'a str,
    ) -> Boxed<'a, Result<Vec<String>, ConnectError>> {
        Box::pin(Connector::sharing_owners(self, ticket))
    }
}

/// Any [`Connector`], cheap to clone.
#[derive(Clone)]
pub struct AnyConnector(Arc<dyn ErasedConnector>);

impl AnyConnector {
    /// Wraps `connector`.
    pub fn new(connector: impl Connector) -> AnyConnector {
        AnyConnector(Arc::new(connector))
    }
}

impl Connector for AnyConnector {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        self.0.auth().await
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        self.0.storage(ticket, owner).await
    }

    fn warm_storage(&self, owner: &str) -> Option<LeasedChannel> {
        self.0.warm_storage(owner)
    }

    async fn report_sessions(&self, sessions: u32) {
        self.0.report_sessions(sessions).await
    }

    async fn end_session(&self, ticket: &str) {
        self.0.end_session(ticket).await
    }

    async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, ConnectError> {
        self.0.sharing_owners(ticket).await
    }
}

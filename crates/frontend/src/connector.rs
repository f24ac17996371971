//! Where a protocol process gets its connections to auth and to storage:
//! the broker in production, in-process servers in tests. Everything above
//! this trait is the same in both.

use std::future::Future;

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::broker::RefusalCode;
use mailkeep_storage_rpc::broker_client::{BrokerClient, BrokerError};
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;

/// Why no connection could be had.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// What the caller tells its client: a refusal (bad ticket, account not
    /// served) or a temporary failure.
    pub code: RefusalCode,
    /// Why, for the log.
    pub message: String,
}

impl ConnectError {
    /// A temporary failure: the service is restarting or unreachable.
    pub fn unavailable(message: impl Into<String>) -> ConnectError {
        ConnectError {
            code: RefusalCode::Unavailable,
            message: message.into(),
        }
    }
}

impl From<BrokerError> for ConnectError {
    fn from(e: BrokerError) -> ConnectError {
        match e {
            BrokerError::Refused { code, message } => ConnectError { code, message },
            other => ConnectError::unavailable(other.to_string()),
        }
    }
}

/// A source of connections to auth and to the storage process of an owner.
pub trait Connector: Clone + Send + Sync + 'static {
    /// A new connection to the auth process.
    fn auth(&self) -> impl Future<Output = Result<AuthClient<SocketChannel>, ConnectError>> + Send;

    /// A channel to the storage process serving `owner`, authorised by
    /// `ticket`; several sessions of one owner share one connection.
    fn storage(
        &self,
        ticket: &str,
        owner: &str,
    ) -> impl Future<Output = Result<LeasedChannel, ConnectError>> + Send;

    /// A channel to a storage process that served `owner` a moment ago and
    /// is still open (kept warm), for a session's first call to go out on
    /// while the broker is still asked for the owner's process: a call it
    /// no longer serves `owner` for is refused as unavailable and goes to
    /// the broker's answer. Sources that keep no channels have none.
    fn warm_storage(&self, _owner: &str) -> Option<LeasedChannel> {
        None
    }

    /// Tells whoever supervises this process how many client sessions it
    /// serves (for `mailkeep admin ps`). Sources without a supervisor ignore it.
    fn report_sessions(&self, _sessions: u32) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Tells whoever revokes tickets that the session of `ticket` ended,
    /// so that no ticket of it is honoured any more. Sources that revoke
    /// nothing ignore it.
    fn end_session(&self, _ticket: &str) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The owners who may share a mailbox with the user of `ticket` (they
    /// granted the user, "anyone" or "authenticated" a right somewhere).
    /// A hint only: each owner's storage process decides what the user
    /// really sees. Sources that keep no such list answer none.
    fn sharing_owners(
        &self,
        _ticket: &str,
    ) -> impl Future<Output = Result<Vec<String>, ConnectError>> + Send {
        async { Ok(Vec::new()) }
    }
}

impl Connector for BrokerClient {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        Ok(BrokerClient::auth(self).await?)
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        Ok(BrokerClient::storage_channel(self, ticket, owner).await?)
    }

    async fn report_sessions(&self, sessions: u32) {
        if let Err(e) = BrokerClient::report_sessions(self, sessions).await {
            tracing::debug!(error = %e, "session count not reported");
        }
    }

    async fn end_session(&self, ticket: &str) {
        if let Err(e) = BrokerClient::end_session(self, ticket).await {
            // The broker also ends every session of a process whose
            // channel closes, so a lost message is caught up then.
            tracing::warn!(error = %e, "session end not reported to the broker");
        }
    }

    async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, ConnectError> {
        Ok(BrokerClient::sharing_owners(self, ticket).await?)
    }
}

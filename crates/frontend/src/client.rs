//! Logging in from a program that is not one of the server's processes:
//! a webmail backend or an admin tool connects to the server's client
//! socket, logs a user in through auth, and gets the same [`Storage`] path
//! the IMAP process uses, with its own session ticket.

use std::sync::Arc;

use crate::any_connector::AnyConnector;
use crate::auth_link::AuthLink;
use crate::clock::Clock;
use crate::connector::Connector;
use crate::sasl::{AuthFailure, ClientFacts, SaslStep, login_with_password};
use crate::storage::Storage;

/// Logs `user` in with `password` through `connector` (a
/// [`BrokerClient`](mailkeep_storage_rpc::broker_client::BrokerClient)
/// connected to the client socket, say) and returns the user's storage
/// path. `program` names the caller in auth's log.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use mailkeep_frontend::{Retry, client::login};
/// use mailkeep_storage_rpc::broker_client::BrokerClient;
/// use mailkeep_storage_rpc::storage::ListMailboxesRequest;
///
/// let broker = BrokerClient::connect("mailkeep-data/run/client.sock").await?;
/// let storage = login(broker, "alice", b"secret", "webmail").await?;
/// let owner = storage.user().to_owned();
/// let listing = storage
///     .call(&owner, Retry::Idempotent, |rpc| {
///         let request = rpc.request(ListMailboxesRequest { owner: owner.clone() });
///         async move { rpc.storage().list_mailboxes(request).await }
///     })
///     .await?;
/// # let _ = listing; Ok(()) }
/// ```
pub async fn login(
    connector: impl Connector,
    user: &str,
    password: &[u8],
    program: &str,
) -> Result<Storage, LoginError> {
    let link = Arc::new(AuthLink::new(AnyConnector::new(connector)));
    let facts = ClientFacts {
        remote_ip: "local".into(),
        protocol: program.to_owned(),
        channel_binding: None,
    };
    match login_with_password(link.clone(), user, password, facts).await {
        SaslStep::Success(login) => Ok(Storage::new(link, &login, Clock::system())),
        SaslStep::Failure(failure) => Err(LoginError(failure)),
        SaslStep::Challenge(_) => Err(LoginError(AuthFailure::Rejected)),
    }
}

/// Why [`login`] did not log the user in.
#[derive(Debug, Clone, thiserror::Error)]
#[error("login failed: {0:?}")]
pub struct LoginError(pub AuthFailure);

//! The protocol process's connection to auth, shared by all its sessions:
//! made on first use, replaced when it breaks, and the source of SASL
//! exchange ids and ticket renewals.
//!
//! Every request that is answered with a ticket carries a [`ReplyKey`]
//! made for it alone, and the ticket comes back sealed to it: the
//! connection's buffers, which keep the last reply's bytes for as long as
//! the process lives, never hold a ticket in clear (DESIGN §2).

use std::sync::atomic::{AtomicU64, Ordering};

use mailkeep_storage_rpc::auth::RenewRequest;
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use tokio::sync::Mutex;
use tonic::Code;
use tonic::transport::Channel;

/// The key a request's ticket is sealed to, and what it is sealed for
/// (re-exported for the callers of Auth.Deliver).
pub use mailkeep_ticket_seal::{Purpose, ReplyKey};

use crate::any_connector::AnyConnector;
use crate::connector::{ConnectError, Connector};

/// A renewed ticket.
#[derive(Clone)]
pub struct Renewed {
    /// The new ticket, opaque; wiped from memory when dropped.
    pub ticket: zeroize::Zeroizing<String>,
    /// When it expires (Unix seconds).
    pub expires_unix: i64,
}

/// The auth connection of one protocol process.
pub struct AuthLink {
    connector: AnyConnector,
    client: Mutex<Option<AuthClient<Channel>>>,
    exchange: AtomicU64,
}

impl AuthLink {
    /// A link that connects through `connector` when first used.
    pub fn new(connector: AnyConnector) -> AuthLink {
        AuthLink {
            connector,
            client: Mutex::new(None),
            exchange: AtomicU64::new(0),
        }
    }

    /// Where this link gets its connections (also the storage path's).
    pub fn connector(&self) -> &AnyConnector {
        &self.connector
    }

    /// The auth client, connecting if there is none. With `fresh`, the
    /// current one is dropped first (a call on it failed with UNAVAILABLE).
    pub async fn client(&self, fresh: bool) -> Result<AuthClient<Channel>, ConnectError> {
        let mut guard = self.client.lock().await;
        if fresh {
            *guard = None;
        }
        if let Some(client) = guard.as_ref() {
            return Ok(client.clone());
        }
        let client = self.connector.auth().await?;
        *guard = Some(client.clone());
        Ok(client)
    }

    /// A new SASL exchange id, unique on this process's auth connections.
    pub fn next_exchange(&self) -> u64 {
        self.exchange.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Exchanges a still valid session ticket for a fresh one. A broken
    /// connection is replaced and the renewal tried once more.
    pub async fn renew(&self, ticket: &str) -> Result<Renewed, ConnectError> {
        // The request's own copy is not wiped: prost messages are plain
        // Strings (and tonic copies the bytes into its buffers anyway).
        let reply_key = ReplyKey::generate();
        let request = RenewRequest {
            ticket: ticket.to_owned(),
            reply_key: reply_key.public_bytes(),
        };
        for fresh in [false, true] {
            let mut client = self.client(fresh).await?;
            match client.renew(request.clone()).await {
                Ok(response) => {
                    let response = response.into_inner();
                    let ticket = reply_key
                        .open(&response.sealed_ticket, Purpose::Renew, "")
                        .map_err(|e| ConnectError::unavailable(format!("ticket renewal: {e}")))?;
                    return Ok(Renewed {
                        ticket,
                        expires_unix: response.expires_unix,
                    });
                }
                Err(status) if status.code() == Code::Unavailable && !fresh => {}
                Err(status) => {
                    return Err(ConnectError {
                        code: match status.code() {
                            Code::Unavailable => {
                                mailkeep_storage_rpc::broker::RefusalCode::Unavailable
                            }
                            _ => mailkeep_storage_rpc::broker::RefusalCode::Refused,
                        },
                        message: format!("ticket renewal: {}", status.message()),
                    });
                }
            }
        }
        Err(ConnectError::unavailable(
            "auth unavailable for ticket renewal",
        ))
    }
}

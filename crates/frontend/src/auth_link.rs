//! The protocol process's connection to auth, shared by all its sessions:
//! made on first use, replaced when it breaks, and the source of SASL
//! exchange ids and ticket renewals.
//!
//! Every request that is answered with a ticket carries a [`ReplyKey`]
//! made for it alone, and the ticket comes back sealed to it: the
//! connection's buffers, which keep the last reply's bytes for as long as
//! the process lives, never hold a ticket in clear (DESIGN §2). The other
//! way too: a renewal's old ticket is sealed to auth's request key (named
//! in the login's success), since the write buffer keeps the last
//! request's bytes just as long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use mailkeep_storage_rpc::auth::RenewRequest;
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::socket_channel::SocketChannel;
use tokio::sync::Mutex;
use tonic::Code;

/// The key a request's ticket is sealed to, and what it is sealed for
/// (re-exported for the callers of Auth.Deliver).
pub use mailkeep_ticket_seal::{Purpose, ReplyKey};
use mailkeep_ticket_seal::{SealError, SealTo};

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
    client: Mutex<Option<AuthClient<SocketChannel>>>,
    exchange: AtomicU64,
    /// The next request's reply key, made while the last request waited
    /// for auth (see [`AuthLink::reply_key`]).
    spare_key: std::sync::Mutex<Option<ReplyKey>>,
}

impl AuthLink {
    /// A link that connects through `connector` when first used.
    pub fn new(connector: AnyConnector) -> AuthLink {
        AuthLink {
            connector,
            client: Mutex::new(None),
            exchange: AtomicU64::new(0),
            spare_key: std::sync::Mutex::new(None),
        }
    }

    /// A reply key for one request. Making one is a scalar multiplication
    /// on the login's path; so the key made ahead is taken, and the next
    /// one is made in the background once the request is on its way, while
    /// it waits for auth. Each key still serves one request alone and is
    /// wiped when used.
    pub fn reply_key(self: &Arc<Self>) -> ReplyKey {
        let made_ahead = self
            .spare_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let link = Arc::clone(self);
            runtime.spawn(async move {
                // Behind the connection's task, which sends the request
                // this key is taken for.
                tokio::task::yield_now().await;
                let next = ReplyKey::generate();
                let mut spare = link
                    .spare_key
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if spare.is_none() {
                    *spare = Some(next);
                }
            });
        }
        made_ahead.unwrap_or_else(ReplyKey::generate)
    }

    /// Where this link gets its connections (also the storage path's).
    pub fn connector(&self) -> &AnyConnector {
        &self.connector
    }

    /// The auth client, connecting if there is none. With `fresh`, the
    /// current one is dropped first (a call on it failed with UNAVAILABLE).
    pub async fn client(&self, fresh: bool) -> Result<AuthClient<SocketChannel>, ConnectError> {
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

    /// Exchanges `user`'s still valid session ticket for a fresh one; the
    /// old ticket goes sealed to auth's `request_key` (from the login's
    /// success). A broken connection is replaced and the renewal tried
    /// once more.
    pub async fn renew(
        self: &Arc<Self>,
        user: &str,
        ticket: &str,
        request_key: &[u8],
    ) -> Result<Renewed, ConnectError> {
        let reply_key = self.reply_key();
        let request =
            renew_request(user, ticket, request_key, &reply_key).map_err(|e| ConnectError {
                code: mailkeep_storage_rpc::broker::RefusalCode::Refused,
                message: format!("ticket renewal: sealing the old ticket to auth: {e}"),
            })?;
        for fresh in [false, true] {
            let mut client = self.client(fresh).await?;
            match client.renew(request.clone()).await {
                Ok(response) => {
                    let response = response.into_inner();
                    let ticket = reply_key
                        .open(&response.sealed_ticket, Purpose::Renew, user)
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

/// The renewal request of `user`'s `ticket`: the old ticket sealed to
/// auth's `request_key`, bound to `reply_key` (whose public half the
/// request names). The seal is made in one buffer, encrypted where it lies
/// (see `mailkeep-ticket-seal`), so no clear copy of the old ticket is
/// built here, and none goes to the connection's write buffer.
fn renew_request(
    user: &str,
    ticket: &str,
    request_key: &[u8],
    reply_key: &ReplyKey,
) -> Result<RenewRequest, SealError> {
    let reply = reply_key.public_bytes();
    let sealed_ticket = SealTo::from_bytes(request_key)?.seal_renewal(ticket, user, &reply)?;
    Ok(RenewRequest {
        sealed_ticket,
        user: user.to_owned(),
        reply_key: reply,
    })
}

#[cfg(test)]
#[path = "tests/auth_link.rs"]
mod tests;

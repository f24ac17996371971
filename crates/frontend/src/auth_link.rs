//! The protocol process's connection to auth, shared by all its sessions:
//! made on first use, replaced when it breaks, and the source of SASL
//! exchange ids and ticket renewals.
//!
//! Every request that is answered with a ticket says where the ticket is
//! to be sealed ([`ReplyTo`]): under the message key of its index in the
//! connection's reply chain, begun with one exchange when the link
//! connects, or, if auth begins none, to a [`ReplyKey`] made for it alone.
//! Either way the connection's buffers, which keep the last reply's bytes
//! for as long as the process lives, never hold a ticket in clear, nor
//! anything that opens one once its request is over (DESIGN §2). The
//! other way too: a renewal's old ticket is sealed to auth's request key
//! (named in the login's success), since the write buffer keeps the last
//! request's bytes just as long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::{OpenChainRequest, RenewRequest};
use mailkeep_storage_rpc::socket_channel::SocketChannel;
use tokio::sync::Mutex;
use tonic::Code;

use mailkeep_ticket_seal::{ChainedKey, RequesterChain, SealError, SealTo};
/// The key a request's ticket is sealed to, and what it is sealed for
/// (re-exported for the callers of Auth.Deliver).
pub use mailkeep_ticket_seal::{Purpose, ReplyKey};
use zeroize::Zeroizing;

use crate::any_connector::AnyConnector;
use crate::connector::{ConnectError, Connector};

/// Whether a failed auth call says the connection to auth is gone (auth
/// restarting, or killed: the call then fails in the transport, which
/// tonic reports as UNKNOWN, never a code auth answers with), so that a
/// new connection should be made and a first step tried again on it.
pub fn connection_lost(status: &tonic::Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Unknown)
}

/// A renewed ticket.
#[derive(Clone)]
pub struct Renewed {
    /// The new ticket, opaque; wiped from memory when dropped.
    pub ticket: zeroize::Zeroizing<String>,
    /// When it expires (Unix seconds).
    pub expires_unix: i64,
}

/// The fields of a request that say where the ticket of its answer is
/// to be sealed ([`ReplyTo::reply_key`] and [`ReplyTo::reply_index`]);
/// empty and 0 for a request that asks for no ticket.
#[derive(Clone, Debug, Default)]
pub struct SealFields {
    /// The request's `reply_key` field.
    pub reply_key: Vec<u8>,
    /// The request's `reply_index` field.
    pub reply_index: u64,
}

/// Why a call over the link ([`AuthLink::call`]) got no answer.
#[derive(Debug)]
pub enum CallError {
    /// No connection to auth could be made.
    NoConnection(ConnectError),
    /// Auth answered with this error, or the connection broke (again).
    Failed(tonic::Status),
}

/// Where one request's ticket is to be sealed, and what opens it: the
/// fields the request carries for it, and the key that opens the reply
/// (wiped when dropped or used).
#[derive(Debug)]
pub struct ReplyTo(Opener);

#[derive(Debug)]
enum Opener {
    /// A reply key made for the request alone.
    Key(ReplyKey),
    /// The message key of the request's index in its connection's chain.
    Chained(ChainedKey),
}

impl From<ReplyKey> for ReplyTo {
    /// A request's own reply key, for a request made without the link's
    /// chain.
    fn from(key: ReplyKey) -> ReplyTo {
        ReplyTo(Opener::Key(key))
    }
}

impl From<ChainedKey> for ReplyTo {
    /// The message key of a request's index in a chain.
    fn from(key: ChainedKey) -> ReplyTo {
        ReplyTo(Opener::Chained(key))
    }
}

impl ReplyTo {
    /// The request's `reply_key` field (empty when it names a chain index).
    pub fn reply_key(&self) -> Vec<u8> {
        match &self.0 {
            Opener::Key(key) => key.public_bytes(),
            Opener::Chained(_) => Vec::new(),
        }
    }

    /// The request's `reply_index` field (0 when it carries a reply key).
    pub fn reply_index(&self) -> u64 {
        match &self.0 {
            Opener::Key(_) => 0,
            Opener::Chained(key) => key.index(),
        }
    }

    /// Opens the reply's ticket, sealed for `purpose` and `user`; the key
    /// is used up.
    pub fn open(
        self,
        sealed: &[u8],
        purpose: Purpose,
        user: &str,
    ) -> Result<Zeroizing<String>, SealError> {
        match self.0 {
            Opener::Key(key) => key.open(sealed, purpose, user),
            Opener::Chained(key) => key.open(sealed, purpose, user),
        }
    }
}

/// The current connection to auth and its reply chain.
struct Linked {
    client: AuthClient<SocketChannel>,
    /// `None` when auth began no chain on this connection: each request
    /// then carries a reply key of its own.
    chain: Option<Arc<std::sync::Mutex<RequesterChain>>>,
}

/// The auth connection of one protocol process.
pub struct AuthLink {
    connector: AnyConnector,
    client: Mutex<Option<Linked>>,
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
    async fn client(&self, fresh: bool) -> Result<AuthClient<SocketChannel>, ConnectError> {
        self.linked(fresh).await.map(|(client, _)| client)
    }

    /// The auth client as [`AuthLink::client`] gives it, and where the
    /// ticket of one request on it is to be sealed: the next index of the
    /// connection's chain, or a reply key of its own.
    async fn client_for_ticket(
        &self,
        fresh: bool,
    ) -> Result<(AuthClient<SocketChannel>, ReplyTo), ConnectError> {
        let (client, chain) = self.linked(fresh).await?;
        let reply = match chain {
            Some(chain) => ReplyTo(Opener::Chained(
                chain
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .next_key(),
            )),
            None => ReplyTo(Opener::Key(ReplyKey::generate())),
        };
        Ok((client, reply))
    }

    /// After a call that failed with `status`: when it says the connection
    /// to auth is gone ([`connection_lost`]), forgets it, so that the next
    /// request makes a new one (and a new chain).
    pub async fn forget_if_lost(&self, status: &tonic::Status) {
        if connection_lost(status) {
            *self.client.lock().await = None;
        }
    }

    /// The index the next request on the current connection's reply chain
    /// will have; `None` when not connected or the connection has no chain
    /// (for the log and tests).
    pub async fn next_chain_index(&self) -> Option<u64> {
        let guard = self.client.lock().await;
        let chain = guard.as_ref()?.chain.as_ref()?;
        let next = chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_index();
        Some(next)
    }

    /// The current client and its chain, connecting (and beginning the
    /// chain) if there is none.
    async fn linked(
        &self,
        fresh: bool,
    ) -> Result<
        (
            AuthClient<SocketChannel>,
            Option<Arc<std::sync::Mutex<RequesterChain>>>,
        ),
        ConnectError,
    > {
        let mut guard = self.client.lock().await;
        if fresh {
            *guard = None;
        }
        if let Some(linked) = guard.as_ref() {
            return Ok((linked.client.clone(), linked.chain.clone()));
        }
        let mut client = self.connector.auth().await?;
        let chain = begin_chain(&mut client)
            .await?
            .map(|c| Arc::new(std::sync::Mutex::new(c)));
        *guard = Some(Linked {
            client: client.clone(),
            chain: chain.clone(),
        });
        Ok((client, chain))
    }

    /// Makes one call to auth on the current connection (connecting if
    /// there is none): `call` gets the client and, when `sealed`, where
    /// the ticket of its answer is to be sealed, whose opener comes back
    /// with the answer. When the call fails because the connection is gone
    /// ([`connection_lost`]: auth restarted) and `retry` (a call that
    /// continues nothing auth kept, such as the first step of an exchange),
    /// it is made once more on a new connection. Any other failure that
    /// says the connection is gone makes the next call connect afresh.
    pub async fn call<T, F, Fut>(
        &self,
        sealed: bool,
        retry: bool,
        mut call: F,
    ) -> Result<(T, Option<ReplyTo>), CallError>
    where
        F: FnMut(AuthClient<SocketChannel>, SealFields) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let mut fresh = false;
        loop {
            let (client, reply) = if sealed {
                let (client, reply) = self
                    .client_for_ticket(fresh)
                    .await
                    .map_err(CallError::NoConnection)?;
                (client, Some(reply))
            } else {
                let client = self.client(fresh).await.map_err(CallError::NoConnection)?;
                (client, None)
            };
            let fields = reply
                .as_ref()
                .map_or_else(SealFields::default, |r| SealFields {
                    reply_key: r.reply_key(),
                    reply_index: r.reply_index(),
                });
            match call(client, fields).await {
                Ok(answer) => return Ok((answer, reply)),
                Err(status) if retry && !fresh && connection_lost(&status) => {
                    tracing::info!(message = status.message(), "auth unavailable, reconnecting");
                    fresh = true;
                }
                Err(status) => {
                    self.forget_if_lost(&status).await;
                    return Err(CallError::Failed(status));
                }
            }
        }
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
        let reply_key = ReplyKey::generate();
        let request =
            renew_request(user, ticket, request_key, &reply_key).map_err(|e| ConnectError {
                code: mailkeep_storage_rpc::broker::RefusalCode::Refused,
                message: format!("ticket renewal: sealing the old ticket to auth: {e}"),
            })?;
        let renewal = self
            .call(false, true, |mut client, _| {
                let request = request.clone();
                async move { client.renew(request).await }
            })
            .await;
        let response = match renewal {
            Ok((response, _)) => response.into_inner(),
            Err(CallError::NoConnection(e)) => return Err(e),
            Err(CallError::Failed(status)) => {
                return Err(ConnectError {
                    code: if connection_lost(&status) {
                        mailkeep_storage_rpc::broker::RefusalCode::Unavailable
                    } else {
                        mailkeep_storage_rpc::broker::RefusalCode::Refused
                    },
                    message: format!("ticket renewal: {}", status.message()),
                });
            }
        };
        let ticket = reply_key
            .open(&response.sealed_ticket, Purpose::Renew, user)
            .map_err(|e| ConnectError::unavailable(format!("ticket renewal: {e}")))?;
        Ok(Renewed {
            ticket,
            expires_unix: response.expires_unix,
        })
    }
}

/// Begins the reply chain of a new connection to auth (one exchange).
/// `None` when auth refuses one for a reason other than being gone: the
/// link then makes a reply key for each request, as before chains.
async fn begin_chain(
    client: &mut AuthClient<SocketChannel>,
) -> Result<Option<RequesterChain>, ConnectError> {
    let key = ReplyKey::generate();
    let request = OpenChainRequest {
        requester_key: key.public_bytes(),
    };
    match client.open_chain(request).await {
        Ok(response) => match RequesterChain::begin(key, &response.into_inner().sealer_key) {
            Ok(chain) => Ok(Some(chain)),
            Err(error) => {
                tracing::warn!(%error, "auth's reply chain key is unusable; a reply key per request");
                Ok(None)
            }
        },
        Err(status) if connection_lost(&status) => Err(ConnectError::unavailable(format!(
            "auth unavailable: {}",
            status.message()
        ))),
        Err(status) => {
            tracing::warn!(code = ?status.code(), message = status.message(),
                "auth began no reply chain; a reply key per request");
            Ok(None)
        }
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

#[cfg(test)]
#[path = "tests/auth_link_chain.rs"]
mod chain_tests;

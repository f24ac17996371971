//! The protocol process's side of the broker channel: asks the master for
//! connections to auth and to the storage process serving an owner, and
//! keeps the storage connections it was given so that later sessions of the
//! same owner reuse them.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use tokio::net::UnixStream;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::auth::auth_client::AuthClient;
use crate::broker::{
    AttachStorage, BrokerReply, BrokerRequest, ConnectAuth, RefusalCode, broker_reply,
    broker_request,
};
use crate::channel::{ChannelError, channel_over};
use crate::framing::{FrameError, into_unix_stream, recv_frame, send_frame};
use crate::leased::{Lease, LeasedChannel};
use crate::socket_channel::socket_channel;
use crate::storage::storage_client::StorageClient;

/// Why the broker could not give a connection.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker channel failed; the master is gone or restarting.
    #[error("broker channel: {0}")]
    Channel(#[from] FrameError),
    /// The broker refused: bad ticket, unknown owner, no process could start.
    #[error("broker refused ({code:?}): {message}")]
    Refused {
        /// Why, as a code the caller maps to its own response.
        code: RefusalCode,
        /// Why, for logs and the client.
        message: String,
    },
    /// The broker's reply was not what the request asked for.
    #[error("broker protocol error: {0}")]
    Protocol(String),
    /// The passed socket could not be turned into a gRPC channel.
    #[error(transparent)]
    Grpc(#[from] ChannelError),
    /// The passed socket could not be used.
    #[error("passed socket: {0}")]
    Io(#[from] std::io::Error),
}

/// A handle on the broker channel; cheap to clone, shared by all sessions
/// of a protocol process. Requests are sent one at a time.
#[derive(Clone)]
pub struct BrokerClient {
    inner: Arc<Inner>,
}

struct Inner {
    stream: Mutex<(UnixStream, u64)>,
    /// Storage connections by id, held weakly: a connection closes when the
    /// last session using it drops its client.
    storage: Mutex<HashMap<u64, Weak<Lease>>>,
}

impl BrokerClient {
    /// Wraps the broker channel inherited from the master.
    pub fn new(stream: UnixStream) -> BrokerClient {
        BrokerClient {
            inner: Arc::new(Inner {
                stream: Mutex::new((stream, 0)),
                storage: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Connects to a running server's client socket (`<run
    /// dir>/client.sock`), for a program that is not one of the server's
    /// own processes (a webmail backend, an admin tool).
    pub async fn connect(path: impl AsRef<std::path::Path>) -> Result<BrokerClient, BrokerError> {
        let stream = UnixStream::connect(path).await?;
        Ok(BrokerClient::new(stream))
    }

    async fn request(
        &self,
        kind: broker_request::Kind,
    ) -> Result<(BrokerReply, Option<std::os::fd::OwnedFd>), BrokerError> {
        let mut guard = self.inner.stream.lock().await;
        guard.1 += 1;
        let id = guard.1;
        let request = BrokerRequest {
            id,
            kind: Some(kind),
        };
        send_frame(&guard.0, &request, None).await?;
        let (reply, fd): (BrokerReply, _) = recv_frame(&guard.0).await?;
        if reply.id != id {
            return Err(BrokerError::Protocol(format!(
                "reply for request {} while waiting for {id}",
                reply.id
            )));
        }
        if let Some(broker_reply::Kind::Error(e)) = &reply.kind {
            return Err(BrokerError::Refused {
                code: e.code(),
                message: e.message.clone(),
            });
        }
        Ok((reply, fd))
    }

    /// Tells the broker how many client sessions this process serves now,
    /// for `mailkeep admin ps`.
    pub async fn report_sessions(&self, sessions: u32) -> Result<(), BrokerError> {
        self.request(broker_request::Kind::Status(crate::broker::Status {
            sessions,
        }))
        .await
        .map(|_| ())
    }

    /// Tells the broker that the session of `ticket` ended (LOGOUT,
    /// UNAUTHENTICATE, the connection closed), so that its tickets are
    /// refused everywhere from now on.
    pub async fn end_session(&self, ticket: &str) -> Result<(), BrokerError> {
        self.request(broker_request::Kind::EndSession(
            crate::broker::EndSession {
                ticket: ticket.to_owned(),
            },
        ))
        .await
        .map(|_| ())
    }

    /// A new connection to the auth process.
    pub async fn auth(&self) -> Result<AuthClient<Channel>, BrokerError> {
        let (reply, fd) = self
            .request(broker_request::Kind::ConnectAuth(ConnectAuth {}))
            .await?;
        match (reply.kind, fd) {
            (Some(broker_reply::Kind::Auth(_)), Some(fd)) => {
                let channel = channel_over(into_unix_stream(fd)?).await?;
                Ok(AuthClient::new(channel))
            }
            _ => Err(BrokerError::Protocol(
                "auth connection reply without a socket".into(),
            )),
        }
    }

    /// A client for the storage process that serves `owner`, authorised by
    /// `ticket` (for an owner homed on another host, a connection the relay
    /// carries to that host's gateway). Reuses a connection this process
    /// still holds when the broker says so; the connection closes when the
    /// last client made from it is dropped.
    pub async fn storage_channel(
        &self,
        ticket: &str,
        owner: &str,
    ) -> Result<LeasedChannel, BrokerError> {
        // Strong references for the length of the request, so that a
        // connection the broker says to reuse cannot close meanwhile.
        let held: Vec<(u64, Arc<Lease>)> = {
            let mut map = self.inner.storage.lock().await;
            map.retain(|_, lease| lease.strong_count() > 0);
            map.iter()
                .filter_map(|(id, lease)| lease.upgrade().map(|l| (*id, l)))
                .collect()
        };
        let (reply, fd) = self
            .request(broker_request::Kind::AttachStorage(AttachStorage {
                ticket: ticket.to_owned(),
                owner: owner.to_owned(),
                held_connections: held.iter().map(|(id, _)| *id).collect(),
            }))
            .await?;
        let Some(broker_reply::Kind::Storage(attached)) = reply.kind else {
            return Err(BrokerError::Protocol(
                "storage reply of the wrong kind".into(),
            ));
        };
        let channel = if attached.reuse {
            held.iter()
                .find(|(id, _)| *id == attached.connection_id)
                .map(|(_, lease)| LeasedChannel::from_lease(Arc::clone(lease)))
                .ok_or_else(|| {
                    BrokerError::Protocol(format!(
                        "broker says reuse connection {} which this process no longer holds",
                        attached.connection_id
                    ))
                })?
        } else {
            let fd = fd.ok_or_else(|| {
                BrokerError::Protocol("new storage connection without a socket".into())
            })?;
            let channel = socket_channel(into_unix_stream(fd)?).await?;
            let lease = Arc::new(Lease { channel });
            self.inner
                .storage
                .lock()
                .await
                .insert(attached.connection_id, Arc::downgrade(&lease));
            LeasedChannel::from_lease(lease)
        };
        Ok(channel)
    }

    /// A new connection to the storage process that serves `owner`, as the
    /// plain socket the broker passed: for the storage gateway, which
    /// splices it with another host's TLS stream and never reuses one.
    pub async fn storage_socket(
        &self,
        ticket: &str,
        owner: &str,
    ) -> Result<UnixStream, BrokerError> {
        let (reply, fd) = self
            .request(broker_request::Kind::AttachStorage(AttachStorage {
                ticket: ticket.to_owned(),
                owner: owner.to_owned(),
                held_connections: Vec::new(),
            }))
            .await?;
        match (reply.kind, fd) {
            (Some(broker_reply::Kind::Storage(attached)), Some(fd)) if !attached.reuse => {
                Ok(into_unix_stream(fd)?)
            }
            _ => Err(BrokerError::Protocol(
                "storage reply without a new socket".into(),
            )),
        }
    }

    /// A Storage client over [`BrokerClient::storage_channel`]'s channel.
    pub async fn storage(
        &self,
        ticket: &str,
        owner: &str,
    ) -> Result<StorageClient<LeasedChannel>, BrokerError> {
        let channel = self.storage_channel(ticket, owner).await?;
        Ok(StorageClient::new(channel)
            .max_decoding_message_size(crate::MAX_GRPC_MESSAGE)
            .max_encoding_message_size(crate::MAX_GRPC_MESSAGE))
    }
}

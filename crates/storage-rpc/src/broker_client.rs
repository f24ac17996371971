//! The protocol process's side of the broker channel: asks the master for
//! connections to auth and to the storage process serving an owner, and
//! keeps the storage connections it was given so that later sessions of the
//! same owner reuse them.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use tokio::net::UnixStream;
use tokio::sync::{Mutex, oneshot};

use crate::auth::auth_client::AuthClient;
use crate::broker::{
    AttachStorage, BrokerReply, BrokerRequest, ConnectAuth, RefusalCode, broker_reply,
    broker_request,
};
use crate::channel::ChannelError;
use crate::framing::{FrameError, into_unix_stream, recv_frame, send_frame};
use crate::leased::{Lease, LeasedChannel};
use crate::quiet_stream::QuietStream;
use crate::socket_channel::{SocketChannel, socket_channel};
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
/// of a protocol process (or every connection of the gateway). Requests
/// go out side by side: the broker answers each when it is done, carrying
/// its id, so a slow one (a store being opened) holds up no other.
#[derive(Clone)]
pub struct BrokerClient {
    inner: Arc<Inner>,
}

/// A reply and the descriptor that came with it.
type Reply = (BrokerReply, Option<std::os::fd::OwnedFd>);

struct Inner {
    stream: QuietStream,
    /// The last request id; held while a request is written, so that
    /// frames never interleave.
    sending: Mutex<u64>,
    /// Held by the one waiting request that reads replies; it hands each
    /// to the request it answers.
    reading: Mutex<()>,
    /// The requests waiting for their reply, by id.
    waiting: std::sync::Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    /// Storage connections by id, held weakly: a connection closes when the
    /// last session using it drops its client.
    storage: Mutex<HashMap<u64, Weak<Lease>>>,
}

impl BrokerClient {
    /// Wraps the broker channel inherited from the master.
    pub fn new(stream: QuietStream) -> BrokerClient {
        BrokerClient {
            inner: Arc::new(Inner {
                stream,
                sending: Mutex::new(0),
                reading: Mutex::new(()),
                waiting: std::sync::Mutex::new(HashMap::new()),
                storage: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Connects to a running server's client socket (`<run
    /// dir>/client.sock`), for a program that is not one of the server's
    /// own processes (a webmail backend, an admin tool).
    pub async fn connect(path: impl AsRef<std::path::Path>) -> Result<BrokerClient, BrokerError> {
        let stream = QuietStream::connect(path)?;
        Ok(BrokerClient::new(stream))
    }

    async fn request(&self, kind: broker_request::Kind) -> Result<Reply, BrokerError> {
        let (tx, mut rx) = oneshot::channel();
        let id = {
            let mut last = self.inner.sending.lock().await;
            *last += 1;
            let id = *last;
            self.waiters().insert(id, tx);
            let request = BrokerRequest {
                id,
                kind: Some(kind),
            };
            if let Err(e) = send_frame(&self.inner.stream, &request, None).await {
                self.waiters().remove(&id);
                return Err(e.into());
            }
            id
        };
        let (reply, fd) = loop {
            if let Ok(reply) = rx.try_recv() {
                break reply;
            }
            let _reading = self.inner.reading.lock().await;
            // Read by the previous reader meanwhile?
            if let Ok(reply) = rx.try_recv() {
                break reply;
            }
            let (reply, fd): Reply = match recv_frame(&self.inner.stream).await {
                Ok(got) => got,
                Err(e) => {
                    self.waiters().remove(&id);
                    return Err(e.into());
                }
            };
            match self.waiters().remove(&reply.id) {
                // A request given up meanwhile drops its reply (and fd).
                Some(waiter) => drop(waiter.send((reply, fd))),
                None => tracing::warn!(id = reply.id, "a broker reply nobody waits for"),
            }
        };
        if let Some(broker_reply::Kind::Error(e)) = &reply.kind {
            return Err(BrokerError::Refused {
                code: e.code(),
                message: e.message.clone(),
            });
        }
        Ok((reply, fd))
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Reply>>> {
        // A panic while the map was held leaves it whole: use it anyway.
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// The owners who may share a mailbox with the user of `ticket` (the
    /// broker's hint for the shared namespace; each owner's storage
    /// process decides by its ACLs what the user sees).
    pub async fn sharing_owners(&self, ticket: &str) -> Result<Vec<String>, BrokerError> {
        let (reply, _) = self
            .request(broker_request::Kind::SharingOwners(
                crate::broker::SharingOwners {
                    ticket: ticket.to_owned(),
                },
            ))
            .await?;
        match reply.kind {
            Some(broker_reply::Kind::SharingOwners(owners)) => Ok(owners.owners),
            _ => Err(BrokerError::Protocol(
                "sharing-owners request answered with something else".into(),
            )),
        }
    }

    /// A new connection to the auth process.
    pub async fn auth(&self) -> Result<AuthClient<SocketChannel>, BrokerError> {
        let (reply, fd) = self
            .request(broker_request::Kind::ConnectAuth(ConnectAuth {}))
            .await?;
        match (reply.kind, fd) {
            (Some(broker_reply::Kind::Auth(_)), Some(fd)) => {
                let channel = socket_channel(QuietStream::new(fd)?).await?;
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
            // An ended connection is not offered for reuse: the broker
            // would hand it back, and every call on it fails.
            map.iter()
                .filter_map(|(id, lease)| lease.upgrade().map(|l| (*id, l)))
                .filter(|(_, lease)| !lease.channel.is_ended())
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
            let channel = socket_channel(QuietStream::new(fd)?).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerError as Refusal;

    /// Answers request `id` with a refusal whose message is `message`.
    async fn refuse(broker: &UnixStream, id: u64, message: &str) {
        let reply = BrokerReply {
            id,
            kind: Some(broker_reply::Kind::Error(Refusal {
                code: RefusalCode::Unavailable as i32,
                message: message.into(),
            })),
        };
        send_frame(broker, &reply, None).await.unwrap();
    }

    /// What a status request ended with: the refusal's message.
    async fn refused_with(task: tokio::task::JoinHandle<Result<(), BrokerError>>) -> String {
        match task.await.unwrap() {
            Err(BrokerError::Refused { message, .. }) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_request_waiting_for_its_reply_holds_up_no_other() {
        let (ours, broker) = QuietStream::with_peer().unwrap();
        broker.set_nonblocking(true).unwrap();
        let broker = UnixStream::from_std(broker).unwrap();
        let client = BrokerClient::new(ours);
        let slow = tokio::spawn({
            let client = client.clone();
            async move { client.report_sessions(1).await }
        });
        let (first, _): (BrokerRequest, _) = recv_frame(&broker).await.unwrap();
        let quick = tokio::spawn({
            let client = client.clone();
            async move { client.report_sessions(2).await }
        });
        let (second, _): (BrokerRequest, _) = recv_frame(&broker).await.unwrap();
        assert_ne!(first.id, second.id);
        // The later request is answered first and completes alone.
        refuse(&broker, second.id, "second").await;
        assert_eq!(refused_with(quick).await, "second");
        assert!(!slow.is_finished(), "the first request got an answer");
        refuse(&broker, first.id, "first").await;
        assert_eq!(refused_with(slow).await, "first");
    }
}

//! The Maildrop gRPC service (POP3, RFC 1939): the maildrop at login, the
//! session lock held for as long as the caller keeps its stream open, and
//! QUIT's removal of the deleted messages (announced to watchers like an
//! expunge), and the bytes of the messages RETR sends (`retrieve.rs`).
//! Each call is admitted by the [`Gate`] with a session ticket.

mod retrieve;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::maildrop_server::{Maildrop, MaildropServer};
use mailkeep_store::MaildropLock;
use tonic::{Request, Response, Status};

use crate::gate::{Admitted, Gate};

/// The Maildrop service, to be added to the storage process's server.
pub(crate) fn server(gate: Arc<Gate>) -> MaildropServer<MaildropService> {
    MaildropServer::new(MaildropService { gate })
}

/// The Maildrop service over the stores of the owners this process serves.
pub(crate) struct MaildropService {
    gate: Arc<Gate>,
}

/// The Lock call's stream: one "held" item, then nothing until the caller
/// ends the call, which drops the stream and with it the lock.
pub(crate) struct HeldLock {
    first: Option<pb::LockMaildropEvent>,
    _lock: MaildropLock,
}

impl futures::Stream for HeldLock {
    type Item = Result<pb::LockMaildropEvent, Status>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().first.take() {
            Some(event) => Poll::Ready(Some(Ok(event))),
            // Never woken again: the stream ends only when it is dropped.
            None => Poll::Pending,
        }
    }
}

#[tonic::async_trait]
impl Maildrop for MaildropService {
    async fn open(
        &self,
        request: Request<pb::OpenMaildropRequest>,
    ) -> Result<Response<pb::OpenMaildropResponse>, Status> {
        // A settled maildrop is listed on this thread: a POP3 login then
        // costs the process no hand-over to a store thread and back.
        let drop = self
            .gate
            .serve_settled(
                request,
                "OpenMaildrop",
                |store, req| store.maildrop_if_settled(&req.mailbox),
                |store, req, _actor| store.maildrop(&req.mailbox),
            )
            .await?;
        Ok(Response::new(pb::OpenMaildropResponse {
            uidvalidity: drop.uidvalidity,
            messages: drop
                .messages
                .into_iter()
                .map(|m| pb::MaildropMessage {
                    uid: m.uid,
                    size: m.size,
                    uidl: m.uidl.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    type LockStream = HeldLock;

    async fn lock(
        &self,
        request: Request<pb::LockMaildropRequest>,
    ) -> Result<Response<HeldLock>, Status> {
        let Admitted { owner, store, .. } = self.gate.admit_call(request, "LockMaildrop").await?;
        let lock = self.gate.run(&owner, move || store.lock_maildrop()).await?;
        let Some(lock) = lock else {
            return Err(errors::status(
                ErrorReason::InUse,
                format!("another POP3 session of {owner:?} holds the maildrop"),
            ));
        };
        Ok(Response::new(HeldLock {
            first: Some(pb::LockMaildropEvent { held: true }),
            _lock: lock,
        }))
    }

    type RetrieveStream = retrieve::Retrieved;

    async fn retrieve(
        &self,
        request: Request<pb::RetrieveMaildropRequest>,
    ) -> Result<Response<retrieve::Retrieved>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "RetrieveMaildrop").await?;
        let stream = retrieve::retrieve(&self.gate, &owner, store, req).await?;
        Ok(Response::new(stream))
    }

    async fn commit(
        &self,
        request: Request<pb::CommitMaildropRequest>,
    ) -> Result<Response<pb::CommitMaildropResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "CommitMaildrop").await?;
        let watched = (req.mailbox.clone(), req.uidvalidity);
        let expunged = self
            .gate
            .run(&owner, move || {
                store.remove_listed(&req.mailbox, req.uidvalidity, &req.uids)
            })
            .await?;
        if !expunged.uids.is_empty() {
            let (modseq, kind) = (expunged.highestmodseq, pb::WatchChangeKind::Expunge);
            self.gate
                .changes()
                .publish_mailbox(&owner, &watched.0, watched.1, modseq, kind, None);
        }
        Ok(Response::new(pb::CommitMaildropResponse {
            expunged: expunged.uids,
        }))
    }
}

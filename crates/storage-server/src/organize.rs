//! The Organize gRPC service: COPY/MOVE (announced to watchers like an
//! append and an expunge), subscriptions (announced too) and special-use.
//! Each call is admitted by the [`Gate`] before the store is touched, then
//! runs on a blocking thread.

use std::sync::Arc;

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::organize_server::{Organize, OrganizeServer};
use mailkeep_store::Copied;
use tonic::{Request, Response, Status};

use crate::convert::ranges;
use crate::gate::{Admitted, Gate};
use crate::plugin::{AddKind, Adding};

/// The Organize service, to be added to the storage process's server.
pub(crate) fn server(gate: Arc<Gate>) -> OrganizeServer<OrganizeService> {
    OrganizeServer::new(OrganizeService { gate })
}

/// The Organize service over the stores of the owners this process serves.
pub(crate) struct OrganizeService {
    gate: Arc<Gate>,
}

fn copied_msg(c: Copied) -> pb::CopyResponse {
    pb::CopyResponse {
        uidvalidity: c.uidvalidity,
        source_uids: c.source_uids,
        new_uids: c.new_uids,
        source_highestmodseq: c.source_highestmodseq,
    }
}

impl OrganizeService {
    async fn copy_or_move(
        &self,
        request: Request<pb::CopyRequest>,
        is_move: bool,
    ) -> Result<Response<pb::CopyResponse>, Status> {
        let method = if is_move { "Move" } else { "Copy" };
        let Admitted {
            owner,
            store,
            req,
            actor,
        } = self.gate.admit_call(request, method).await?;
        let (source, source_uidvalidity, target) =
            (req.mailbox.clone(), req.uidvalidity, req.target.clone());
        let plugins = self.gate.plugins();
        let hook_owner = owner.clone();
        let copied = self
            .gate
            .run(&owner, move || {
                let uids = ranges(&req.uids);
                let (bytes, messages) = store.size_of(&req.mailbox, &uids)?;
                let adding = Adding {
                    owner: &hook_owner,
                    mailbox: &req.target,
                    kind: if is_move {
                        AddKind::Move
                    } else {
                        AddKind::Copy
                    },
                    messages,
                    bytes,
                };
                plugins.before_add(&store, &adding)?;
                // A guest's private \Seen follows the guest's copies;
                // every user's moves with the messages.
                let (from, validity, to) = (&req.mailbox, req.uidvalidity, &req.target);
                let copied = if is_move {
                    store.move_messages(from, validity, &uids, to)
                } else {
                    store.copy_messages_as(from, validity, &uids, to, actor.viewer())
                };
                plugins.add_ended(&adding);
                let copied = copied?;
                plugins.after_add(&store, &adding, &copied.new_uids);
                Ok(copied)
            })
            .await?;
        if let Some(last) = copied.new_uids.iter().max() {
            let changes = self.gate.changes();
            let (kind, next) = (pb::WatchChangeKind::NewMessages, last.checked_add(1));
            let modseq = copied.target_highestmodseq;
            changes.publish_mailbox(&owner, &target, copied.uidvalidity, modseq, kind, next);
            if is_move {
                let (kind, modseq) = (pb::WatchChangeKind::Expunge, copied.source_highestmodseq);
                changes.publish_mailbox(&owner, &source, source_uidvalidity, modseq, kind, None);
                for plugin in self.gate.plugins().iter() {
                    plugin.after_expunge(&owner, &source);
                }
            }
        }
        Ok(Response::new(copied_msg(copied)))
    }

    /// Subscribes or unsubscribes a mailbox and tells the watchers.
    async fn subscription(
        &self,
        request: Request<pb::SubscriptionRequest>,
        method: &'static str,
        kind: pb::ListChangeKind,
    ) -> Result<Response<pb::SubscriptionResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, method).await?;
        let subscribe = kind == pb::ListChangeKind::Subscribed;
        let mailbox = self
            .gate
            .run(&owner, move || {
                if subscribe {
                    store.subscribe(&req.mailbox)?;
                } else {
                    store.unsubscribe(&req.mailbox)?;
                }
                Ok(req.mailbox)
            })
            .await?;
        self.gate.changes().publish_list(&owner, kind, &mailbox, "");
        Ok(Response::new(pb::SubscriptionResponse {}))
    }
}

#[tonic::async_trait]
impl Organize for OrganizeService {
    async fn copy(
        &self,
        request: Request<pb::CopyRequest>,
    ) -> Result<Response<pb::CopyResponse>, Status> {
        self.copy_or_move(request, false).await
    }

    async fn r#move(
        &self,
        request: Request<pb::CopyRequest>,
    ) -> Result<Response<pb::CopyResponse>, Status> {
        self.copy_or_move(request, true).await
    }

    async fn subscribe(
        &self,
        request: Request<pb::SubscriptionRequest>,
    ) -> Result<Response<pb::SubscriptionResponse>, Status> {
        self.subscription(request, "Subscribe", pb::ListChangeKind::Subscribed)
            .await
    }

    async fn unsubscribe(
        &self,
        request: Request<pb::SubscriptionRequest>,
    ) -> Result<Response<pb::SubscriptionResponse>, Status> {
        self.subscription(request, "Unsubscribe", pb::ListChangeKind::Unsubscribed)
            .await
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let names = self
            .gate
            .serve(request, "ListSubscriptions", |store, _| {
                store.subscriptions()
            })
            .await?;
        Ok(Response::new(pb::ListSubscriptionsResponse { names }))
    }

    async fn set_special_use(
        &self,
        request: Request<pb::SetSpecialUseRequest>,
    ) -> Result<Response<pb::SetSpecialUseResponse>, Status> {
        let mailbox_id = self
            .gate
            .serve(request, "SetSpecialUse", |store, req| {
                if req.create {
                    store.create_with_special_use(&req.mailbox, &req.attributes)
                } else {
                    store
                        .set_special_use(&req.mailbox, &req.attributes)
                        .map(|()| String::new())
                }
            })
            .await?;
        Ok(Response::new(pb::SetSpecialUseResponse { mailbox_id }))
    }
}

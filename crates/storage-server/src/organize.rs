//! The Organize gRPC service: COPY/MOVE, subscriptions, special-use and
//! quota usage. Each call is admitted by the [`Gate`] before the store is
//! touched, then runs on a blocking thread.

use std::sync::Arc;

use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::organize_server::{Organize, OrganizeServer};
use mailkeep_store::Copied;
use mailkeep_ticket::Scope;
use tonic::{Request, Response, Status};

use crate::convert::ranges;
use crate::gate::Gate;

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
        let owner = request.get_ref().owner.clone();
        let method = if is_move { "Move" } else { "Copy" };
        let store = self
            .gate
            .admit(ticket_of(&request), &owner, Scope::Session, method)?;
        let req = request.into_inner();
        let uids = ranges(&req.uids);
        let copied = self
            .gate
            .run(&owner, move || {
                if is_move {
                    store.move_messages(&req.mailbox, req.uidvalidity, &uids, &req.target)
                } else {
                    store.copy_messages(&req.mailbox, req.uidvalidity, &uids, &req.target)
                }
            })
            .await?;
        Ok(Response::new(copied_msg(copied)))
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
        let owner = request.get_ref().owner.clone();
        let store = self
            .gate
            .admit(ticket_of(&request), &owner, Scope::Session, "Subscribe")?;
        let req = request.into_inner();
        self.gate
            .run(&owner, move || store.subscribe(&req.mailbox))
            .await?;
        Ok(Response::new(pb::SubscriptionResponse {}))
    }

    async fn unsubscribe(
        &self,
        request: Request<pb::SubscriptionRequest>,
    ) -> Result<Response<pb::SubscriptionResponse>, Status> {
        let owner = request.get_ref().owner.clone();
        let store = self
            .gate
            .admit(ticket_of(&request), &owner, Scope::Session, "Unsubscribe")?;
        let req = request.into_inner();
        self.gate
            .run(&owner, move || store.unsubscribe(&req.mailbox))
            .await?;
        Ok(Response::new(pb::SubscriptionResponse {}))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let owner = request.get_ref().owner.clone();
        let store = self.gate.admit(
            ticket_of(&request),
            &owner,
            Scope::Session,
            "ListSubscriptions",
        )?;
        let names = self.gate.run(&owner, move || store.subscriptions()).await?;
        Ok(Response::new(pb::ListSubscriptionsResponse { names }))
    }

    async fn set_special_use(
        &self,
        request: Request<pb::SetSpecialUseRequest>,
    ) -> Result<Response<pb::SetSpecialUseResponse>, Status> {
        let owner = request.get_ref().owner.clone();
        let store =
            self.gate
                .admit(ticket_of(&request), &owner, Scope::Session, "SetSpecialUse")?;
        let req = request.into_inner();
        self.gate
            .run(&owner, move || {
                if req.create {
                    store.create_with_special_use(&req.mailbox, &req.attributes)
                } else {
                    store.set_special_use(&req.mailbox, &req.attributes)
                }
            })
            .await?;
        Ok(Response::new(pb::SetSpecialUseResponse {}))
    }

    async fn quota_usage(
        &self,
        request: Request<pb::QuotaUsageRequest>,
    ) -> Result<Response<pb::QuotaUsageResponse>, Status> {
        let owner = request.get_ref().owner.clone();
        let store = self
            .gate
            .admit(ticket_of(&request), &owner, Scope::Session, "QuotaUsage")?;
        let (bytes, messages) = self.gate.run(&owner, move || store.quota_usage()).await?;
        Ok(Response::new(pb::QuotaUsageResponse { bytes, messages }))
    }
}

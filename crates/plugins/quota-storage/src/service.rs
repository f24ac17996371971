//! The `mailkeep.quota.v1.Quota` service. Each call is admitted through
//! the storage process's gate with the scope [`crate::METHODS`] declares
//! (GetQuota also for guests, [`crate::GUEST_METHODS`]), then runs on the
//! owner's store thread.

use std::sync::Arc;

use mailkeep_storage_server::plugin::PluginHost;
use mailkeep_store::Store;
use tonic::{Request, Response, Status};

use crate::pb;
use crate::pb::quota_server::{Quota, QuotaServer};
use crate::{Inner, Limits};

/// The service, for the storage process's server.
pub(crate) fn server(host: PluginHost, inner: Arc<Inner>) -> QuotaServer<QuotaService> {
    QuotaServer::new(QuotaService { host, inner })
}

/// The Quota service over the owners this process serves.
pub(crate) struct QuotaService {
    host: PluginHost,
    inner: Arc<Inner>,
}

impl QuotaService {
    /// Admits the call to `path` for `owner` (the owner's alone) and
    /// answers with the owner's usage and limits after `work` ran.
    async fn answer<R, F>(
        &self,
        request: Request<R>,
        owner: String,
        path: &'static str,
        work: F,
    ) -> Result<Response<pb::QuotaReply>, Status>
    where
        F: FnOnce(&Store) -> Result<(u64, u64), mailkeep_store::StoreError> + Send + 'static,
    {
        let store = self.host.admit(&request, &owner, path)?;
        self.reply(store, owner, work).await
    }

    /// The owner's usage and limits after `work` ran on `store`.
    async fn reply<F>(
        &self,
        store: Store,
        owner: String,
        work: F,
    ) -> Result<Response<pb::QuotaReply>, Status>
    where
        F: FnOnce(&Store) -> Result<(u64, u64), mailkeep_store::StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let who = owner.clone();
        let reply = self
            .host
            .run(&owner, move || {
                let (bytes, messages) = work(&store)?;
                let in_force = inner.in_force(&who, &store)?;
                Ok(pb::QuotaReply {
                    bytes,
                    messages,
                    storage_limit: in_force.limits.storage.unwrap_or(0),
                    message_limit: in_force.limits.messages.unwrap_or(0),
                    overridden: in_force.overridden,
                })
            })
            .await?;
        Ok(Response::new(reply))
    }
}

#[tonic::async_trait]
impl Quota for QuotaService {
    async fn get_quota(
        &self,
        request: Request<pb::GetQuotaRequest>,
    ) -> Result<Response<pb::QuotaReply>, Status> {
        let pb::GetQuotaRequest { owner, mailbox } = request.get_ref().clone();
        let named = (!mailbox.is_empty()).then_some(mailbox.as_str());
        // A guest with 'l' or 'r' on the mailbox (or, none named, on some
        // mailbox of the owner) may read the owner's root: RFC 9208
        // GETQUOTAROOT of a shared mailbox.
        let (store, _guest) = self
            .host
            .admit_shared_read(&request, &owner, named, crate::GET_QUOTA)
            .await?;
        self.reply(store, owner, move |store| {
            if !mailbox.is_empty() && store.mailbox_exists(&mailbox)?.is_none() {
                // RFC 9208 §4.1.2: a mailbox that does not exist has no root.
                return Err(mailkeep_store::StoreError::NotFound {
                    what: format!("mailbox {mailbox:?}"),
                });
            }
            // Files another program dropped in count from now on.
            store.sync_all(false)?;
            store.quota_usage()
        })
        .await
    }

    async fn set_quota(
        &self,
        request: Request<pb::SetQuotaRequest>,
    ) -> Result<Response<pb::QuotaReply>, Status> {
        let req = request.get_ref().clone();
        let limits = Limits {
            storage: req.storage_limit,
            messages: req.message_limit,
        };
        self.answer(
            request,
            req.owner,
            "/mailkeep.quota.v1.Quota/SetQuota",
            move |store| {
                Inner::set_override(store, limits)?;
                store.quota_usage()
            },
        )
        .await
    }

    async fn recalc(
        &self,
        request: Request<pb::RecalcRequest>,
    ) -> Result<Response<pb::QuotaReply>, Status> {
        let owner = request.get_ref().owner.clone();
        self.answer(request, owner, "/mailkeep.quota.v1.Quota/Recalc", |store| {
            store.recalc_quota()
        })
        .await
    }
}

//! The Storage gRPC service: each call is admitted by the [`Gate`], then
//! runs its store work on a blocking thread (SQLite and fsync block).

use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::storage_server::Storage;
use mailkeep_store::{DELIMITER, StoreError};
use mailkeep_ticket::Scope;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{flags_msg, ranges, status_msg, status_of, store_mode};
use crate::gate::Gate;

/// The Storage service over the stores of the owners this process serves.
pub(crate) struct StorageService {
    pub(crate) gate: std::sync::Arc<Gate>,
}

/// Runs store work on a blocking thread and maps its error to a status.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store task failed");
            Status::internal(format!("store task failed: {e}"))
        })?
        .map_err(status_of)
}

impl StorageService {
    fn admit<T>(
        &self,
        request: &Request<T>,
        owner: &str,
        need: Scope,
        method: &'static str,
    ) -> Result<mailkeep_store::Store, Status> {
        self.gate.admit(ticket_of(request), owner, need, method)
    }
}

#[tonic::async_trait]
impl Storage for StorageService {
    async fn list_mailboxes(
        &self,
        request: Request<pb::ListMailboxesRequest>,
    ) -> Result<Response<pb::ListMailboxesResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "ListMailboxes",
        )?;
        let list = blocking(move || store.list()).await?;
        Ok(Response::new(pb::ListMailboxesResponse {
            mailboxes: list
                .into_iter()
                .map(|m| pb::MailboxInfo {
                    name: m.name,
                    attributes: m.attributes,
                })
                .collect(),
            delimiter: DELIMITER.to_string(),
        }))
    }

    async fn create_mailbox(
        &self,
        request: Request<pb::CreateMailboxRequest>,
    ) -> Result<Response<pb::CreateMailboxResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "CreateMailbox",
        )?;
        let name = request.into_inner().name;
        blocking(move || store.create(&name)).await?;
        Ok(Response::new(pb::CreateMailboxResponse {}))
    }

    async fn delete_mailbox(
        &self,
        request: Request<pb::DeleteMailboxRequest>,
    ) -> Result<Response<pb::DeleteMailboxResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "DeleteMailbox",
        )?;
        let name = request.into_inner().name;
        blocking(move || store.delete(&name)).await?;
        Ok(Response::new(pb::DeleteMailboxResponse {}))
    }

    async fn rename_mailbox(
        &self,
        request: Request<pb::RenameMailboxRequest>,
    ) -> Result<Response<pb::RenameMailboxResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "RenameMailbox",
        )?;
        let req = request.into_inner();
        blocking(move || store.rename(&req.from, &req.to)).await?;
        Ok(Response::new(pb::RenameMailboxResponse {}))
    }

    async fn mailbox_status(
        &self,
        request: Request<pb::MailboxStatusRequest>,
    ) -> Result<Response<pb::MailboxStatusResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "MailboxStatus",
        )?;
        let name = request.into_inner().name;
        let status = blocking(move || store.status(&name)).await?;
        Ok(Response::new(pb::MailboxStatusResponse {
            status: Some(status_msg(&status)),
        }))
    }

    async fn select_mailbox(
        &self,
        request: Request<pb::SelectMailboxRequest>,
    ) -> Result<Response<pb::SelectMailboxResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "SelectMailbox",
        )?;
        let name = request.into_inner().name;
        let selected = blocking(move || store.select(&name)).await?;
        Ok(Response::new(pb::SelectMailboxResponse {
            status: Some(status_msg(&selected.status)),
            messages: selected.messages.iter().map(flags_msg).collect(),
            keywords: selected.keywords,
        }))
    }

    async fn changes(
        &self,
        request: Request<pb::ChangesRequest>,
    ) -> Result<Response<pb::ChangesResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "Changes",
        )?;
        let req = request.into_inner();
        let changes =
            blocking(move || store.changes_since(&req.mailbox, req.uidvalidity, req.since_modseq))
                .await?;
        Ok(Response::new(pb::ChangesResponse {
            status: Some(status_msg(&changes.status)),
            changed: changes.changed.iter().map(flags_msg).collect(),
            vanished: changes.vanished,
        }))
    }

    async fn append(
        &self,
        request: Request<Streaming<pb::AppendRequest>>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        crate::append::append(&self.gate, request).await
    }

    type FetchStream = ReceiverStream<Result<pb::FetchResponse, Status>>;

    async fn fetch(
        &self,
        request: Request<pb::FetchRequest>,
    ) -> Result<Response<Self::FetchStream>, Status> {
        let store = self.admit(&request, &request.get_ref().owner, Scope::Session, "Fetch")?;
        crate::fetch::fetch(store, request.into_inner()).await
    }

    async fn store_flags(
        &self,
        request: Request<pb::StoreFlagsRequest>,
    ) -> Result<Response<pb::StoreFlagsResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "StoreFlags",
        )?;
        let req = request.into_inner();
        let mode = store_mode(req.mode)?;
        let uids = ranges(&req.uids);
        let unchanged_since = (req.unchanged_since != 0).then_some(req.unchanged_since);
        let stored = blocking(move || {
            store.store_flags(
                &req.mailbox,
                req.uidvalidity,
                &uids,
                mode,
                &req.flags,
                unchanged_since,
            )
        })
        .await?;
        Ok(Response::new(pb::StoreFlagsResponse {
            updated: stored.updated.iter().map(flags_msg).collect(),
            failed: stored.failed,
        }))
    }

    async fn expunge(
        &self,
        request: Request<pb::ExpungeRequest>,
    ) -> Result<Response<pb::ExpungeResponse>, Status> {
        let store = self.admit(
            &request,
            &request.get_ref().owner,
            Scope::Session,
            "Expunge",
        )?;
        let req = request.into_inner();
        let uids = ranges(&req.uids);
        let expunged = blocking(move || {
            let only = (!uids.is_empty()).then_some(uids.as_slice());
            store.expunge(&req.mailbox, req.uidvalidity, only)
        })
        .await?;
        Ok(Response::new(pb::ExpungeResponse {
            expunged: expunged.uids,
            highestmodseq: expunged.highestmodseq,
        }))
    }
}

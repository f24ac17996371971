//! The Acl gRPC service (RFC 4314): reading and changing an owner's
//! mailbox ACLs. Admission checks the acting user's rights like every
//! other call ('a' to read or change an ACL, any right for MyRights); the
//! owner always holds every right, so the owner's own entry cannot change.
//! After a change the owner's grantees are reported to the master, which
//! answers "who shares with me" for the shared namespace.

use std::sync::Arc;

use mailkeep_storage_rpc::errors::{ErrorReason, status};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::acl_server::{Acl, AclServer};
use mailkeep_store::{AclChange, Rights, Store, StoreError};
use tonic::{Request, Response, Status};

use crate::gate::{Admitted, Gate};

/// The Acl service, to be added to the storage process's server.
pub(crate) fn server(gate: Arc<Gate>) -> AclServer<AclService> {
    AclServer::new(AclService { gate })
}

/// The Acl service over the stores of the owners this process serves.
pub(crate) struct AclService {
    gate: Arc<Gate>,
}

/// Every single right, each grantable on its own (LISTRIGHTS).
const EACH_RIGHT: &str = "lrswipkxtea";

impl AclService {
    /// Refuses a change of the owner's own entry: the owner holds every
    /// right whatever the ACL says (RFC 4314 §2 lets a server keep the
    /// owner's rights).
    fn refuse_owner_entry(owner: &str, identifier: &str) -> Result<(), Status> {
        if identifier == owner {
            return Err(status(
                ErrorReason::Cannot,
                // Said to the client as it is (the IMAP SETACL's NO).
                "The mailbox's owner always holds every right",
            ));
        }
        Ok(())
    }

    /// After a change of `mailbox`'s ACL: its watchers are told (a
    /// guest's stream shows the mailbox appear or disappear), with the
    /// mailbox's ACL stamp read after the change (`None`: not read), and
    /// the owner's grantees go to the master.
    async fn changed(&self, owner: &str, mailbox: &str, stamp: Option<u64>, store: Store) {
        self.gate.changes().publish_rights(owner, mailbox, stamp);
        self.report_grantees(owner, store).await;
    }

    /// The owner's grantees, to the master.
    async fn report_grantees(&self, owner: &str, store: Store) {
        match self.gate.run(owner, move || store.grantees()).await {
            Ok(grantees) => self.gate.report_shares(owner, grantees),
            Err(e) => tracing::warn!(owner, error = %e, "ACL grantees not read"),
        }
    }
}

#[tonic::async_trait]
impl Acl for AclService {
    async fn get_acl(
        &self,
        request: Request<pb::MailboxAclRequest>,
    ) -> Result<Response<pb::GetAclResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "GetAcl").await?;
        let listed = self
            .gate
            .run(&owner, move || store.acl(&req.mailbox))
            .await?;
        // The owner's implicit rights come first, as clients expect to see
        // who owns the mailbox.
        let entries = std::iter::once(pb::AclEntry {
            identifier: owner.clone(),
            rights: Rights::ALL.to_string(),
        })
        .chain(
            listed
                .into_iter()
                .filter(|e| e.identifier != owner)
                .map(|e| pb::AclEntry {
                    identifier: e.identifier,
                    rights: e.rights.to_string(),
                }),
        )
        .collect();
        Ok(Response::new(pb::GetAclResponse { entries }))
    }

    async fn set_acl(
        &self,
        request: Request<pb::SetAclRequest>,
    ) -> Result<Response<pb::SetAclResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "SetAcl").await?;
        Self::refuse_owner_entry(&owner, &req.identifier)?;
        let change = match pb::AclChange::try_from(req.change) {
            Ok(pb::AclChange::Replace) => AclChange::Replace,
            Ok(pb::AclChange::Add) => AclChange::Add,
            Ok(pb::AclChange::Remove) => AclChange::Remove,
            Err(_) => return Err(crate::convert::invalid("unknown ACL change")),
        };
        let kept = store.clone();
        let mailbox = req.mailbox.clone();
        let stamp = self
            .gate
            .run(&owner, move || {
                let rights = Rights::parse(&req.rights)?;
                store.set_acl(&req.mailbox, &req.identifier, rights, change)?;
                Ok(stamp_after_change(&store, &req.mailbox))
            })
            .await?;
        self.changed(&owner, &mailbox, stamp, kept).await;
        Ok(Response::new(pb::SetAclResponse {}))
    }

    async fn delete_acl(
        &self,
        request: Request<pb::DeleteAclRequest>,
    ) -> Result<Response<pb::DeleteAclResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "DeleteAcl").await?;
        Self::refuse_owner_entry(&owner, &req.identifier)?;
        let kept = store.clone();
        let mailbox = req.mailbox.clone();
        let stamp = self
            .gate
            .run(&owner, move || {
                store.delete_acl(&req.mailbox, &req.identifier)?;
                Ok(stamp_after_change(&store, &req.mailbox))
            })
            .await?;
        self.changed(&owner, &mailbox, stamp, kept).await;
        Ok(Response::new(pb::DeleteAclResponse {}))
    }

    async fn my_rights(
        &self,
        request: Request<pb::MailboxAclRequest>,
    ) -> Result<Response<pb::MyRightsResponse>, Status> {
        let Admitted {
            owner,
            store,
            actor,
            req,
        } = self.gate.admit_call(request, "MyRights").await?;
        let rights = self
            .gate
            .run(&owner, move || match actor.guest() {
                None => store
                    .rights_of(&req.mailbox, "")?
                    .map(|_| Rights::ALL)
                    .ok_or_else(|| missing(&req.mailbox)),
                Some(guest) => store
                    .rights_of(&req.mailbox, guest)?
                    .ok_or_else(|| missing(&req.mailbox)),
            })
            .await?;
        Ok(Response::new(pb::MyRightsResponse {
            rights: rights.to_string(),
        }))
    }

    async fn list_rights(
        &self,
        request: Request<pb::ListRightsRequest>,
    ) -> Result<Response<pb::ListRightsResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "ListRights").await?;
        let mailbox = req.mailbox.clone();
        self.gate
            .run(&owner, move || {
                store
                    .rights_of(&mailbox, "")?
                    .map(|_| ())
                    .ok_or_else(|| missing(&mailbox))
            })
            .await?;
        // The owner always holds every right: none is left to grant, and a
        // right may not be listed twice (RFC 4314 §3.7).
        let (required, optional) = if req.identifier == owner {
            (Rights::ALL.to_string(), Vec::new())
        } else {
            (
                String::new(),
                EACH_RIGHT.chars().map(String::from).collect(),
            )
        };
        Ok(Response::new(pb::ListRightsResponse { required, optional }))
    }
}

/// `mailbox`'s ACL stamp, read after a change committed (so it covers the
/// change, and any made before it elsewhere); `None` if it cannot be read:
/// the change is made, and is announced without it.
fn stamp_after_change(store: &Store, mailbox: &str) -> Option<u64> {
    store
        .acl_stamp(mailbox)
        .inspect_err(|e| tracing::debug!(mailbox, error = %e, "ACL stamp not read"))
        .ok()
}

/// The store's error for a mailbox that does not exist.
fn missing(mailbox: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("mailbox {mailbox:?}"),
    }
}

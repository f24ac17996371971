//! The ACL commands (RFC 4314 §3, RIGHTS=texk): SETACL, DELETEACL, GETACL,
//! LISTRIGHTS and MYRIGHTS. Each names a mailbox, which may be another
//! owner's (`shared.<owner>.M`), and is one call to that owner's Acl
//! service; whether the user may read or change the ACL is that storage
//! process's decision, never this one's.

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::{
    AclModification, DeleteAcl, GetAcl, ListRights, MyRights, SetAcl, acl, list_rights, my_rights,
};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::{
    AclChange, DeleteAclRequest, ListRightsRequest, MailboxAclRequest, SetAclRequest,
};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::state::{Authed, Authenticated};

/// The reply for a refused ACL call: an unknown right letter (or
/// identifier storage cannot take) is the client's mistake, BAD (RFC 4314
/// §3.1); a change storage cannot make (the owner's own entry) is NO
/// [CANNOT] with storage's reason; anything else as any storage error.
fn refused(error: &StorageError) -> Reply {
    let detail = match error {
        StorageError::Status(status) if !status.message().is_empty() => Some(status.message()),
        _ => None,
    };
    match error.reason() {
        ErrorReason::InvalidArgument => {
            Reply::bad(detail.unwrap_or("Invalid rights or identifier").to_owned())
        }
        ErrorReason::Cannot => Reply {
            text: detail
                .unwrap_or("The ACL cannot be changed so")
                .to_owned()
                .into(),
            ..storage_reply(error, Target::Other)
        },
        _ => storage_reply(error, Target::Other),
    }
}

/// The mailbox a command names, resolved; the NO reply if it cannot be.
async fn mailbox(authed: &Authed, name: &str) -> Result<MailboxRef, Reply> {
    Names::new(authed).mailbox(name, Target::Other).await
}

impl Command for SetAcl {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "SETACL",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match mailbox(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let change = match self.modification {
            AclModification::Replace => AclChange::Replace,
            AclModification::Add => AclChange::Add,
            AclModification::Remove => AclChange::Remove,
        };
        let request = SetAclRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
            identifier: self.identifier,
            rights: self.rights,
            change: change as i32,
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.acl().set_acl(request).await }
            })
            .await;
        Ok(Done::reply(match result {
            Ok(_) => Reply::ok("Setacl completed."),
            Err(e) => refused(&e),
        }))
    }
}

impl Command for DeleteAcl {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "DELETEACL",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match mailbox(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = DeleteAclRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
            identifier: self.identifier,
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.acl().delete_acl(request).await }
            })
            .await;
        Ok(Done::reply(match result {
            Ok(_) => Reply::ok("Deleteacl completed."),
            Err(e) => refused(&e),
        }))
    }
}

impl Command for GetAcl {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "GETACL",
        runs: Runs::Beside,
        capability: Some("ACL"),
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match mailbox(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = MailboxAclRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.acl().get_acl(request).await }
            })
            .await;
        let entries: Vec<(String, String)> = match result {
            Ok(answer) => answer
                .entries
                .into_iter()
                .map(|e| (e.identifier, e.rights))
                .collect(),
            Err(e) => return Ok(Done::reply(refused(&e))),
        };
        let mut out = Vec::new();
        let shown = state.authed.shown(&target);
        acl(&mut out, cx.enabled.encoder(), &shown, &entries);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Getacl completed.")))
    }
}

impl Command for ListRights {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "LISTRIGHTS",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match mailbox(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = ListRightsRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
            identifier: self.identifier.clone(),
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.acl().list_rights(request).await }
            })
            .await;
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => return Ok(Done::reply(refused(&e))),
        };
        let mut out = Vec::new();
        let shown = state.authed.shown(&target);
        list_rights(
            &mut out,
            cx.enabled.encoder(),
            &shown,
            &self.identifier,
            &answer.required,
            &answer.optional,
        );
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Listrights completed.")))
    }
}

impl Command for MyRights {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "MYRIGHTS",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match mailbox(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = MailboxAclRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.acl().my_rights(request).await }
            })
            .await;
        let rights = match result {
            Ok(answer) => answer.rights,
            Err(e) => return Ok(Done::reply(refused(&e))),
        };
        let mut out = Vec::new();
        let shown = state.authed.shown(&target);
        my_rights(&mut out, cx.enabled.encoder(), &shown, &rights);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Myrights completed.")))
    }
}

#[cfg(test)]
mod tests {
    use mailkeep_imap_proto::{Code, StatusKind};
    use mailkeep_storage_rpc::errors::status;

    use super::*;

    fn reply(reason: ErrorReason, message: &str) -> Reply {
        refused(&StorageError::Status(status(reason, message)))
    }

    #[test]
    fn an_invalid_argument_is_the_clients_mistake() {
        let r = reply(ErrorReason::InvalidArgument, "unknown right Z");
        assert_eq!(
            (r.kind, r.code, r.text.as_ref()),
            (StatusKind::Bad, None, "unknown right Z")
        );
        let r = reply(ErrorReason::InvalidArgument, "");
        assert_eq!(r.kind, StatusKind::Bad);
        assert!(!r.text.is_empty());
    }

    #[test]
    fn other_refusals_keep_their_codes() {
        let r = reply(ErrorReason::NoPermission, "x");
        assert_eq!((r.kind, r.code), (StatusKind::No, Some(Code::NoPerm)));
        let r = reply(ErrorReason::Nonexistent, "x");
        assert_eq!((r.kind, r.code), (StatusKind::No, Some(Code::NonExistent)));
    }

    #[test]
    fn a_change_storage_cannot_make_says_why() {
        // It said "Not possible" when the owner's own entry was set.
        let r = reply(
            ErrorReason::Cannot,
            "The mailbox's owner always holds every right",
        );
        assert_eq!(
            (r.kind, r.code, r.text.as_ref()),
            (
                StatusKind::No,
                Some(Code::Cannot),
                "The mailbox's owner always holds every right"
            )
        );
    }
}

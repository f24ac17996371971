//! CREATE, DELETE and RENAME (RFC 9051 §6.3.4–6.3.6; CREATE-SPECIAL-USE,
//! RFC 6154 §3).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, Create, Delete, Rename, StatusKind, status_response};
use mailkeep_storage_rpc::storage::{
    CreateMailboxRequest, DeleteMailboxRequest, RenameMailboxRequest, SetSpecialUseRequest,
};

use crate::cmd::common::DELIMITER;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::state::{Authenticated, Transition};

/// Resolves a name a client wants to give a new mailbox, and checks it
/// as its owner's storage will name it.
async fn new_name(names: &mut Names<'_>, name: &str) -> Result<MailboxRef, Reply> {
    let target = names.mailbox(name, Target::Other).await?;
    mailkeep_imap_proto::check_new_mailbox_name(&target.name, DELIMITER)
        .map_err(|reason| Reply::no(reason.to_string()).code(Code::Cannot))?;
    Ok(target)
}

impl Command for Create {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "CREATE",
        runs: Runs::Alone,
        capability: Some("CREATE-SPECIAL-USE"),
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match new_name(&mut Names::new(&state.authed), &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let MailboxRef { owner, name } = target;
        let authed = &state.authed;
        let result = if self.special_use.is_empty() {
            let request = CreateMailboxRequest {
                owner: owner.clone(),
                name,
            };
            authed
                .call(&owner, Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move {
                        rpc.storage()
                            .create_mailbox(request)
                            .await
                            .map(|r| r.map(|created| created.mailbox_id))
                    }
                })
                .await
        } else {
            let request = SetSpecialUseRequest {
                owner: owner.clone(),
                mailbox: name,
                attributes: self.special_use,
                create: true,
            };
            authed
                .call(&owner, Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move {
                        rpc.organize()
                            .set_special_use(request)
                            .await
                            .map(|r| r.map(|created| created.mailbox_id))
                    }
                })
                .await
        };
        Ok(Done::reply(match result {
            // RFC 8474 §4.1: the new mailbox's id comes with the OK.
            Ok(id) if !id.is_empty() => Reply::ok("Create completed.").code(Code::MailboxId(id)),
            Ok(_) => Reply::ok("Create completed."),
            Err(e) => storage_reply(&e, Target::Other),
        }))
    }
}

impl Command for Delete {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "DELETE",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match Names::new(&state.authed)
            .mailbox(&self.mailbox, Target::Other)
            .await
        {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        if target.name == "INBOX" {
            return Ok(Done::reply(
                Reply::no("INBOX cannot be deleted").code(Code::Cannot),
            ));
        }
        let request = DeleteMailboxRequest {
            owner: target.owner.clone(),
            name: target.name.clone(),
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().delete_mailbox(request).await }
            })
            .await;
        if let Err(e) = result {
            return Ok(Done::reply(storage_reply(&e, Target::Other)));
        }
        // RFC 9051 allows deleting the selected mailbox; the session is
        // then back in the authenticated state.
        if state.selected.as_ref().is_some_and(|m| m.is(&target)) {
            let mut out = Vec::new();
            status_response(
                &mut out,
                None,
                StatusKind::Ok,
                Some(&Code::Closed),
                "The selected mailbox was deleted.",
            );
            cx.out.send(&out).await?;
            return Ok(Done::reply(Reply::ok("Delete completed.")).with(Transition::Unselect));
        }
        Ok(Done::reply(Reply::ok("Delete completed.")))
    }
}

impl Command for Rename {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "RENAME",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let mut names = Names::new(&state.authed);
        let from = match names.mailbox(&self.from, Target::Other).await {
            Ok(from) => from,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let to = match new_name(&mut names, &self.to).await {
            Ok(to) => to,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        if from.owner != to.owner {
            return Ok(Done::reply(
                Reply::no("A mailbox cannot be renamed into another user's mailboxes")
                    .code(Code::Cannot),
            ));
        }
        if to
            .name
            .strip_prefix(from.name.as_str())
            .is_some_and(|rest| rest.starts_with(DELIMITER))
        {
            return Ok(Done::reply(
                Reply::no("A mailbox cannot be renamed below itself").code(Code::Cannot),
            ));
        }
        let request = RenameMailboxRequest {
            owner: from.owner.clone(),
            from: from.name.clone(),
            to: to.name.clone(),
        };
        let result = state
            .authed
            .call(&from.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().rename_mailbox(request).await }
            })
            .await;
        if let Err(e) = result {
            return Ok(Done::reply(storage_reply(&e, Target::Other)));
        }
        // A renamed selected mailbox (or parent) stays selected under its
        // new name: the session reselects nothing, storage keeps the UIDs.
        if from.name != "INBOX"
            && let Some(mailbox) = &state.selected
            && mailbox.owner() == from.owner
        {
            mailbox.renamed(&from.name, &to.name);
        }
        Ok(Done::reply(Reply::ok("Rename completed.")))
    }
}

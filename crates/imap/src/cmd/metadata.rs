//! GETMETADATA and SETMETADATA (RFC 5464): server and mailbox annotations,
//! /private and /shared, kept by the storage process.

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::{Code, GetMetadata, MetadataCode, MetadataDepth, SetMetadata, metadata};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::{
    self as pb, GetMetadataRequest, MetadataChange, MetadataLimit, MetadataRefusal,
    SetMetadataRequest,
};
use prost::Message;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::state::{Authed, Authenticated};

/// The mailbox as its owner's storage names it; "" (the server's
/// entries) is the user's own storage's "".
async fn target(authed: &Authed, mailbox: &str) -> Result<MailboxRef, Reply> {
    if mailbox.is_empty() {
        return Ok(MailboxRef {
            owner: authed.user().to_owned(),
            name: String::new(),
        });
    }
    Names::new(authed).mailbox(mailbox, Target::Other).await
}

impl Command for GetMetadata {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "GETMETADATA",
        runs: Runs::Beside,
        capability: Some("METADATA"),
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match target(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = GetMetadataRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
            entries: self.entries.clone(),
            depth: match self.depth {
                MetadataDepth::Zero => pb::MetadataDepth::Zero,
                MetadataDepth::One => pb::MetadataDepth::One,
                MetadataDepth::Infinity => pb::MetadataDepth::Infinity,
            } as i32,
            max_size: self.max_size,
        };
        let found = match state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.metadata().get_metadata(request).await }
            })
            .await
        {
            Ok(found) => found,
            Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
        };
        let mut entries: Vec<(String, Option<Vec<u8>>)> = found
            .entries
            .into_iter()
            .map(|e| (e.name, Some(e.value)))
            .collect();
        // An entry asked for by name that does not exist is NIL (RFC 5464
        // §4.2), unless one too large to send stands for it.
        for asked in &self.entries {
            let present = entries.iter().any(|(n, _)| n.eq_ignore_ascii_case(asked));
            if !present && found.longest_skipped == 0 {
                entries.push((asked.clone(), None));
            }
        }
        if !entries.is_empty() {
            let mut out = Vec::new();
            metadata(&mut out, cx.enabled.encoder(), &self.mailbox, &entries);
            cx.out.send(&out).await?;
        }
        let reply = Reply::ok("GETMETADATA completed.");
        Ok(Done::reply(if found.longest_skipped > 0 {
            reply.code(Code::Metadata(MetadataCode::LongEntries(
                found.longest_skipped,
            )))
        } else {
            reply
        }))
    }
}

impl Command for SetMetadata {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "SETMETADATA",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, _cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let target = match target(&state.authed, &self.mailbox).await {
            Ok(target) => target,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let request = SetMetadataRequest {
            owner: target.owner.clone(),
            mailbox: target.name.clone(),
            entries: self
                .entries
                .iter()
                .map(|(name, value)| MetadataChange {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        };
        let result = state
            .authed
            .call(&target.owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.metadata().set_metadata(request).await }
            })
            .await;
        Ok(Done::reply(match result {
            Ok(_) => Reply::ok("SETMETADATA completed."),
            Err(e) => refusal(&e),
        }))
    }
}

/// The NO for a refused SETMETADATA: a size or count limit as its METADATA
/// code (with the number storage gave), anything else as any storage error.
fn refusal(error: &StorageError) -> Reply {
    if let StorageError::Status(status) = error
        && error.reason() == ErrorReason::Limit
        && let Ok(refusal) = MetadataRefusal::decode(status.details())
    {
        match refusal.limit() {
            MetadataLimit::ValueSize => {
                return Reply::no("Value too large")
                    .code(Code::Metadata(MetadataCode::MaxSize(refusal.maximum)));
            }
            MetadataLimit::Entries => {
                return Reply::no("Too many annotations")
                    .code(Code::Metadata(MetadataCode::TooMany));
            }
            MetadataLimit::Unspecified => {}
        }
    }
    storage_reply(error, Target::Other)
}

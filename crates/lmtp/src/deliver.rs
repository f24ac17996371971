//! One recipient's delivery: a deliver ticket from auth (a userdb lookup,
//! no password), the `+detail` folder if the recipient has it, and the
//! append through the storage path, answered only once the storage process
//! says the message is durable (file and directory fsynced, index
//! committed).

use std::sync::Arc;

use mailkeep_frontend::{AuthLink, Clock, Retry, Storage, StorageError};
use mailkeep_plugin_api::ProtocolPlugins;
use mailkeep_storage_rpc::auth::DeliverRequest;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::{AppendHeader, AppendRequest, MailboxExistsRequest};
use tonic::Code;

use crate::address::Recipient;
use crate::reply::Reply;

/// Where an accepted recipient's copy goes.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The recipient as given.
    pub recipient: Recipient,
    /// The canonical user (owner of the mail).
    pub user: String,
    /// The folder: the `+detail` one when it exists, else INBOX.
    pub folder: String,
    storage: Storage,
}

/// Looks `rcpt` up and gets its deliver ticket and folder: the RCPT reply
/// when that fails (`550 5.1.1` unknown, `451 4.3.0` temporary).
pub async fn resolve(
    auth: &Arc<AuthLink>,
    clock: &Clock,
    rcpt: Recipient,
) -> Result<Mailbox, Reply> {
    let request = DeliverRequest {
        recipient: rcpt.address.clone(),
    };
    let mut answer = None;
    for fresh in [false, true] {
        let mut client = auth
            .client(fresh)
            .await
            .map_err(|e| Reply::temporary(format!("Temporary lookup failure ({e})")))?;
        match client.deliver(request.clone()).await {
            Ok(got) => {
                answer = Some(got.into_inner());
                break;
            }
            Err(status) if status.code() == Code::Unavailable && !fresh => {}
            Err(status) => return Err(lookup_refusal(&status)),
        }
    }
    let Some(got) = answer else {
        return Err(Reply::temporary("Temporary lookup failure"));
    };
    let storage = Storage::for_delivery(
        Arc::clone(auth),
        &got.user,
        zeroize::Zeroizing::new(got.ticket),
        got.expires_unix,
        clock.clone(),
    );
    let folder = match &rcpt.detail {
        Some(detail) => detail_folder(&storage, &got.user, detail).await?,
        None => "INBOX".to_owned(),
    };
    Ok(Mailbox {
        recipient: rcpt,
        user: got.user,
        folder,
        storage,
    })
}

fn lookup_refusal(status: &tonic::Status) -> Reply {
    match status.code() {
        Code::NotFound => Reply::unknown_user(),
        Code::FailedPrecondition => Reply::new(550, "5.2.1", "Mailbox disabled"),
        Code::PermissionDenied => Reply::new(550, "5.7.1", "Delivery not permitted"),
        _ => Reply::temporary("Temporary lookup failure"),
    }
}

/// The folder named `detail` when the user has it, else INBOX.
async fn detail_folder(storage: &Storage, user: &str, detail: &str) -> Result<String, Reply> {
    let owner = user.to_owned();
    let name = detail.to_owned();
    let found = storage
        .call(user, Retry::Idempotent, |rpc| {
            let request = rpc.request(MailboxExistsRequest {
                owner: owner.clone(),
                name: name.clone(),
            });
            async move { rpc.storage().mailbox_exists(request).await }
        })
        .await
        .map_err(|e| storage_refusal(&e))?;
    Ok(if found.exists {
        found.name
    } else {
        "INBOX".to_owned()
    })
}

/// Appends `prefix` + `body` to the mailbox; the recipient's reply.
/// A refusal a plugin has its own reply for (quota: `452 4.2.2` when
/// configured to tempfail) gets that reply.
pub async fn append(
    mailbox: &Mailbox,
    prefix: Vec<u8>,
    body: Arc<Vec<u8>>,
    plugins: &ProtocolPlugins,
) -> Reply {
    let size = u64::try_from(prefix.len() + body.len()).unwrap_or(u64::MAX);
    let owner = mailbox.user.clone();
    let folder = mailbox.folder.clone();
    let prefix = Arc::new(prefix);
    let result = mailbox
        .storage
        .call(&mailbox.user, Retry::Once, |rpc| {
            let header = AppendHeader {
                owner: owner.clone(),
                mailbox: folder.clone(),
                size,
                ..AppendHeader::default()
            };
            let parts = append_parts(header, &prefix, &body);
            let request = rpc.request(tokio_stream::iter(parts));
            async move { rpc.storage().append(request).await }
        })
        .await;
    match result {
        Ok(done) => {
            tracing::info!(user = ?mailbox.user, folder = ?mailbox.folder, uid = done.uid,
                size, "delivered");
            Reply::ok("2.0.0", format!("<{}> Saved", mailbox.recipient.given))
        }
        Err(e) => {
            tracing::warn!(user = ?mailbox.user, folder = ?mailbox.folder, error = %e,
                "delivery failed");
            match plugins.lmtp_refusal(e.reason()) {
                Some(r) => Reply::new(r.code, r.enhanced, r.text),
                None => storage_refusal(&e),
            }
        }
    }
}

/// The Append stream: the header, the bytes in chunks, the commit.
fn append_parts(header: AppendHeader, prefix: &[u8], body: &[u8]) -> Vec<AppendRequest> {
    let chunk = mailkeep_storage_rpc::CHUNK_SIZE;
    let mut parts = vec![AppendRequest {
        part: Some(Part::Header(header)),
    }];
    let mut pending: Vec<u8> = prefix.to_vec();
    for piece in body.chunks(chunk) {
        pending.extend_from_slice(piece);
        if pending.len() >= chunk {
            parts.push(AppendRequest {
                part: Some(Part::Chunk(std::mem::take(&mut pending))),
            });
        }
    }
    if !pending.is_empty() {
        parts.push(AppendRequest {
            part: Some(Part::Chunk(pending)),
        });
    }
    parts.push(AppendRequest::commit());
    parts
}

/// A storage failure as this recipient's reply.
fn storage_refusal(e: &StorageError) -> Reply {
    match e.reason() {
        ErrorReason::OverQuota => Reply::over_quota(),
        ErrorReason::NoSpace => Reply::no_space(),
        ErrorReason::TooBig => Reply::new(552, "5.3.4", "Message too big for this mailbox"),
        _ => Reply::temporary("Temporary storage failure, try again later"),
    }
}

/// Recipient lookups for a plugin that serves a listener of this process
/// (the quota policy service): RCPT TO's lookup, deliver ticket and all.
pub(crate) struct Lookup(pub(crate) Arc<crate::process::Process>);

impl mailkeep_plugin_api::RecipientLookup for Lookup {
    fn lookup<'a>(
        &'a self,
        address: &'a str,
    ) -> futures::future::BoxFuture<'a, mailkeep_plugin_api::Lookup> {
        Box::pin(async move {
            let process = &self.0;
            let rcpt = Recipient::parse(address, &process.settings.recipient_delimiter);
            match resolve(&process.auth, &process.clock, rcpt).await {
                Ok(mailbox) => mailkeep_plugin_api::Lookup::Found(mailkeep_plugin_api::Recipient {
                    user: mailbox.user,
                    storage: mailbox.storage,
                }),
                Err(reply) if reply.code >= 500 => mailkeep_plugin_api::Lookup::Unknown,
                Err(_) => mailkeep_plugin_api::Lookup::Failed,
            }
        })
    }
}

//! One recipient's delivery: a deliver ticket from auth (a userdb lookup,
//! no password) and the `+detail` folder if the recipient has it, or the
//! other owner's mailbox it names (`+shared.alice.Team`, `+Public.News`;
//! see [`crate::shared`]) if the owner lets the recipient post there. The
//! append itself streams through [`crate::fanout`], answered only once the
//! storage process says the message is durable (file and directory
//! fsynced, index committed).

use std::sync::Arc;

use mailkeep_frontend::auth_link::{CallError, Purpose};
use mailkeep_frontend::{AuthLink, Clock, Retry, Storage, StorageError};
use mailkeep_plugin_api::ProtocolPlugins;
use mailkeep_storage_rpc::auth::DeliverRequest;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::MailboxExistsRequest;
use tonic::Code;

use crate::address::Recipient;
use crate::process::Process;
use crate::recipients::RecipientCache;
use crate::reply::Reply;
use crate::shared::Target;

/// Where an accepted recipient's copy goes.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The recipient as given.
    pub recipient: Recipient,
    /// The canonical user the recipient is (whose deliver ticket it is).
    pub user: String,
    /// The owner of the mailbox the copy goes into: the user, or another
    /// owner who lets the user post into a shared mailbox.
    pub owner: String,
    /// The folder (of `owner`): the `+detail` one when it exists (and,
    /// another owner's, takes the user's posts), else the user's INBOX.
    pub folder: String,
    pub(crate) storage: Storage,
}

/// Looks `rcpt` up and gets its deliver ticket and folder: the RCPT reply
/// when that fails (`550 5.1.1` unknown, `451 4.3.0` temporary, also when
/// the storage of another owner the detail names cannot be reached). A
/// recipient in the process's cache is not asked about again.
pub async fn resolve(process: &Process, rcpt: Recipient) -> Result<Mailbox, Reply> {
    let (auth, clock, cache) = (&process.auth, &process.clock, &process.recipients);
    let (user, storage) = match cache.get(&rcpt.address, clock.now_unix()) {
        Some(found) => found,
        None => lookup(auth, clock, cache, &rcpt).await?,
    };
    let (owner, folder) = match &rcpt.detail {
        Some(detail) => {
            let public_owner = &process.settings.public_owner;
            detail_target(&storage, &user, detail, public_owner).await?
        }
        None => (user.clone(), INBOX.to_owned()),
    };
    Ok(Mailbox {
        recipient: rcpt,
        user,
        owner,
        folder,
        storage,
    })
}

/// The fallback folder, of the recipient's own.
const INBOX: &str = "INBOX";

/// The owner and folder `detail` names for `user`: a folder of the user's
/// own if it exists, another owner's mailbox if that owner lets the user
/// post there, else the user's INBOX (logged with the reason).
async fn detail_target(
    storage: &Storage,
    user: &str,
    detail: &str,
    public_owner: &str,
) -> Result<(String, String), Reply> {
    let owners = if crate::shared::is_shared(detail) {
        storage.sharing_owners().await.unwrap_or_else(|e| {
            tracing::warn!(user, detail, error = %e,
                "owners sharing with the recipient not known; taking the first name as the owner");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let fallback = || (user.to_owned(), INBOX.to_owned());
    match crate::shared::target(user, detail, public_owner, &owners) {
        Target::Own(name) => Ok((user.to_owned(), detail_folder(storage, user, &name).await?)),
        Target::Nowhere(why) => {
            tracing::info!(
                user,
                detail,
                why,
                "detail names no mailbox; delivering to INBOX"
            );
            Ok(fallback())
        }
        Target::Other { owner, mailbox } => match shared_folder(storage, &owner, &mailbox).await? {
            Some(name) => {
                tracing::info!(
                    user,
                    owner,
                    mailbox = name,
                    "delivering into a shared mailbox"
                );
                Ok((owner, name))
            }
            None => Ok(fallback()),
        },
    }
}

/// `owner`'s `mailbox` as the delivery names it, if the owner's storage
/// process says the recipient (whose deliver ticket `storage` holds) may
/// post there; `None` (logged) when the mailbox does not exist or the
/// recipient lacks 'p' on it (the storage process does not say which
/// unless the recipient may look the mailbox up). An owner whose storage
/// cannot be reached gets the recipient a `451 4.3.0`.
async fn shared_folder(
    storage: &Storage,
    owner: &str,
    mailbox: &str,
) -> Result<Option<String>, Reply> {
    let asked = storage
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(MailboxExistsRequest {
                owner: owner.to_owned(),
                name: mailbox.to_owned(),
            });
            async move { rpc.storage().mailbox_exists(request).await }
        })
        .await;
    let user = storage.user();
    match asked {
        Ok(found) if found.exists => Ok(Some(found.name)),
        Ok(_) => {
            tracing::info!(
                user,
                owner,
                mailbox,
                "no such shared mailbox; delivering to INBOX"
            );
            Ok(None)
        }
        Err(e)
            if matches!(
                e.reason(),
                ErrorReason::Nonexistent | ErrorReason::NoPermission
            ) =>
        {
            tracing::info!(user, owner, mailbox, reason = %e,
                "shared mailbox missing, or no 'p' (post) right on it for the recipient; delivering to INBOX");
            Ok(None)
        }
        Err(e) => {
            tracing::warn!(user, owner, mailbox, error = %e,
                "the shared mailbox's owner cannot be reached");
            Err(Reply::temporary(format!(
                "Temporary failure reaching {owner}'s mail, try again later"
            )))
        }
    }
}

/// Asks auth for `rcpt`'s user and deliver ticket, and keeps the answer in
/// `cache`.
async fn lookup(
    auth: &Arc<AuthLink>,
    clock: &Clock,
    cache: &RecipientCache,
    rcpt: &Recipient,
) -> Result<(String, Storage), Reply> {
    // The ticket comes back sealed to where the request says (a chain
    // index of the connection it goes over, or a key of its own).
    let looked_up = auth
        .call(true, true, |mut client, seal| {
            let request = DeliverRequest {
                recipient: rcpt.address.clone(),
                reply_key: seal.reply_key,
                reply_index: seal.reply_index,
            };
            async move { client.deliver(request).await }
        })
        .await;
    let (got, reply) = match looked_up {
        Ok((got, Some(reply))) => (got.into_inner(), reply),
        Ok((_, None)) => return Err(Reply::temporary("Temporary lookup failure")),
        Err(CallError::NoConnection(e)) => {
            return Err(Reply::temporary(format!("Temporary lookup failure ({e})")));
        }
        Err(CallError::Failed(status)) => return Err(lookup_refusal(&status)),
    };
    let ticket = reply
        .open(&got.sealed_ticket, Purpose::Deliver, &got.user)
        .map_err(|error| {
            tracing::warn!(%error, user = ?got.user, "auth's sealed deliver ticket does not open");
            Reply::temporary("Temporary lookup failure")
        })?;
    let storage = Storage::for_delivery(
        Arc::clone(auth),
        &got.user,
        ticket,
        got.expires_unix,
        clock.clone(),
    );
    cache.put(
        &rcpt.address,
        &got.user,
        &storage,
        clock.now_unix(),
        got.expires_unix,
    );
    Ok((got.user, storage))
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
        INBOX.to_owned()
    })
}

/// A storage failure as this recipient's reply: the plugins' own reply for
/// a refusal they know (quota: `452 4.2.2` when configured to tempfail),
/// else the base one.
pub(crate) fn refusal(e: &StorageError, plugins: &ProtocolPlugins) -> Reply {
    match plugins.lmtp_refusal(e.reason()) {
        Some(r) => Reply::new(r.code, r.enhanced, r.text),
        None => storage_refusal(e),
    }
}

/// A storage failure as this recipient's reply.
pub(crate) fn storage_refusal(e: &StorageError) -> Reply {
    match e.reason() {
        ErrorReason::OverQuota => Reply::over_quota(),
        ErrorReason::NoSpace => Reply::no_space(),
        ErrorReason::TooBig => Reply::new(552, "5.3.4", "Message too big for this mailbox"),
        _ => Reply::temporary("Temporary storage failure, try again later"),
    }
}

/// Recipient lookups for a plugin that serves a listener of this process
/// (the quota policy service): RCPT TO's lookup, deliver ticket and all,
/// of the recipient itself: a `+detail` is not followed (into another
/// owner's shared mailbox, whose quota the recipient's deliver ticket may
/// not read; that owner's storage process judges it at delivery), so the
/// policy judges the recipient's own quota root, as Dovecot's does.
pub(crate) struct Lookup(pub(crate) Arc<crate::process::Process>);

impl mailkeep_plugin_api::RecipientLookup for Lookup {
    fn lookup<'a>(
        &'a self,
        address: &'a str,
    ) -> futures::future::BoxFuture<'a, mailkeep_plugin_api::Lookup> {
        Box::pin(async move {
            let process = &self.0;
            let mut rcpt = Recipient::parse(address, &process.settings.recipient_delimiter);
            rcpt.detail = None;
            match resolve(process, rcpt).await {
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

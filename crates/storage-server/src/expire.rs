//! Expiry in the owner's storage process (never a root process opening
//! mail files): `mailkeep admin expunge` (passed by the master on the
//! control socket) and per-folder autoexpunge (`[storage] autoexpunge`),
//! which runs for every owner the process serves while it runs or
//! lingers. Watchers and plugins hear of the removals as of any expunge.

use std::sync::Arc;
use std::time::Duration;

use mailkeep_storage_rpc::broker::{ControlReply, ExpireMessages};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_store::SearchKey;
use tonic::Status;

use crate::gate::Gate;

/// One autoexpunge rule: messages of `mailbox` saved longer ago than
/// `older_than` go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoExpunge {
    /// The mailbox name (each owner's).
    pub mailbox: String,
    /// How old a message may get.
    pub older_than: Duration,
}

/// The search key of the flag conditions of an [`ExpireMessages`]
/// (`None`: every message).
fn flags_key(flags: &[String]) -> Result<Option<SearchKey>, String> {
    let keys = flags
        .iter()
        .map(|flag| {
            Ok(match flag.to_ascii_lowercase().as_str() {
                "seen" => SearchKey::Seen,
                "unseen" => SearchKey::Unseen,
                "deleted" => SearchKey::Deleted,
                "undeleted" => SearchKey::Undeleted,
                "flagged" => SearchKey::Flagged,
                "unflagged" => SearchKey::Unflagged,
                other => return Err(format!("unknown condition {other:?}")),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((!keys.is_empty()).then_some(SearchKey::And(keys)))
}

/// Removes the messages of `owner`'s `mailbox` that match `key` and were
/// saved at or before `saved_until`, tells watchers and plugins, and
/// returns how many went.
async fn expire(
    gate: &Gate,
    owner: &str,
    mailbox: &str,
    key: Option<SearchKey>,
    saved_until: Option<i64>,
) -> Result<usize, Status> {
    let store = gate.store_of(owner)?;
    let name = mailbox.to_owned();
    let expired = gate
        .run(owner, move || {
            store.expire(&name, key.as_ref(), saved_until)
        })
        .await?;
    let count = expired.expunged.uids.len();
    if count > 0 {
        gate.changes().publish_mailbox(
            owner,
            mailbox,
            expired.uidvalidity,
            expired.expunged.highestmodseq,
            pb::WatchChangeKind::Expunge,
            None,
        );
        for plugin in gate.plugins().iter() {
            plugin.after_expunge(owner, mailbox);
        }
    }
    Ok(count)
}

/// Serves an [`ExpireMessages`] from the master; the reply names how many
/// messages went, or why none did.
pub(crate) async fn serve_request(gate: &Gate, asked: ExpireMessages) -> ControlReply {
    let outcome = match flags_key(&asked.flags) {
        Ok(key) => {
            let until = (asked.saved_until_unix != 0).then_some(asked.saved_until_unix);
            expire(gate, &asked.owner, &asked.mailbox, key, until)
                .await
                .map_err(|e| e.message().to_owned())
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(count) => {
            tracing::info!(owner = %asked.owner, mailbox = %asked.mailbox, count,
                "admin expunge: messages removed");
            ControlReply {
                request_id: asked.request_id,
                count: count as u64,
                ..ControlReply::default()
            }
        }
        Err(error) => ControlReply {
            request_id: asked.request_id,
            error,
            ..ControlReply::default()
        },
    }
}

/// Applies `rules` to every owner served, every `every`, the first time
/// at once: the messages older than a rule's age leave its mailbox (an
/// owner without that mailbox is skipped).
pub(crate) async fn autoexpunge_loop(gate: Arc<Gate>, rules: Vec<AutoExpunge>, every: Duration) {
    if rules.is_empty() {
        return;
    }
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let now = mailkeep_ticket::now_unix();
        for owner in gate.owners() {
            for rule in &rules {
                let age = i64::try_from(rule.older_than.as_secs()).unwrap_or(i64::MAX);
                let until = now.saturating_sub(age);
                match expire(&gate, &owner, &rule.mailbox, None, Some(until)).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(%owner, mailbox = %rule.mailbox, count,
                        "autoexpunged messages older than the folder's limit"),
                    Err(e) if is_missing(&e) => {}
                    Err(e) => tracing::warn!(%owner, mailbox = %rule.mailbox, error = %e.message(),
                        "autoexpunge failed"),
                }
            }
        }
    }
}

fn is_missing(status: &Status) -> bool {
    mailkeep_storage_rpc::errors::reason_of(status)
        == mailkeep_storage_rpc::errors::ErrorReason::Nonexistent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_conditions_are_anded_and_unknown_ones_refused() {
        assert_eq!(flags_key(&[]), Ok(None));
        assert_eq!(
            flags_key(&["Seen".into(), "undeleted".into()]),
            Ok(Some(SearchKey::And(vec![
                SearchKey::Seen,
                SearchKey::Undeleted
            ])))
        );
        assert!(flags_key(&["larger".into()]).is_err());
    }
}

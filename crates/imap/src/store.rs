//! STORE and UID STORE: FLAGS, +FLAGS, -FLAGS, .SILENT and UNCHANGEDSINCE.

use mailkeep_imap_proto::{SequenceSet, StoreMode};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::{StoreFlagsRequest, StoreMode as RpcMode};

use crate::backend::Backend;
use crate::errors::{Context, ImapError, Reply, call_reply};
use crate::mailbox::{ranges, set_reply};
use crate::response;
use crate::session::Session;

/// Drops `\Recent` (never settable by clients) from a flag list.
pub(crate) fn settable(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .cloned()
        .collect()
}

impl<B: Backend> Session<B> {
    /// STORE / UID STORE.
    pub async fn store(
        &mut self,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: &[String],
        uid: bool,
        unchanged_since: Option<u64>,
    ) -> Result<Reply, ImapError> {
        let Some(view) = &self.view else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        if view.read_only {
            return Ok(Reply::no_code("CANNOT", "Mailbox is read-only"));
        }
        let uids = match view.resolve(set, uid) {
            Ok(uids) => uids,
            Err(e) => return Ok(set_reply(e)),
        };
        if uids.is_empty() {
            return Ok(Reply::ok("Store completed."));
        }
        let mode = match mode {
            StoreMode::Replace => RpcMode::Replace,
            StoreMode::Add => RpcMode::Add,
            StoreMode::Remove => RpcMode::Remove,
        };
        let request = StoreFlagsRequest {
            owner: self.owner(),
            mailbox: view.mailbox.clone(),
            uidvalidity: view.uidvalidity,
            uids: ranges(&uids),
            mode: mode as i32,
            flags: settable(flags),
            unchanged_since: unchanged_since.unwrap_or(0),
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.store_flags(request).await }
            })
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        let Some(view) = self.view.as_mut() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        for m in response.updated {
            view.set_flags(m.uid, m.flags);
        }
        let mut out = Vec::new();
        if !silent {
            for &u in &uids {
                if response.failed.contains(&u) || view.is_pending_expunge(u) {
                    continue;
                }
                if let (Some(seq), Some(flags)) = (view.seq_of(u), view.flags_of(u)) {
                    response::fetch_flags(&mut out, seq, uid.then_some(u), flags);
                }
            }
        }
        let failed: Vec<u32> = if uid {
            response.failed.clone()
        } else {
            response
                .failed
                .iter()
                .filter_map(|&u| view.seq_of(u))
                .collect()
        };
        self.send(&out).await?;
        if failed.is_empty() {
            Ok(Reply::ok("Store completed."))
        } else {
            Ok(Reply::ok_code(
                format!("MODIFIED {}", response::sequence_set(&failed)),
                "Conditional store failed.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_not_settable() {
        let flags = vec![
            "\\Seen".to_string(),
            "\\recent".to_string(),
            "foo".to_string(),
        ];
        assert_eq!(
            settable(&flags),
            vec!["\\Seen".to_string(), "foo".to_string()]
        );
    }
}

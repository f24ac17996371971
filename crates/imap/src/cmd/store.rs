//! STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162
//! §3.1.3).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, SequenceSet, Store, StoreMode};
use mailkeep_storage_rpc::storage::{StoreFlagsRequest, StoreMode as RpcMode};

use crate::cmd::common::{ranges, resolve};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::state::Selected;
use crate::updates::fetch_head;

/// Drops `\Recent` (never settable by clients) from a flag list.
pub(crate) fn settable(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .cloned()
        .collect()
}

impl Command for Store {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "STORE",
        runs: Runs::Alone,
        capability: None,
    };

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        let mailbox = &state.mailbox;
        if mailbox.read_only {
            return Ok(Done::reply(
                Reply::no("Mailbox is read-only").code(Code::Cannot),
            ));
        }
        let uids = match resolve(&mailbox.view(), &self.set, self.uid) {
            Ok(uids) => uids,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let enabled = if self.unchanged_since.is_some() {
            cx.enabled.union(Enabled::condstore())
        } else {
            cx.enabled
        };
        let done = |reply: Reply| {
            let done = Done::reply(reply);
            if enabled != cx.enabled {
                done.enabling(enabled)
            } else {
                done
            }
        };
        if uids.is_empty() {
            return Ok(done(Reply::ok("Store completed.")));
        }
        let mode = match self.mode {
            StoreMode::Replace => RpcMode::Replace,
            StoreMode::Add => RpcMode::Add,
            StoreMode::Remove => RpcMode::Remove,
        };
        let request = StoreFlagsRequest {
            owner: state.owner().to_owned(),
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            uids: ranges(&uids),
            mode: mode as i32,
            flags: settable(&self.flags),
            unchanged_since: self.unchanged_since,
        };
        let response = match state
            .call(Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().store_flags(request).await }
            })
            .await
        {
            Ok(response) => response,
            Err(e) => return Ok(done(storage_reply(&e, Target::Other))),
        };
        let mut out = Vec::new();
        for m in &response.updated {
            mailbox.announce_keywords(&m.flags, &mut out);
        }
        let modseqs: std::collections::HashMap<u32, u64> =
            response.updated.iter().map(|m| (m.uid, m.modseq)).collect();
        let some_expunged = response.found < uids.len() as u64;
        let failed: Vec<u32> = {
            let mut view = mailbox.view();
            for m in &response.updated {
                view.set_flags(m.uid, m.flags.clone());
            }
            view.own_change(response.previous_highestmodseq, response.highestmodseq);
            // Looked up once per message of the set, which may be the
            // whole mailbox.
            let failed: std::collections::HashSet<u32> = response.failed.iter().copied().collect();
            for &u in &uids {
                if failed.contains(&u) {
                    continue;
                }
                // Another session expunged some of them: only the messages
                // that changed are known to exist (the others' flags in the
                // view might be a message's that is gone).
                if some_expunged && !modseqs.contains_key(&u) {
                    continue;
                }
                let (Some(seq), Some(flags)) = (view.seq_of(u), view.flags_of(u)) else {
                    continue;
                };
                // RFC 7162 §3.1.3: with CONDSTORE, a .SILENT store still
                // tells the client the new MODSEQ of what changed.
                let modseq = modseqs.get(&u).filter(|_| enabled.condstore);
                if self.silent && modseq.is_none() {
                    continue;
                }
                let mut fetch = fetch_head(enabled, seq, u, self.uid);
                if !self.silent {
                    fetch.flags_recent(flags, view.is_recent(u));
                }
                if let Some(modseq) = modseq {
                    fetch.modseq(*modseq);
                }
                out.extend_from_slice(&fetch.finish());
            }
            if self.uid {
                response.failed.clone()
            } else {
                response
                    .failed
                    .iter()
                    .filter_map(|&u| view.seq_of(u))
                    .collect()
            }
        };
        cx.out.send(&out).await?;
        if response.failed.is_empty() {
            // RFC 2180 §4.2.1: the others were stored; the client learns of
            // the expunge at its next NOOP.
            if some_expunged {
                return Ok(done(
                    Reply::ok("Some messages were already expunged.").code(Code::ExpungeIssued),
                ));
            }
            return Ok(done(Reply::ok("Store completed.")));
        }
        Ok(done(
            Reply::ok("Conditional store failed for some messages.")
                .code(Code::Modified(SequenceSet::from_numbers(failed))),
        ))
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

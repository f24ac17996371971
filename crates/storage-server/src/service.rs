//! The Storage gRPC service: each call is admitted by the [`Gate`], then
//! runs its store work on a blocking thread (SQLite and fsync block).

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::storage_server::Storage;
use mailkeep_store::{DELIMITER, UidRange};
use mailkeep_ticket::Scope;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{flags_msg, ranges, status_msg, store_mode};
use crate::gate::{Admitted, Gate};
use crate::guest::Actor;
use crate::watch::bus::delta as watch_delta;

/// The Storage service over the stores of the owners this process serves.
pub(crate) struct StorageService {
    pub(crate) gate: std::sync::Arc<Gate>,
    /// Most mailboxes one owner may have.
    pub(crate) max_mailboxes: u64,
}

#[tonic::async_trait]
impl Storage for StorageService {
    async fn list_mailboxes(
        &self,
        request: Request<pb::ListMailboxesRequest>,
    ) -> Result<Response<pb::ListMailboxesResponse>, Status> {
        let Admitted {
            owner,
            store,
            actor,
            ..
        } = self.gate.admit_call(request, "ListMailboxes").await?;
        let list = self
            .gate
            .run(&owner, move || {
                let mut list = store.list()?;
                // A guest sees only the mailboxes the ACLs let them look up.
                if let Some(guest) = actor.guest() {
                    let visible: std::collections::HashSet<String> = store
                        .mailboxes_visible_to(guest)?
                        .into_iter()
                        .map(|(name, _)| name)
                        .collect();
                    list.retain(|m| visible.contains(&m.name));
                }
                Ok(list)
            })
            .await?;
        Ok(Response::new(pb::ListMailboxesResponse {
            mailboxes: list
                .into_iter()
                .map(|m| pb::MailboxInfo {
                    name: m.name,
                    attributes: m.attributes,
                    mailbox_id: m.mailbox_id,
                })
                .collect(),
            delimiter: DELIMITER.to_string(),
        }))
    }

    async fn create_mailbox(
        &self,
        request: Request<pb::CreateMailboxRequest>,
    ) -> Result<Response<pb::CreateMailboxResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "CreateMailbox").await?;
        let max = self.max_mailboxes;
        let (name, mailbox_id) = self
            .gate
            .run(&owner, move || {
                let id = store.create_within(&req.name, max)?;
                inherit_acl(&store, &req.name)?;
                Ok((req.name, id))
            })
            .await?;
        self.gate
            .changes()
            .publish_list(&owner, pb::ListChangeKind::Created, &name, "");
        for plugin in self.gate.plugins().iter() {
            plugin.mailbox_created(&owner, &name);
        }
        Ok(Response::new(pb::CreateMailboxResponse { mailbox_id }))
    }

    async fn delete_mailbox(
        &self,
        request: Request<pb::DeleteMailboxRequest>,
    ) -> Result<Response<pb::DeleteMailboxResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "DeleteMailbox").await?;
        let name = self
            .gate
            .run(&owner, move || store.delete(&req.name).map(|()| req.name))
            .await?;
        self.gate
            .changes()
            .publish_list(&owner, pb::ListChangeKind::Deleted, &name, "");
        for plugin in self.gate.plugins().iter() {
            plugin.mailbox_deleted(&owner, &name);
        }
        Ok(Response::new(pb::DeleteMailboxResponse {}))
    }

    async fn rename_mailbox(
        &self,
        request: Request<pb::RenameMailboxRequest>,
    ) -> Result<Response<pb::RenameMailboxResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "RenameMailbox").await?;
        let (from, to) = self
            .gate
            .run(&owner, move || {
                store
                    .rename(&req.from, &req.to)
                    .map(|()| (req.from, req.to))
            })
            .await?;
        self.gate
            .changes()
            .publish_list(&owner, pb::ListChangeKind::Renamed, &from, &to);
        for plugin in self.gate.plugins().iter() {
            plugin.mailbox_renamed(&owner, &from, &to);
        }
        Ok(Response::new(pb::RenameMailboxResponse {}))
    }

    async fn mailbox_status(
        &self,
        request: Request<pb::MailboxStatusRequest>,
    ) -> Result<Response<pb::MailboxStatusResponse>, Status> {
        // STATUS RECENT counts rows: on a store thread.
        let with_recent = request.get_ref().with_recent;
        let (status, recent) = self
            .gate
            .serve_settled(
                request,
                "MailboxStatus",
                move |store, req| {
                    if with_recent {
                        return Ok(None);
                    }
                    Ok(store.status_if_settled(&req.name)?.map(|s| (s, 0)))
                },
                move |store, req, actor| {
                    let status = store.status_as(&req.name, actor.viewer())?;
                    let recent = if with_recent {
                        store.recent_count(&req.name)?
                    } else {
                        0
                    };
                    Ok((status, recent))
                },
            )
            .await?;
        Ok(Response::new(pb::MailboxStatusResponse {
            status: Some(pb::MailboxStatus {
                recent,
                ..status_msg(&status)
            }),
        }))
    }

    async fn select_mailbox(
        &self,
        request: Request<pb::SelectMailboxRequest>,
    ) -> Result<Response<pb::SelectMailboxResponse>, Status> {
        let with_ids = request.get_ref().with_object_ids;
        let recent = request.get_ref().recent();
        // Whether this view's messages hold some that are not claimed
        // yet, and the SELECT is to claim them: a write, on a store
        // thread (the settled read runs on the caller's).
        let claims = move |selected: &mailkeep_store::Selected| {
            recent == pb::RecentMode::RecentClaim && selected.first_recent < selected.status.uidnext
        };
        let selected = self
            .gate
            .serve_settled(
                request,
                "SelectMailbox",
                // Without object ids the store may answer from the view
                // it read last, if the mailbox did not change since.
                move |store, req| {
                    let selected = if with_ids {
                        store.select_if_settled(&req.name)?
                    } else {
                        store.select_flags_if_settled(&req.name)?
                    };
                    Ok(selected.filter(|selected| !claims(selected)))
                },
                move |store, req, actor| {
                    let mut selected = if with_ids {
                        store.select_as(&req.name, actor.viewer())?
                    } else {
                        store.select_flags_as(&req.name, actor.viewer())?
                    };
                    if claims(&selected) {
                        let status = &selected.status;
                        selected.first_recent = store.claim_recent(
                            &req.name,
                            status.uidvalidity,
                            status.uidnext.saturating_sub(1),
                        )?;
                    }
                    Ok(selected)
                },
            )
            .await?;
        Ok(Response::new(pb::SelectMailboxResponse {
            status: Some(status_msg(&selected.status)),
            messages: selected
                .messages
                .iter()
                .map(|m| flags_msg(m, with_ids))
                .collect(),
            keywords_full: selected.keywords.len() as u64 >= mailkeep_store::MAX_KEYWORDS,
            keywords: selected.keywords,
            first_recent_uid: match recent {
                pb::RecentMode::RecentNone => 0,
                pb::RecentMode::RecentPeek | pb::RecentMode::RecentClaim => selected.first_recent,
            },
        }))
    }

    async fn changes(
        &self,
        request: Request<pb::ChangesRequest>,
    ) -> Result<Response<pb::ChangesResponse>, Status> {
        let changes = self
            .gate
            .serve_settled(
                request,
                "Changes",
                |store, req| {
                    store.changes_if_settled(&req.mailbox, req.uidvalidity, req.since_modseq)
                },
                |store, req, actor| {
                    store.changes_since_as(
                        &req.mailbox,
                        req.uidvalidity,
                        req.since_modseq,
                        actor.viewer(),
                    )
                },
            )
            .await?;
        Ok(Response::new(pb::ChangesResponse {
            status: Some(status_msg(&changes.status)),
            changed: changes.changed.iter().map(|m| flags_msg(m, true)).collect(),
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
        let call = self.gate.admit_call(request, "Fetch").await?;
        crate::fetch::fetch(&self.gate, call.store, call.actor, call.req).await
    }

    async fn store_flags(
        &self,
        request: Request<pb::StoreFlagsRequest>,
    ) -> Result<Response<pb::StoreFlagsResponse>, Status> {
        let Admitted {
            owner,
            store,
            actor,
            req,
        } = self.gate.admit_call(request, "StoreFlags").await?;
        let mode = store_mode(req.mode)?;
        let uids = ranges(&req.uids);
        let unchanged_since = req.unchanged_since;
        let watched = (req.mailbox.clone(), req.uidvalidity);
        let by_owner = matches!(actor, Actor::Owner);
        // A change of a few messages is made on this thread when nothing
        // makes it wait (see `Store::store_flags_now`): the hand-over to a
        // store thread and back costs more than the change.
        let now = if few_messages(&uids) {
            self.gate.run_settled(|| {
                store.store_flags_now(
                    actor.viewer(),
                    &req.mailbox,
                    req.uidvalidity,
                    &uids,
                    mode,
                    &req.flags,
                    unchanged_since,
                )
            })?
        } else {
            None
        };
        let stored = match now {
            Some(stored) => {
                self.gate.touch(&owner);
                stored
            }
            None => {
                self.gate
                    .run(&owner, move || {
                        store.store_flags_as(
                            actor.viewer(),
                            &req.mailbox,
                            req.uidvalidity,
                            &uids,
                            mode,
                            &req.flags,
                            unchanged_since,
                        )
                    })
                    .await?
            }
        };
        let updated: Vec<pb::MessageFlags> =
            stored.updated.iter().map(|m| flags_msg(m, true)).collect();
        if let Some(modseq) = stored.updated.iter().map(|m| m.modseq).max() {
            let kind = pb::WatchChangeKind::Flags;
            let (from, to) = (stored.previous_highestmodseq, stored.highestmodseq);
            let delta = || {
                whole_for_owner(by_owner, watched.1)
                    .then(|| watch_delta(from, to, updated.iter().cloned(), &[]))
                    .flatten()
            };
            self.gate
                .changes()
                .publish_whole(&owner, &watched.0, watched.1, modseq, kind, None, delta);
        }
        Ok(Response::new(pb::StoreFlagsResponse {
            updated,
            failed: stored.failed,
            previous_highestmodseq: stored.previous_highestmodseq,
            highestmodseq: stored.highestmodseq,
            found: stored.found,
        }))
    }

    async fn expunge(
        &self,
        request: Request<pb::ExpungeRequest>,
    ) -> Result<Response<pb::ExpungeResponse>, Status> {
        let Admitted {
            owner,
            store,
            req,
            actor,
        } = self.gate.admit_call(request, "Expunge").await?;
        let uids = ranges(&req.uids);
        let watched = (req.mailbox.clone(), req.uidvalidity);
        let expunged = self
            .gate
            .run(&owner, move || {
                let only = (!uids.is_empty()).then_some(uids.as_slice());
                store.expunge(&req.mailbox, req.uidvalidity, only)
            })
            .await?;
        if !expunged.uids.is_empty() {
            let (modseq, kind) = (expunged.highestmodseq, pb::WatchChangeKind::Expunge);
            let (from, uids) = (expunged.previous_highestmodseq, &expunged.uids);
            let delta = || {
                whole_for_owner(matches!(actor, Actor::Owner), watched.1)
                    .then(|| watch_delta(from, modseq, std::iter::empty(), uids))
                    .flatten()
            };
            self.gate
                .changes()
                .publish_whole(&owner, &watched.0, watched.1, modseq, kind, None, delta);
            for plugin in self.gate.plugins().iter() {
                plugin.after_expunge(&owner, &watched.0);
            }
        }
        Ok(Response::new(pb::ExpungeResponse {
            expunged: expunged.uids,
            highestmodseq: expunged.highestmodseq,
            previous_highestmodseq: expunged.previous_highestmodseq,
        }))
    }

    async fn claim_recent(
        &self,
        request: Request<pb::ClaimRecentRequest>,
    ) -> Result<Response<pb::ClaimRecentResponse>, Status> {
        let first_recent_uid = self
            .gate
            .serve(request, "ClaimRecent", |store, req| {
                store.claim_recent(&req.mailbox, req.uidvalidity, req.up_to_uid)
            })
            .await?;
        Ok(Response::new(pb::ClaimRecentResponse { first_recent_uid }))
    }

    async fn mailbox_exists(
        &self,
        request: Request<pb::MailboxExistsRequest>,
    ) -> Result<Response<pb::MailboxExistsResponse>, Status> {
        // LMTP's +detail: a deliver ticket may ask this, and learns no more.
        let found = self
            .gate
            .serve_scoped(request, "MailboxExists", Scope::Deliver, |store, req| {
                store.mailbox_exists(&req.name)
            })
            .await?;
        Ok(Response::new(pb::MailboxExistsResponse {
            exists: found.is_some(),
            name: found.unwrap_or_default(),
        }))
    }
}

/// A new mailbox starts with its parent's ACL (as Dovecot's ACL
/// inheritance does), so that what a user creates in a shared folder stays
/// shared with the same people, the creator included. A top-level mailbox
/// or one whose parent does not exist starts with none.
fn inherit_acl(
    store: &mailkeep_store::Store,
    name: &str,
) -> Result<(), mailkeep_store::StoreError> {
    let Some(parent) = crate::guest::parent_of(name) else {
        return Ok(());
    };
    let entries = match store.acl(parent) {
        Ok(entries) => entries,
        Err(mailkeep_store::StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        store.set_acl(
            name,
            &entry.identifier,
            entry.rights,
            mailkeep_store::AclChange::Replace,
        )?;
    }
    Ok(())
}

/// Whether a change to messages is announced whole (see
/// `crate::watch::bus::delta`): made by the owner, whose watchers see the
/// owner's flags (a guest's `\Seen` is its own), and in a call that named
/// the UIDVALIDITY the store checked (otherwise the event's is only the
/// last one announced).
fn whole_for_owner(by_owner: bool, uidvalidity: u32) -> bool {
    by_owner && uidvalidity != 0
}

/// A STORE of at most this many messages may be made on the async thread.
const FEW_MESSAGES: u64 = 8;

/// Whether `uids` name at most [`FEW_MESSAGES`] UIDs (a range to `*`
/// names many).
fn few_messages(uids: &[UidRange]) -> bool {
    UidRange::spanned(uids).is_some_and(|n| n <= FEW_MESSAGES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_messages_counts_ranges_either_way_round_and_star_as_many() {
        assert!(few_messages(&[UidRange::new(5, 5)]));
        assert!(few_messages(&[UidRange::new(1, 4), UidRange::new(10, 13)]));
        assert!(!few_messages(&[UidRange::new(1, 9)]));
        assert!(!few_messages(&[UidRange::new(1000, 1)]), "high end first");
        assert!(few_messages(&[UidRange::new(8, 1)]));
        assert!(!few_messages(&[UidRange::new(u32::MAX, 1)]), "*:1");
        assert!(!few_messages(&[UidRange::new(7, u32::MAX)]), "7:*");
        assert!(!few_messages(&[UidRange::new(u32::MAX, u32::MAX)]), "*");
    }
}

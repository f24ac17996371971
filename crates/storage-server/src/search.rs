//! The Search gRPC service (SEARCH, SORT, THREAD). Each call is admitted
//! by the [`Gate`] before the store is touched, then runs on a blocking
//! thread with a cancel flag that is set when the handler's future is
//! dropped (tonic drops it when the client cancels or disconnects).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::search_server::{Search, SearchServer};
use mailkeep_store::{SearchKey, SortCriterion, SortKey, ThreadAlgorithm, ThreadNode};
use tonic::{Request, Response, Status};

use crate::gate::{Admitted, Gate};
use crate::search_program::{check_charset, key_of_program};

/// The Search service, to be added to the storage process's server.
pub(crate) fn server(gate: Arc<Gate>) -> SearchServer<SearchService> {
    SearchServer::new(SearchService { gate })
}

/// The Search service over the stores of the owners this process serves.
pub(crate) struct SearchService {
    gate: Arc<Gate>,
}

/// Sets the flag when dropped: with the handler's future, on cancel.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn sort_key(k: i32) -> Result<SortKey, Status> {
    use pb::SortKeyKind as S;
    Ok(match S::try_from(k).unwrap_or(S::Unspecified) {
        S::Arrival => SortKey::Arrival,
        S::Cc => SortKey::Cc,
        S::Date => SortKey::Date,
        S::From => SortKey::From,
        S::Size => SortKey::Size,
        S::Subject => SortKey::Subject,
        S::To => SortKey::To,
        S::Displayfrom => SortKey::DisplayFrom,
        S::Displayto => SortKey::DisplayTo,
        S::Unspecified => return Err(crate::convert::invalid("unknown sort key")),
    })
}

fn node_msg(n: ThreadNode) -> pb::ThreadNode {
    pb::ThreadNode {
        uid: n.uid,
        children: n.children.into_iter().map(node_msg).collect(),
    }
}

/// The key of a request, after its CHARSET is checked.
fn request_key(program: Vec<pb::SearchKey>, charset: &str) -> Result<SearchKey, Status> {
    check_charset(charset)?;
    key_of_program(program)
}

#[tonic::async_trait]
impl Search for SearchService {
    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let Admitted {
            owner,
            store,
            mut req,
            actor,
        } = self.gate.admit_call(request, "Search").await?;
        let key = request_key(std::mem::take(&mut req.program), &req.charset)?;
        let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancel = Arc::clone(&guard.0);
        let found = self
            .gate
            .run(&owner, move || {
                let viewer = actor.viewer();
                store.search_as(&req.mailbox, req.uidvalidity, &key, &cancel, viewer)
            })
            .await?;
        drop(guard);
        Ok(Response::new(pb::SearchResponse {
            min: found.min().unwrap_or(0),
            max: found.max().unwrap_or(0),
            count: u32::try_from(found.uids.len()).unwrap_or(u32::MAX),
            highest_modseq: found.highest_modseq,
            uids: found.uids,
        }))
    }

    async fn sort(
        &self,
        request: Request<pb::SortRequest>,
    ) -> Result<Response<pb::SortResponse>, Status> {
        let Admitted {
            owner,
            store,
            mut req,
            actor,
        } = self.gate.admit_call(request, "Sort").await?;
        let key = request_key(std::mem::take(&mut req.program), &req.charset)?;
        let criteria = req
            .criteria
            .iter()
            .map(|c| {
                Ok(SortCriterion {
                    key: sort_key(c.key)?,
                    reverse: c.reverse,
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancel = Arc::clone(&guard.0);
        let uids = self
            .gate
            .run(&owner, move || {
                let viewer = actor.viewer();
                store.sort_as(
                    &req.mailbox,
                    req.uidvalidity,
                    &criteria,
                    &key,
                    &cancel,
                    viewer,
                )
            })
            .await?;
        drop(guard);
        Ok(Response::new(pb::SortResponse { uids }))
    }

    async fn thread(
        &self,
        request: Request<pb::ThreadRequest>,
    ) -> Result<Response<pb::ThreadResponse>, Status> {
        use pb::ThreadAlgorithm as A;
        let Admitted {
            owner,
            store,
            mut req,
            actor,
        } = self.gate.admit_call(request, "Thread").await?;
        let key = request_key(std::mem::take(&mut req.program), &req.charset)?;
        let algorithm = match A::try_from(req.algorithm).unwrap_or(A::Unspecified) {
            A::Orderedsubject => ThreadAlgorithm::OrderedSubject,
            A::References => ThreadAlgorithm::References,
            A::Refs => ThreadAlgorithm::Refs,
            A::Unspecified => return Err(crate::convert::invalid("unknown thread algorithm")),
        };
        let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancel = Arc::clone(&guard.0);
        let threads = self
            .gate
            .run(&owner, move || {
                let viewer = actor.viewer();
                store.thread_as(
                    &req.mailbox,
                    req.uidvalidity,
                    algorithm,
                    &key,
                    &cancel,
                    viewer,
                )
            })
            .await?;
        drop(guard);
        Ok(Response::new(pb::ThreadResponse {
            threads: threads.into_iter().map(node_msg).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sort_keys_are_refused() {
        assert!(sort_key(0).is_err());
        assert_eq!(
            sort_key(pb::SortKeyKind::Size as i32).unwrap(),
            SortKey::Size
        );
    }
}

//! The Search gRPC service (SEARCH, SORT, THREAD). Each call is admitted
//! by the [`Gate`] before the store is touched, then runs on a blocking
//! thread with a cancel flag that is set when the handler's future is
//! dropped (tonic drops it when the client cancels or disconnects).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::search_key::Key as PbKey;
use mailkeep_storage_rpc::storage::search_server::{Search, SearchServer};
use mailkeep_store::{SearchKey, SortCriterion, SortKey, ThreadAlgorithm, ThreadNode, UidRange};
use tonic::{Request, Response, Status};

use crate::gate::{Admitted, Gate};

/// Deepest key nesting accepted (NOT/OR/AND), against stack exhaustion.
const MAX_DEPTH: usize = 64;

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

fn date(d: Option<pb::SearchDate>) -> Result<time::Date, Status> {
    let d = d.ok_or_else(|| Status::invalid_argument("search date missing"))?;
    let month = u8::try_from(d.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| Status::invalid_argument(format!("bad month {}", d.month)))?;
    let day = u8::try_from(d.day).map_err(|_| Status::invalid_argument("bad day"))?;
    time::Date::from_calendar_date(d.year, month, day)
        .map_err(|e| Status::invalid_argument(format!("bad search date: {e}")))
}

fn boxed(k: Option<pb::SearchKey>, depth: usize) -> Result<Box<SearchKey>, Status> {
    let k = k.ok_or_else(|| Status::invalid_argument("search key missing"))?;
    Ok(Box::new(key_of(k, depth + 1)?))
}

/// The store's key tree for an RPC key.
pub(crate) fn key_of(k: pb::SearchKey, depth: usize) -> Result<SearchKey, Status> {
    use pb::SearchFlagKey as F;
    if depth > MAX_DEPTH {
        return Err(Status::invalid_argument("search keys nested too deep"));
    }
    let key = k
        .key
        .ok_or_else(|| Status::invalid_argument("empty search key"))?;
    Ok(match key {
        PbKey::Flag(f) => match F::try_from(f).unwrap_or(F::Unspecified) {
            F::All => SearchKey::All,
            F::Answered => SearchKey::Answered,
            F::Deleted => SearchKey::Deleted,
            F::Draft => SearchKey::Draft,
            F::Flagged => SearchKey::Flagged,
            F::Seen => SearchKey::Seen,
            F::Unanswered => SearchKey::Unanswered,
            F::Undeleted => SearchKey::Undeleted,
            F::Undraft => SearchKey::Undraft,
            F::Unflagged => SearchKey::Unflagged,
            F::Unseen => SearchKey::Unseen,
            F::Unspecified => return Err(Status::invalid_argument("unknown flag key")),
        },
        PbKey::Keyword(s) => SearchKey::Keyword(s),
        PbKey::Unkeyword(s) => SearchKey::Unkeyword(s),
        PbKey::Bcc(s) => SearchKey::Bcc(s),
        PbKey::Cc(s) => SearchKey::Cc(s),
        PbKey::From(s) => SearchKey::From(s),
        PbKey::To(s) => SearchKey::To(s),
        PbKey::Subject(s) => SearchKey::Subject(s),
        PbKey::Header(h) => SearchKey::Header(h.field, h.value),
        PbKey::Body(s) => SearchKey::Body(s),
        PbKey::Text(s) => SearchKey::Text(s),
        PbKey::Before(d) => SearchKey::Before(date(Some(d))?),
        PbKey::On(d) => SearchKey::On(date(Some(d))?),
        PbKey::Since(d) => SearchKey::Since(date(Some(d))?),
        PbKey::SentBefore(d) => SearchKey::SentBefore(date(Some(d))?),
        PbKey::SentOn(d) => SearchKey::SentOn(date(Some(d))?),
        PbKey::SentSince(d) => SearchKey::SentSince(date(Some(d))?),
        PbKey::SavedBefore(d) => SearchKey::SavedBefore(date(Some(d))?),
        PbKey::SavedOn(d) => SearchKey::SavedOn(date(Some(d))?),
        PbKey::SavedSince(d) => SearchKey::SavedSince(date(Some(d))?),
        PbKey::Larger(n) => SearchKey::Larger(n),
        PbKey::Smaller(n) => SearchKey::Smaller(n),
        PbKey::Uid(set) => SearchKey::Uid(
            set.ranges
                .iter()
                .map(|r| UidRange::new(r.first, r.last))
                .collect(),
        ),
        PbKey::Modseq(n) => SearchKey::ModSeq(n),
        PbKey::Older(n) => SearchKey::Older(n),
        PbKey::Younger(n) => SearchKey::Younger(n),
        PbKey::Emailid(id) => SearchKey::EmailId(id),
        PbKey::Threadid(id) => SearchKey::ThreadId(id),
        PbKey::Not(inner) => SearchKey::Not(boxed(Some(*inner), depth)?),
        PbKey::Or(or) => SearchKey::Or(
            boxed(or.a.map(|b| *b), depth)?,
            boxed(or.b.map(|b| *b), depth)?,
        ),
        PbKey::AllOf(and) => SearchKey::And(
            and.all_of
                .into_iter()
                .map(|k| key_of(k, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
    })
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
        S::Unspecified => return Err(Status::invalid_argument("unknown sort key")),
    })
}

fn node_msg(n: ThreadNode) -> pb::ThreadNode {
    pb::ThreadNode {
        uid: n.uid,
        children: n.children.into_iter().map(node_msg).collect(),
    }
}

/// The key of a request; none means ALL.
fn request_key(k: Option<pb::SearchKey>) -> Result<SearchKey, Status> {
    match k {
        Some(k) => key_of(k, 0),
        None => Ok(SearchKey::All),
    }
}

#[tonic::async_trait]
impl Search for SearchService {
    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let Admitted { owner, store, req } = self.gate.admit_call(request, "Search")?;
        let key = request_key(req.key)?;
        let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancel = Arc::clone(&guard.0);
        let found = self
            .gate
            .run(&owner, move || {
                store.search(&req.mailbox, req.uidvalidity, &key, &cancel)
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
        let Admitted { owner, store, req } = self.gate.admit_call(request, "Sort")?;
        let key = request_key(req.key)?;
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
                store.sort(&req.mailbox, req.uidvalidity, &criteria, &key, &cancel)
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
        let Admitted { owner, store, req } = self.gate.admit_call(request, "Thread")?;
        let key = request_key(req.key)?;
        let algorithm = match A::try_from(req.algorithm).unwrap_or(A::Unspecified) {
            A::Orderedsubject => ThreadAlgorithm::OrderedSubject,
            A::References => ThreadAlgorithm::References,
            A::Refs => ThreadAlgorithm::Refs,
            A::Unspecified => return Err(Status::invalid_argument("unknown thread algorithm")),
        };
        let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancel = Arc::clone(&guard.0);
        let threads = self
            .gate
            .run(&owner, move || {
                store.thread(&req.mailbox, req.uidvalidity, algorithm, &key, &cancel)
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

    fn k(key: PbKey) -> pb::SearchKey {
        pb::SearchKey { key: Some(key) }
    }

    #[test]
    fn converts_nested_keys() {
        let rpc = k(PbKey::AllOf(pb::SearchAnd {
            all_of: vec![
                k(PbKey::Not(Box::new(k(PbKey::Flag(
                    pb::SearchFlagKey::Seen as i32,
                ))))),
                k(PbKey::Or(Box::new(pb::SearchOr {
                    a: Some(Box::new(k(PbKey::Text("x".into())))),
                    b: Some(Box::new(k(PbKey::Since(pb::SearchDate {
                        year: 2024,
                        month: 2,
                        day: 29,
                    })))),
                }))),
            ],
        }));
        let date = time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap();
        assert_eq!(
            key_of(rpc, 0).unwrap(),
            SearchKey::And(vec![
                SearchKey::Not(Box::new(SearchKey::Seen)),
                SearchKey::Or(
                    Box::new(SearchKey::Text("x".into())),
                    Box::new(SearchKey::Since(date))
                ),
            ])
        );
    }

    #[test]
    fn refuses_bad_input() {
        let bad_date = k(PbKey::On(pb::SearchDate {
            year: 2023,
            month: 2,
            day: 29,
        }));
        assert!(key_of(bad_date, 0).is_err());
        assert!(key_of(pb::SearchKey { key: None }, 0).is_err());
        assert!(key_of(k(PbKey::Flag(0)), 0).is_err());
        let mut deep = k(PbKey::Flag(pb::SearchFlagKey::All as i32));
        for _ in 0..100 {
            deep = k(PbKey::Not(Box::new(deep)));
        }
        assert!(key_of(deep, 0).is_err());
        assert!(sort_key(0).is_err());
    }
}

//! The Metadata gRPC service (METADATA, RFC 5464): GetMetadata and
//! SetMetadata over the store's entries, behind the same gate as every
//! other call. A set refused for a limit carries a `MetadataRefusal`
//! (which limit, and its number) as its status details.

use std::sync::Arc;

use mailkeep_storage_rpc::errors::{ErrorReason, code_of};
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::metadata_server::{Metadata, MetadataServer};
use mailkeep_store::{MetadataDepth, MetadataLimits, StoreError};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::gate::{Admitted, Gate};

/// The Metadata service, to be added to the storage process's server.
pub(crate) fn server(gate: Arc<Gate>, limits: MetadataLimits) -> MetadataServer<MetadataService> {
    MetadataServer::new(MetadataService { gate, limits })
}

/// The Metadata service over the stores of the owners this process serves.
pub(crate) struct MetadataService {
    gate: Arc<Gate>,
    limits: MetadataLimits,
}

/// The store's depth for the RPC enum's number.
fn depth(depth: i32) -> Result<MetadataDepth, Status> {
    match pb::MetadataDepth::try_from(depth) {
        Ok(pb::MetadataDepth::Zero) => Ok(MetadataDepth::Zero),
        Ok(pb::MetadataDepth::One) => Ok(MetadataDepth::One),
        Ok(pb::MetadataDepth::Infinity) => Ok(MetadataDepth::Infinity),
        Err(_) => Err(crate::convert::invalid(format!(
            "unknown metadata depth {depth}"
        ))),
    }
}

/// The mailbox a request names; empty is the server.
fn mailbox(name: &str) -> Option<&str> {
    (!name.is_empty()).then_some(name)
}

/// A refusal for one of the metadata limits, with the limit and its
/// number in the details.
fn refused(limit: pb::MetadataLimit, maximum: u64, message: String) -> Status {
    let detail = pb::MetadataRefusal {
        reason: ErrorReason::Limit as i32,
        limit: limit as i32,
        maximum,
    };
    Status::with_details(
        code_of(ErrorReason::Limit),
        message,
        detail.encode_to_vec().into(),
    )
}

#[tonic::async_trait]
impl Metadata for MetadataService {
    async fn get_metadata(
        &self,
        request: Request<pb::GetMetadataRequest>,
    ) -> Result<Response<pb::GetMetadataResponse>, Status> {
        let depth = depth(request.get_ref().depth)?;
        let found = self
            .gate
            .serve(request, "GetMetadata", move |store, req| {
                store.get_metadata(mailbox(&req.mailbox), &req.entries, depth, req.max_size)
            })
            .await?;
        Ok(Response::new(pb::GetMetadataResponse {
            entries: found
                .entries
                .into_iter()
                .map(|e| pb::MetadataEntry {
                    name: e.name,
                    value: e.value,
                })
                .collect(),
            longest_skipped: found.longest_skipped,
        }))
    }

    async fn set_metadata(
        &self,
        request: Request<pb::SetMetadataRequest>,
    ) -> Result<Response<pb::SetMetadataResponse>, Status> {
        let Admitted {
            owner, store, req, ..
        } = self.gate.admit_call(request, "SetMetadata").await?;
        let limits = self.limits;
        let outcome = self
            .gate
            .run_store(&owner, move || {
                let changes: Vec<(String, Option<Vec<u8>>)> =
                    req.entries.into_iter().map(|e| (e.name, e.value)).collect();
                store.set_metadata(mailbox(&req.mailbox), &changes, &limits)
            })
            .await?;
        match outcome {
            Ok(()) => Ok(Response::new(pb::SetMetadataResponse {})),
            Err(e @ StoreError::MetadataTooLarge { max, .. }) => {
                Err(refused(pb::MetadataLimit::ValueSize, max, e.to_string()))
            }
            Err(e @ StoreError::MetadataTooMany { max }) => {
                Err(refused(pb::MetadataLimit::Entries, max, e.to_string()))
            }
            Err(e) => Err(crate::convert::status_of(e)),
        }
    }
}

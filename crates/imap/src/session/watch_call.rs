//! The Watch call (a mailbox's or an owner's change stream) with small
//! buffers. A session keeps its stream open for as long as a mailbox stays
//! selected after its first command (and NOTIFY keeps more), so a server
//! holds one per idle client; the generated client's codec would give each
//! stream an 8 KiB receive buffer for events of a few dozen bytes (see
//! `mailkeep_storage_rpc::small_codec`).

use mailkeep_frontend::Rpc;
use mailkeep_storage_rpc::small_codec::{SmallCodec, WATCH_METHOD, WATCH_PATH, WATCH_SERVICE};
use mailkeep_storage_rpc::storage::{MailboxEvent, WatchRequest};
use tonic::codec::Streaming;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{GrpcMethod, Response, Status};

/// Opens the change stream `request` (made with `rpc.request`, so it
/// carries the ticket) asks for on `rpc`'s channel: what
/// `rpc.watch().watch(request)` does, with small buffers.
pub(crate) async fn watch(
    rpc: Rpc,
    mut request: tonic::Request<WatchRequest>,
) -> Result<Response<Streaming<MailboxEvent>>, Status> {
    let mut grpc = tonic::client::Grpc::new(rpc.channel());
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
    request
        .extensions_mut()
        .insert(GrpcMethod::new(WATCH_SERVICE, WATCH_METHOD));
    grpc.server_streaming(
        request,
        PathAndQuery::from_static(WATCH_PATH),
        SmallCodec::default(),
    )
    .await
}

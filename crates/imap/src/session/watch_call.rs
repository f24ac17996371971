//! The Watch call (a mailbox's or an owner's change stream) with small
//! buffers. A session keeps its stream open for as long as a mailbox is
//! selected (and NOTIFY keeps more), so a server holds one per idle
//! client; the generated client's codec would give each stream an 8 KiB
//! receive buffer for events of a few dozen bytes. This one starts empty
//! and grows to the largest event received.

use mailkeep_frontend::Rpc;
use mailkeep_storage_rpc::storage::{MailboxEvent, WatchRequest};
use tonic::codec::{BufferSettings, Codec, Streaming};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{GrpcMethod, Response, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// The Watch service's method, as the generated client names it.
const SERVICE: &str = "mailkeep.storage.v1.Watch";
const METHOD: &str = "Watch";
const PATH: &str = "/mailkeep.storage.v1.Watch/Watch";

/// The buffer a stream starts with, and grows by: an event fits.
const BUFFER: usize = 256;
/// How much a sender batches (unused by a client that only receives).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// Prost's codec for Watch with [`BUFFER`]-sized buffers both ways.
#[derive(Debug, Default, Clone, Copy)]
struct SmallCodec;

impl Codec for SmallCodec {
    type Encode = WatchRequest;
    type Decode = MailboxEvent;
    type Encoder = ProstEncoder<WatchRequest>;
    type Decoder = ProstDecoder<MailboxEvent>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<WatchRequest, MailboxEvent>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<WatchRequest, MailboxEvent>::raw_decoder(settings())
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER, YIELD_THRESHOLD)
}

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
        .insert(GrpcMethod::new(SERVICE, METHOD));
    grpc.server_streaming(request, PathAndQuery::from_static(PATH), SmallCodec)
        .await
}

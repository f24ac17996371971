//! What the targets that play a compromised protocol process against a
//! real service share ([`crate::storage`], [`crate::auth`]): an input as a
//! sequence of calls, connections passed as the master passes them, a
//! codec that sends the input's bytes as they are, a panic counter and a
//! bound on every call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut};
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::framing::send_frame;
use tokio::net::UnixStream;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// The longest any call may take before it counts as a hang (far above
/// what any call of these targets takes).
pub const CALL_LIMIT: Duration = Duration::from_secs(60);

/// The calls `data` encodes, at most `max`: each a selector byte, a
/// 2-byte little-endian length and that many bytes of request (cut short
/// at the input's end).
pub fn calls(data: &[u8], max: usize) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < max {
        let [selector, lo, hi, tail @ ..] = rest else {
            break;
        };
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        out.push((*selector, &tail[..len]));
        rest = &tail[len..];
    }
    out
}

/// One call as [`calls`] reads it.
pub fn call(selector: u8, request: &[u8]) -> Vec<u8> {
    let len = u16::try_from(request.len()).expect("a request of at most 64 KiB");
    let mut out = vec![selector];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(request);
    out
}

/// The panics seen anywhere in the process since the first call (which
/// installs the hook that counts them, keeping the one it replaces).
pub fn panics() -> usize {
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

/// The runtime the targets' services and clients run on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// A gRPC channel over a connection passed on `control` as the master
/// passes one (connection `id`, of `role`).
pub async fn passed_channel(control: &UnixStream, id: u64, role: &str) -> Channel {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    let fd = std::os::fd::OwnedFd::from(theirs);
    let msg = ControlMessage {
        kind: Some(Kind::NewConnection(NewConnection {
            connection_id: id,
            role: role.to_owned(),
        })),
    };
    send_frame(control, &msg, Some(&fd))
        .await
        .expect("passing a connection");
    drop(fd);
    ours.set_nonblocking(true).expect("a non-blocking socket");
    let stream = UnixStream::from_std(ours).expect("a tokio socket");
    channel_over(stream).await.expect("a channel")
}

/// A gRPC client on `channel`, ready for a call, taking messages as large
/// as the storage RPC allows.
pub async fn ready(channel: &Channel) -> Result<tonic::client::Grpc<Channel>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
        .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    Ok(grpc)
}

/// The methods the `.proto` files under `proto/<package>` declare, as
/// (service, method, request streamed, response streamed): what a target's
/// table of methods must cover.
#[cfg(test)]
pub fn declared_methods(package: &str) -> Vec<(String, String, bool, bool)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto")
        .join(package);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the proto directory") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a .proto");
        let mut service = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("service ") {
                service = rest.trim_end_matches(['{', ' ']).to_owned();
            } else if let Some(rest) = line.strip_prefix("rpc ") {
                let (name, rest) = rest.split_once('(').expect("rpc Name(");
                let (request, response) = rest.split_once("returns").expect("returns");
                out.push((
                    service.clone(),
                    name.trim().to_owned(),
                    request.trim_start().starts_with("stream "),
                    response.trim_start().starts_with("(stream "),
                ));
            }
        }
    }
    out.sort();
    out
}

/// `call`'s outcome, or a panic naming `name` if it takes longer than
/// [`CALL_LIMIT`].
pub async fn bounded<T>(name: &str, call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(CALL_LIMIT, call)
        .await
        .unwrap_or_else(|_| panic!("{name} was not answered"))
}

/// tonic's refusal of bytes that are not the method's protobuf message,
/// before any of the service's own code sees them.
pub fn undecodable(status: &Status) -> bool {
    status.code() == tonic::Code::Internal
        && status.details().is_empty()
        && status
            .message()
            .starts_with("failed to decode Protobuf message")
}

/// Messages as their encoded bytes, unread: what is sent is exactly what
/// the input holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

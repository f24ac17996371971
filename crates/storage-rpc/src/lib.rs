//! The wire protocols between mailkeep's processes: the storage RPC and the
//! auth RPC (gRPC, generated from `proto/`), the broker's framed messages,
//! and the transports they run on (connected UNIX sockets passed by fd).
//!
//! Protocol processes depend on this crate and nothing root-side: it holds
//! no key and signs nothing; tickets are opaque strings here.

pub mod broker_client;
pub mod channel;
pub mod coalesce;
pub mod errors;
pub mod fd;
pub mod fetch_items;
pub mod framing;
pub mod leased;
pub mod metadata;
pub mod quiet_stream;
pub mod small_codec;
pub mod socket_channel;
pub mod tls;

/// The storage RPC (`mailkeep.storage.v1`).
pub mod storage {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.storage.v1");

    impl AppendRequest {
        /// The part that ends an Append stream and stores its messages;
        /// without it storage stores none of them.
        pub fn commit() -> AppendRequest {
            AppendRequest {
                part: Some(append_request::Part::Commit(AppendCommit {})),
            }
        }
    }
}

/// The auth RPC (`mailkeep.auth.v1`).
pub mod auth {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.auth.v1");
}

/// The broker's framed messages (`mailkeep.broker.v1`).
pub mod broker {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.broker.v1");
}

/// The largest gRPC message either side accepts: a mailbox view of a few
/// hundred thousand messages fits.
pub const MAX_GRPC_MESSAGE: usize = 64 * 1024 * 1024;

/// The size of the body chunks that Fetch and Append stream.
pub const CHUNK_SIZE: usize = 64 * 1024;

//! gRPC channels and servers over already connected UNIX sockets, the kind
//! the broker hands out.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

/// Why a channel could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// tonic refused the endpoint or the handshake failed.
    #[error("gRPC channel over a passed socket: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The HTTP/2 handshake of a [`crate::socket_channel::SocketChannel`]
    /// failed.
    #[error("HTTP/2 over a passed socket: {0}")]
    Http2(#[source] h2::Error),
}

/// Makes a gRPC channel that runs over `stream`, a socket already connected
/// to a server. The channel cannot reconnect: when the stream breaks, calls
/// fail with UNAVAILABLE and the caller asks the broker for a new one.
pub async fn channel_over(stream: UnixStream) -> Result<Channel, ChannelError> {
    let slot = Arc::new(Mutex::new(Some(stream)));
    // The URI is required by tonic but never resolved: the connector below
    // hands out the one stream it holds.
    let endpoint = Endpoint::from_static("http://mailkeep.invalid");
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_uri| {
            let slot = Arc::clone(&slot);
            async move {
                let stream = slot.lock().await.take().ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        "the passed socket is closed; ask the broker for a new connection",
                    )
                })?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await?;
    Ok(channel)
}

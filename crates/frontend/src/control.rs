//! The control channel from the master to a protocol process: framed
//! `ProtocolControl` messages (proto/mailkeep/broker/v1/protocol.proto).
//! The first one carries the TLS certificates, before any client is
//! accepted; later ones replace them when the master sees the files change.

use mailkeep_storage_rpc::broker::{ProtocolControl, ServerCertificates, protocol_control};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::tls::{CertificateError, ServerTls};

/// The largest control message: a few certificate chains fit many times.
pub const MAX_CONTROL_MESSAGE: usize = 1024 * 1024;

/// Why the control channel failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket failed.
    #[error("control channel: {0}")]
    Io(#[from] std::io::Error),
    /// The master closed the channel.
    #[error("control channel closed by the master")]
    Closed,
    /// A message announced more than [`MAX_CONTROL_MESSAGE`] bytes.
    #[error("control message of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The bytes are not a `ProtocolControl`.
    #[error("control message does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The first message was not the certificates.
    #[error("the first control message must carry the TLS certificates")]
    NoCertificates,
    /// The certificates are unusable.
    #[error("TLS certificates from the master: {0}")]
    Certificates(#[from] CertificateError),
}

/// Writes one message (the master's side).
pub async fn write_message<W: AsyncWrite + Unpin>(
    stream: &mut W,
    message: &ProtocolControl,
) -> Result<(), ControlError> {
    let body = message.encode_to_vec();
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&l| l as usize <= MAX_CONTROL_MESSAGE)
        .ok_or(ControlError::TooLarge(body.len()))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await?;
    stream.flush().await?;
    Ok(())
}

/// Reads one message.
pub async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
) -> Result<ProtocolControl, ControlError> {
    let mut header = [0u8; 4];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ControlError::Closed);
        }
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_CONTROL_MESSAGE {
        return Err(ControlError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(ProtocolControl::decode(body.as_slice())?)
}

/// A protocol process's end of the control channel.
pub struct ControlChannel<S> {
    stream: S,
}

impl<S: AsyncRead + Unpin> ControlChannel<S> {
    /// Wraps the inherited socket.
    pub fn new(stream: S) -> ControlChannel<S> {
        ControlChannel { stream }
    }

    /// Waits for the first message, which carries the certificates.
    pub async fn first_certificates(&mut self) -> Result<ServerCertificates, ControlError> {
        match read_message(&mut self.stream).await?.kind {
            Some(protocol_control::Kind::Certificates(c)) => Ok(c),
            None => Err(ControlError::NoCertificates),
        }
    }

    /// Applies every later message to `tls` until the master closes the
    /// channel (then `Ok`). Certificates that do not build are logged and
    /// the ones in use stay.
    pub async fn apply(mut self, tls: ServerTls) -> Result<(), ControlError> {
        loop {
            let message = match read_message(&mut self.stream).await {
                Ok(m) => m,
                Err(ControlError::Closed) => return Ok(()),
                Err(e) => return Err(e),
            };
            match message.kind {
                Some(protocol_control::Kind::Certificates(c)) => match tls.replace(&c) {
                    Ok(()) => {
                        tracing::info!(generation = c.generation, "TLS certificates replaced")
                    }
                    Err(e) => tracing::error!(
                        generation = c.generation,
                        "new TLS certificates refused, keeping the old ones: {e}"
                    ),
                },
                None => tracing::warn!("control message of an unknown kind ignored"),
            }
        }
    }
}

//! Protobuf encoding for long-lived, mostly silent streams (Watch) with
//! small buffers. tonic's default codec gives every stream an 8 KiB buffer
//! in each direction for its whole life; a server keeps one Watch stream
//! per selected mailbox of every session (thousands, nearly all idle),
//! whose events are a few dozen bytes. These buffers start at
//! [`BUFFER`] bytes and grow only when a message needs more. Both ends use
//! it: the protocol processes' Watch calls and the storage process's
//! Watch route.

use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// The Watch service, as the generated code names it.
pub const WATCH_SERVICE: &str = "mailkeep.storage.v1.Watch";
/// Its one method.
pub const WATCH_METHOD: &str = "Watch";
/// The method's path (`/<service>/<method>`).
pub const WATCH_PATH: &str = "/mailkeep.storage.v1.Watch/Watch";

/// The size buffers start with and grow by: an event fits.
pub const BUFFER: usize = 256;

/// tonic's default: encoded messages are sent once this many bytes are
/// buffered (or the stream has nothing more ready).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// Prost's codec encoding `E` and decoding `D`, with [`BUFFER`]-sized
/// buffers both ways.
#[derive(Debug, Clone, Copy)]
pub struct SmallCodec<E, D>(std::marker::PhantomData<fn(E) -> D>);

impl<E, D> Default for SmallCodec<E, D> {
    fn default() -> Self {
        SmallCodec(std::marker::PhantomData)
    }
}

impl<E, D> Codec for SmallCodec<E, D>
where
    E: prost::Message + Send + 'static,
    D: prost::Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = ProstEncoder<E>;
    type Decoder = ProstDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<E, D>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<E, D>::raw_decoder(settings())
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER, YIELD_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::watch_server::SERVICE_NAME;

    #[test]
    fn the_watch_names_are_the_generated_ones() {
        assert_eq!(WATCH_SERVICE, SERVICE_NAME);
        assert_eq!(WATCH_PATH, format!("/{SERVICE_NAME}/{WATCH_METHOD}"));
    }
}

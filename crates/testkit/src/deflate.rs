//! The client's side of COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC
//! 1951, no zlib header) both ways over a byte stream. Each write is
//! compressed and ended with a sync flush, so the server can inflate every
//! command as soon as it arrives; what comes in is inflated as it is read.
//!
//! Written on `flate2` directly, not on the server's code, so that the two
//! check each other.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed bytes read from the server at once.
const INPUT_CHUNK: usize = 16 * 1024;

/// A stream with deflate in both directions.
pub struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input: `input[in_start..]` is not yet inflated.
    input: Vec<u8>,
    in_start: usize,
    /// The server ended its deflate stream or closed the connection.
    input_done: bool,
    /// Compressed output: `output[out_start..]` is not yet written.
    output: Vec<u8>,
    out_start: usize,
}

impl<S> Deflate<S> {
    /// Wraps `inner`; `already_read` are compressed bytes read from it
    /// before the switch.
    pub fn new(inner: S, already_read: Vec<u8>) -> Deflate<S> {
        Deflate {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::default(), false),
            input: already_read,
            in_start: 0,
            input_done: false,
            output: Vec::new(),
            out_start: 0,
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Compresses `data` with a sync flush onto the pending output.
    fn compress(&mut self, data: &[u8]) -> io::Result<()> {
        let start = self.deflate.total_in();
        loop {
            let used = usize::try_from(self.deflate.total_in() - start).unwrap_or(usize::MAX);
            self.output.reserve(data.len() - used + 1024);
            self.deflate
                .compress_vec(&data[used..], &mut self.output, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            let used = usize::try_from(self.deflate.total_in() - start).unwrap_or(usize::MAX);
            // Room left over means the flush is complete.
            if used == data.len() && self.output.len() < self.output.capacity() {
                return Ok(());
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let pending = &this.input[this.in_start..];
            if !pending.is_empty() || this.input_done {
                let (before_in, before_out) = (this.inflate.total_in(), this.inflate.total_out());
                let status = this
                    .inflate
                    .decompress(pending, buf.initialize_unfilled(), FlushDecompress::Sync)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let consumed = usize::try_from(this.inflate.total_in() - before_in).unwrap_or(0);
                let produced = usize::try_from(this.inflate.total_out() - before_out).unwrap_or(0);
                this.in_start += consumed;
                buf.advance(produced);
                if status == Status::StreamEnd {
                    this.input_done = true;
                }
                if produced > 0 || this.input_done {
                    return Poll::Ready(Ok(()));
                }
                if consumed > 0 && this.in_start < this.input.len() {
                    continue;
                }
            }
            // What is held cannot be inflated further alone: read more
            // after it.
            this.input.drain(..this.in_start);
            this.in_start = 0;
            let held = this.input.len();
            this.input.resize(held + INPUT_CHUNK, 0);
            let mut room = ReadBuf::new(&mut this.input[held..]);
            let read = Pin::new(&mut this.inner).poll_read(cx, &mut room);
            let n = room.filled().len();
            this.input.truncate(held + n);
            ready!(read)?;
            if n == 0 {
                this.input_done = true;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes the pending compressed output to the stream underneath.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_start < self.output.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.out_start..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_start += n;
        }
        self.output.clear();
        self.out_start = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // What an earlier write compressed goes out first.
        ready!(this.poll_drain(cx))?;
        this.compress(data)?;
        // The bytes are taken; a pending drain ends at the next write or
        // flush.
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What one side writes the other reads, through two Deflate layers
    /// over an in-memory pipe.
    #[tokio::test]
    async fn what_one_side_writes_compressed_the_other_reads() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut a, mut b) = (Deflate::new(a, Vec::new()), Deflate::new(b, Vec::new()));
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let writer = tokio::spawn(async move {
            a.write_all(b"t1 NOOP\r\n").await.unwrap();
            a.flush().await.unwrap();
            a.write_all(&big).await.unwrap();
            a.flush().await.unwrap();
            (a, big)
        });
        let mut first = [0u8; 9];
        b.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"t1 NOOP\r\n");
        let mut rest = vec![0u8; 800_000];
        b.read_exact(&mut rest).await.unwrap();
        let (_a, big) = writer.await.unwrap();
        assert_eq!(rest, big);
    }
}

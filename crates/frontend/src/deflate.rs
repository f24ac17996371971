//! COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib header)
//! both ways over a byte stream.
//!
//! Memory stays bounded whatever the peer sends: compressed input is read
//! into a small fixed buffer and inflated only into the buffer the reader
//! offers, so a stream that would inflate to gigabytes costs no more than
//! the reader's own buffer. Output is compressed into a buffer drained to
//! the socket once it passes [`OUTPUT_HIGH_WATER`]; a flush ends the
//! batch with a sync flush, so the client can inflate everything sent so
//! far (RFC 4978 §4).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed bytes read from the peer at once.
const INPUT_BUFFER: usize = 8 * 1024;

/// Compressed output held before it is written through.
pub(crate) const OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// A stream with deflate in both directions.
pub(crate) struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input: `input[in_start..in_end]` is not yet inflated.
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// The peer ended its deflate stream or closed the connection.
    input_done: bool,
    /// Compressed output: `output[out_start..]` is not yet written.
    output: Vec<u8>,
    out_start: usize,
    /// Bytes were compressed since the last sync flush.
    unflushed: bool,
}

impl<S> Deflate<S> {
    /// Wraps `inner`. `already_read` are bytes read from it before the
    /// switch (the client's first compressed bytes, if it sent them early).
    pub(crate) fn new(inner: S, already_read: &[u8]) -> Deflate<S> {
        let mut input = vec![0; INPUT_BUFFER.max(already_read.len())];
        input[..already_read.len()].copy_from_slice(already_read);
        Deflate {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::default(), false),
            input,
            in_start: 0,
            in_end: already_read.len(),
            input_done: false,
            output: Vec::with_capacity(OUTPUT_HIGH_WATER),
            out_start: 0,
            unflushed: false,
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("compressed input is not valid deflate data: {e}"),
    )
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
            if this.input_done && this.in_start == this.in_end {
                return Poll::Ready(Ok(()));
            }
            // Inflate what we hold into the caller's buffer, never more.
            let (before_in, before_out) = (this.inflate.total_in(), this.inflate.total_out());
            let status = this
                .inflate
                .decompress(
                    &this.input[this.in_start..this.in_end],
                    buf.initialize_unfilled(),
                    FlushDecompress::None,
                )
                .map_err(corrupt)?;
            let consumed = usize::try_from(this.inflate.total_in() - before_in).unwrap_or(0);
            let produced = usize::try_from(this.inflate.total_out() - before_out).unwrap_or(0);
            this.in_start += consumed;
            buf.advance(produced);
            if status == Status::StreamEnd {
                // The peer ended its deflate stream: nothing more can come.
                this.input_done = true;
                this.in_start = this.in_end;
            }
            if produced > 0 || this.input_done {
                return Poll::Ready(Ok(()));
            }
            if consumed > 0 && this.in_start < this.in_end {
                continue;
            }
            // All input used and nothing came out: read more.
            if this.in_start == this.in_end {
                this.in_start = 0;
                this.in_end = 0;
            } else if this.in_start > 0 {
                this.input.copy_within(this.in_start..this.in_end, 0);
                this.in_end -= this.in_start;
                this.in_start = 0;
            }
            if this.in_end == this.input.len() {
                // A full buffer that inflates to nothing is not deflate.
                return Poll::Ready(Err(corrupt("no progress on a full input buffer")));
            }
            let mut room = ReadBuf::new(&mut this.input[this.in_end..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut room))?;
            let n = room.filled().len();
            if n == 0 {
                this.input_done = true;
            }
            this.in_end += n;
        }
    }
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes all pending compressed output to the inner stream.
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

    /// Compresses `data` into the output buffer; returns how much of it
    /// was taken: all of it, unless the buffer reached its high-water mark
    /// first (the caller drains it and comes back for the rest).
    fn compress(&mut self, data: &[u8], flush: FlushCompress) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            if self.output.capacity() - self.output.len() < 64 {
                self.output.reserve(OUTPUT_HIGH_WATER);
            }
            let before_in = self.deflate.total_in();
            self.deflate
                .compress_vec(&data[taken..], &mut self.output, flush)
                .map_err(io::Error::other)?;
            taken += usize::try_from(self.deflate.total_in() - before_in).unwrap_or(0);
            // The compressor stops early only when the output is full.
            let out_full = self.output.len() == self.output.capacity();
            if taken == data.len() && !out_full {
                return Ok(taken);
            }
            let pending = self.output.len() - self.out_start;
            if flush == FlushCompress::None && taken > 0 && pending >= OUTPUT_HIGH_WATER {
                return Ok(taken);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.output.len() - this.out_start >= OUTPUT_HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let taken = this.compress(data, FlushCompress::None)?;
        this.unflushed = true;
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unflushed {
            // Compressing nothing with a sync flush emits everything held
            // plus an empty stored block: the peer can inflate all of it.
            this.compress(&[], FlushCompress::Sync)?;
            this.unflushed = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("compress");
        e.finish().expect("finish")
    }

    #[tokio::test]
    async fn reads_what_a_raw_deflate_encoder_wrote() {
        let text: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let compressed = raw_deflate(&text);
        let (mut client, server) = tokio::io::duplex(1024);
        let writer = tokio::spawn(async move {
            client.write_all(&compressed).await.expect("write");
            client
        });
        let mut stream = Deflate::new(server, &[]);
        let mut got = vec![0; text.len()];
        stream.read_exact(&mut got).await.expect("read");
        assert_eq!(got, text);
        drop(writer);
    }

    #[tokio::test]
    async fn each_flush_makes_everything_written_so_far_inflatable() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut stream = Deflate::new(server, &[]);
        stream
            .write_all(b"* OK first batch\r\n")
            .await
            .expect("write");
        stream.flush().await.expect("flush");
        stream.write_all(b"A1 OK second\r\n").await.expect("write");
        stream.flush().await.expect("flush");
        drop(stream);
        let mut wire = Vec::new();
        let mut client = client;
        client.read_to_end(&mut wire).await.expect("read");
        // Sync-flushed data inflates without the stream's end.
        let mut out = vec![0; 100];
        let mut d = Decompress::new(false);
        d.decompress(&wire, &mut out, FlushDecompress::Sync)
            .expect("inflate");
        let n = usize::try_from(d.total_out()).expect("size");
        assert_eq!(&out[..n], b"* OK first batch\r\nA1 OK second\r\n");
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
    }

    #[tokio::test]
    async fn garbage_input_is_an_error_not_a_hang() {
        let (mut client, server) = tokio::io::duplex(1024);
        client.write_all(&[0xff; 64]).await.expect("write");
        let mut stream = Deflate::new(server, &[]);
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).await.expect_err("corrupt");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

//! A message's bytes as streamed answers send them (Fetch, Maildrop.Retrieve):
//! the file read as CRLF in chunks of at most [`CHUNK_SIZE`], checked
//! against the size the index holds, so that a file changed behind the
//! index's back is reported as DATA_LOSS instead of sent cut or padded.

use std::fs::File;
use std::io::Read;

use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_store::{CrlfReader, StoreError};
use tonic::Status;

use crate::convert::status_of;

/// One message of a mailbox, as the index knows it.
pub(crate) struct IndexedMessage<'a> {
    /// The mailbox, for messages about it.
    pub(crate) mailbox: &'a str,
    /// Its UID.
    pub(crate) uid: u32,
    /// Its size with CRLF line ends, as the index has it.
    pub(crate) size: u64,
}

impl IndexedMessage<'_> {
    /// DATA_LOSS: the file is `what` ("shorter", "longer") than the index
    /// says (logged, as the index and the Maildir disagree).
    pub(crate) fn data_loss(&self, what: &str) -> Status {
        let message = format!(
            "message UID {} in {:?}: file is {what} than the index's {} bytes (with CRLF line ends)",
            self.uid, self.mailbox, self.size
        );
        tracing::error!(error = %message, "index and Maildir disagree");
        Status::data_loss(message)
    }

    /// A failed read of the file.
    pub(crate) fn io_error(&self, e: std::io::Error) -> Status {
        status_of(StoreError::io(
            format!("reading UID {} in {:?}", self.uid, self.mailbox),
            e,
        ))
    }

    /// DATA_LOSS unless `file` has no more bytes (all that was due was
    /// read: a message of size 0 before any).
    pub(crate) fn check_ends<R: Read>(&self, file: &mut CrlfReader<R>) -> Result<(), Status> {
        let mut probe = [0u8; 1];
        match file.read(&mut probe) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.data_loss("longer")),
            Err(e) => Err(self.io_error(e)),
        }
    }
}

/// A message's bytes still to be sent, read from its file chunk by chunk
/// (Fetch's whole messages, Retrieve's big ones).
pub(crate) struct Unsent {
    file: CrlfReader<File>,
    left: u64,
    /// The message's UID.
    pub(crate) uid: u32,
    /// Its size with CRLF line ends, as the index has it.
    pub(crate) size: u64,
}

impl Unsent {
    /// All `size` bytes of message `uid`'s `file` still to be sent.
    pub(crate) fn new(file: CrlfReader<File>, uid: u32, size: u64) -> Unsent {
        Unsent {
            file,
            left: size,
            uid,
            size,
        }
    }

    /// The next chunk; `None` once nothing is due. The last chunk is given
    /// only after the file was found to end there. DATA_LOSS when the file
    /// ends early or goes on past the index's size.
    pub(crate) fn next_chunk(&mut self, mailbox: &str) -> Result<Option<Vec<u8>>, Status> {
        if self.left == 0 {
            return Ok(None);
        }
        let message = IndexedMessage {
            mailbox,
            uid: self.uid,
            size: self.size,
        };
        let want = usize::try_from(self.left)
            .unwrap_or(CHUNK_SIZE)
            .min(CHUNK_SIZE);
        let mut buf = vec![0u8; want];
        let n = read_full(&mut self.file, &mut buf).map_err(|e| message.io_error(e))?;
        if n == 0 {
            return Err(message.data_loss("shorter"));
        }
        buf.truncate(n);
        self.left -= n as u64;
        if self.left == 0 {
            message.check_ends(&mut self.file)?;
        }
        Ok(Some(buf))
    }

    /// Whether every byte was sent.
    pub(crate) fn is_done(&self) -> bool {
        self.left == 0
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

//! Durable, streaming appends: a message of up to the append journal's
//! size is kept in memory as it comes, a bigger one goes to a file in
//! `tmp/`; finishing checks the size; committing indexes the messages of
//! one batch, all in one transaction (MULTIAPPEND, RFC 3502), and may
//! expunge a message in that same transaction (REPLACE, RFC 8508). The
//! commit is the durable point: it journals each small message's bytes
//! with its row and fsyncs the WAL, and the message's file is written
//! from the journal afterwards (see `crate::journal`); a message too big
//! for the journal is fsynced, renamed into the mailbox's `cur/` and that
//! directory fsynced before the commit instead.

mod commit;
mod group;

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::flags::Flags;
use crate::index;
use crate::maildir;
use crate::names;

pub use commit::{AppendedBatch, ReplaceTarget, Replaced};
pub(crate) use group::CommitQueue;

/// A message's internal date: seconds since the epoch and the zone it was
/// given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalDate {
    /// Seconds since the epoch.
    pub secs: i64,
    /// Minutes east of UTC.
    pub offset_minutes: i32,
}

/// Where a committed append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The new message's UID.
    pub uid: u32,
    /// The new message's MODSEQ.
    pub modseq: u64,
}

/// A message being appended. Write its bytes with [`AppendWriter::write`],
/// then [`AppendWriter::commit`]; dropping it uncommitted removes the
/// temporary file, so an aborted append leaves nothing behind.
pub struct AppendWriter {
    store: Store,
    mailbox: String,
    flags: Flags,
    internal_date: InternalDate,
    /// The announced size; `None` when the writer did not know it
    /// (IMAP CATENATE assembles a message from parts).
    expected: Option<u64>,
    written: u64,
    /// Size with bare LFs counted as CRLF (the Maildir `W=` field).
    vsize: u64,
    last_byte: u8,
    base: String,
    /// Its file in tmp/ (empty path, `None`: none, the bytes are in
    /// `body`).
    tmp_path: PathBuf,
    file: Option<File>,
    /// The message's first bytes, for its thread headers.
    head: Vec<u8>,
    /// All its bytes while it may still go into the append journal (at
    /// most [`crate::journal::JOURNAL_MAX`]); `None` once it is bigger.
    body: Option<Vec<u8>>,
    /// The guest whose private `\Seen` the message gets instead of the
    /// shared one (see [`AppendWriter::seen_privately_by`]).
    seen_by: Option<String>,
    /// Never refused by the usage cap (see [`AppendWriter::outside_quota`]).
    outside_quota: bool,
    /// Its commit claims the recent messages (see [`AppendWriter::claim_recent`]).
    claims_recent: bool,
    /// [`AppendWriter::finish`] ran.
    finished: bool,
}

/// A new file in `store`'s tmp/ named `base` (another unique base if that
/// name is taken): its base, path and handle.
fn tmp_file(store: &Store, mut base: String) -> Result<(String, PathBuf, File)> {
    // Temporary files live in the root's tmp/, which never moves when a
    // mailbox is renamed; the rename into cur/ stays on one file system.
    let tmp_dir = store.root().join("tmp");
    let mut attempt = 0;
    loop {
        let path = tmp_dir.join(&base);
        match maildir::create_private_file(&path, true) {
            Ok(file) => return Ok((base, path, file)),
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists && attempt < 5 =>
            {
                attempt += 1;
                base = maildir::unique_base(store.host());
            }
            Err(e) => return Err(e),
        }
    }
}

impl Store {
    /// Starts appending a message of exactly `expected_size` bytes to
    /// `mailbox` with `flags`. `internal_date` `None` means now (UTC).
    /// Fails early if the mailbox does not exist.
    pub fn begin_append(
        &self,
        mailbox: &str,
        flags: Flags,
        internal_date: Option<InternalDate>,
        expected_size: u64,
    ) -> Result<AppendWriter> {
        self.begin_append_sized(mailbox, flags, internal_date, Some(expected_size))
    }

    /// Like [`Store::begin_append`] for a message whose size is known only
    /// at its end (IMAP CATENATE builds one from parts as they arrive).
    pub fn begin_append_unsized(
        &self,
        mailbox: &str,
        flags: Flags,
        internal_date: Option<InternalDate>,
    ) -> Result<AppendWriter> {
        self.begin_append_sized(mailbox, flags, internal_date, None)
    }

    fn begin_append_sized(
        &self,
        mailbox: &str,
        flags: Flags,
        internal_date: Option<InternalDate>,
        expected_size: Option<u64>,
    ) -> Result<AppendWriter> {
        let mailbox = names::canonical(mailbox)?;
        {
            let conn = self.conn()?;
            if !index::mailbox_exists(&conn, &mailbox)? {
                return Err(StoreError::mailbox_not_found(&mailbox));
            }
        }
        let internal_date = internal_date.unwrap_or(InternalDate {
            secs: crate::now_secs(),
            offset_minutes: 0,
        });
        // A message small enough for the append journal is kept in memory
        // and gets no file now: its commit journals it, and its file is
        // written later from the journal (see `crate::journal`). A bigger
        // one (or one that grows too big) is written to a file in tmp/.
        let journaled = expected_size.is_none_or(|n| n <= crate::journal::JOURNAL_MAX);
        let base = maildir::unique_base(self.host());
        let (base, tmp_path, file) = if journaled {
            (base, PathBuf::new(), None)
        } else {
            let (base, path, file) = tmp_file(self, base)?;
            (base, path, Some(file))
        };
        Ok(AppendWriter {
            store: self.clone(),
            mailbox,
            flags,
            internal_date,
            expected: expected_size,
            written: 0,
            vsize: 0,
            last_byte: 0,
            base,
            tmp_path,
            file,
            head: Vec::new(),
            body: match expected_size {
                Some(n) if n > crate::journal::JOURNAL_MAX => None,
                Some(n) => Some(Vec::with_capacity(usize::try_from(n).unwrap_or(0))),
                None => Some(Vec::new()),
            },
            finished: false,
            seen_by: None,
            claims_recent: false,
            outside_quota: false,
        })
    }
}

impl AppendWriter {
    /// Writes the next bytes of the message. Writing more than the
    /// announced size fails with [`StoreError::SizeMismatch`] at once.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let new_total = self.written + data.len() as u64;
        if let Some(expected) = self.expected
            && new_total > expected
        {
            return Err(StoreError::SizeMismatch {
                mailbox: self.mailbox.clone(),
                expected,
                actual: new_total,
            });
        }
        if self.finished {
            return Err(StoreError::InvalidArgument(
                "append already finished".into(),
            ));
        }
        match &mut self.body {
            Some(body) if (body.len() + data.len()) as u64 <= crate::journal::JOURNAL_MAX => {
                body.extend_from_slice(data);
            }
            _ => self.write_to_file(data)?,
        }
        let room = crate::objectid::HEAD_MAX.saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..room.min(data.len())]);
        self.vsize += data.len() as u64 + crate::crlf::bare_line_feeds(self.last_byte, data);
        if let Some(&last) = data.last() {
            self.last_byte = last;
        }
        self.written = new_total;
        Ok(())
    }

    /// Writes `data` to the message's file in tmp/, made first (with the
    /// bytes kept so far) when the message outgrows the append journal.
    fn write_to_file(&mut self, data: &[u8]) -> Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let (base, path, mut file) = tmp_file(&self.store, std::mem::take(&mut self.base))?;
                self.base = base;
                self.tmp_path = path;
                if let Some(kept) = self.body.take() {
                    file.write_all(&kept).map_err(|e| {
                        StoreError::io(format!("writing {}", self.tmp_path.display()), e)
                    })?;
                }
                self.file.insert(file)
            }
        };
        self.body = None;
        file.write_all(data)
            .map_err(|e| StoreError::io(format!("writing {}", self.tmp_path.display()), e))
    }

    /// The bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the message durable and indexes it: [`AppendWriter::finish`],
    /// then [`Store::commit_appends`] of this one message. Returns its
    /// UIDVALIDITY, UID, MODSEQ.
    pub fn commit(self) -> Result<Appended> {
        let store = self.store.clone();
        let staged = self.finish()?;
        let batch = store.commit_appends(vec![staged], None)?;
        let uid = batch.uids.first().copied().ok_or_else(|| {
            StoreError::InvalidArgument("an append of one message indexed none".into())
        })?;
        Ok(Appended {
            uidvalidity: batch.uidvalidity,
            uid,
            modseq: batch.modseq,
        })
    }

    /// Makes the message's `\Seen`, if it was given one, private to
    /// `user`, a guest appending to the owner's mailbox: the message is
    /// indexed without the shared `\Seen` and as seen by `user` alone.
    pub fn seen_privately_by(&mut self, user: &str) {
        if self.flags.seen() {
            self.flags.system &= !crate::flags::SEEN;
            self.seen_by = Some(user.to_owned());
        }
    }

    /// Makes the commit claim the mailbox's recent messages (IMAP4rev1's
    /// `\Recent`, RFC 3501 §2.3.2) up to the batch's last new one, in
    /// the same transaction, for an appender that has the mailbox
    /// selected read-write: its new messages are recent to it, and no
    /// other session must claim them (see [`Store::claim_recent`];
    /// [`AppendedBatch::first_recent`] is the first UID claimed). One
    /// message of a batch asking is enough.
    pub fn claim_recent(&mut self) {
        self.claims_recent = true;
    }

    /// Exempts the message from the usage cap (see [`crate::UsageCap`]):
    /// its commit is never refused for quota. For what the server itself
    /// must put in a full mailbox, as the quota plugin's warning.
    pub fn outside_quota(&mut self) {
        self.outside_quota = true;
    }

    /// Ends the writing: checks that exactly the announced bytes came and,
    /// for a message too big for the append journal, fsyncs the file (a
    /// journaled one is made durable by its commit, see `crate::journal`).
    /// The message then waits in `tmp/` until
    /// [`Store::commit_appends`] indexes it with the others of its batch;
    /// dropping the [`StagedMessage`] instead removes it.
    pub fn finish(mut self) -> Result<StagedMessage> {
        if let Some(expected) = self.expected
            && self.written != expected
        {
            return Err(StoreError::SizeMismatch {
                mailbox: self.mailbox.clone(),
                expected,
                actual: self.written,
            });
        }
        if self.finished {
            return Err(StoreError::InvalidArgument(
                "append already finished".into(),
            ));
        }
        self.finished = true;
        if let Some(file) = self.file.take() {
            // Too big for the journal: durable by its own fsync.
            file.sync_all()
                .map_err(|e| StoreError::io(format!("fsync of {}", self.tmp_path.display()), e))?;
        }
        let file_name = maildir::final_name(
            &self.base,
            self.written,
            self.vsize,
            &self.flags.maildir_letters(),
        );
        // From here on the staged message owns the temporary file.
        let tmp_path = std::mem::take(&mut self.tmp_path);
        Ok(StagedMessage {
            thread: crate::objectid::thread_headers(&self.head),
            mailbox: std::mem::take(&mut self.mailbox),
            flags: std::mem::take(&mut self.flags),
            internal_date: self.internal_date,
            seen_by: self.seen_by.take(),
            claims_recent: self.claims_recent,
            outside_quota: self.outside_quota,
            body: self.body.take(),
            // The size as served: bare LFs count as CRLF.
            size: self.vsize,
            file_name,
            tmp_path,
        })
    }
}

/// A finished message, not yet in its mailbox (see
/// [`AppendWriter::finish`]): its bytes kept for the append journal, or
/// (too big for it) written and fsynced in `tmp/`. Dropping it
/// uncommitted removes the file.
pub struct StagedMessage {
    pub(crate) mailbox: String,
    pub(crate) flags: Flags,
    pub(crate) internal_date: InternalDate,
    /// The guest who has seen it, when its `\Seen` is private.
    pub(crate) seen_by: Option<String>,
    /// Its batch's commit claims the recent messages up to the batch's
    /// last one (see [`AppendWriter::claim_recent`]).
    pub(crate) claims_recent: bool,
    /// Exempt from the usage cap (see [`AppendWriter::outside_quota`]).
    pub(crate) outside_quota: bool,
    pub(crate) size: u64,
    /// The message ids it names, for its THREADID.
    pub(crate) thread: crate::objectid::ThreadHeaders,
    /// Its name in `cur/`: unique base, sizes and flag letters.
    pub(crate) file_name: String,
    /// Where its file waits (only when `body` is `None`); emptied once it
    /// has been moved into `cur/`.
    pub(crate) tmp_path: PathBuf,
    /// Its bytes, to journal with its index row (it has no file until the
    /// journal writes one); `None`: too big, so its file was fsynced and
    /// its `cur/` must be before the commit.
    pub(crate) body: Option<Vec<u8>>,
}

impl StagedMessage {
    /// The mailbox it is for (canonical name).
    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// Its size in bytes, as the quota counts it (CRLF line ends).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for StagedMessage {
    fn drop(&mut self) {
        remove_leftover(&self.tmp_path);
    }
}

/// Removes the temporary file of an append that was not committed (a
/// moved or never-made file has an empty path).
fn remove_leftover(path: &std::path::Path) {
    if path.as_os_str().is_empty() {
        return;
    }
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e,
            "temporary file of an aborted append could not be removed");
    }
}

impl Drop for AppendWriter {
    fn drop(&mut self) {
        self.file = None;
        remove_leftover(&self.tmp_path);
    }
}

//! Durable, streaming appends: bytes go to a file in `tmp/` as they come;
//! commit checks the size, fsyncs, renames into the mailbox's `cur/`,
//! fsyncs the directory and only then indexes the message.

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;

use rusqlite::params;

use crate::Store;
use crate::error::{Result, SqlContext, StoreError};
use crate::flags::Flags;
use crate::index::{self, cached_execute};
use crate::mailbox::begin_write;
use crate::maildir;
use crate::names;

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
    expected: u64,
    written: u64,
    /// Size with bare LFs counted as CRLF (the Maildir `W=` field).
    vsize: u64,
    last_byte: u8,
    base: String,
    tmp_path: PathBuf,
    file: Option<File>,
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
        let mailbox = names::canonical(mailbox)?;
        {
            let conn = self.conn();
            if !index::mailbox_exists(&conn, &mailbox)? {
                return Err(StoreError::mailbox_not_found(&mailbox));
            }
        }
        let internal_date = internal_date.unwrap_or(InternalDate {
            secs: crate::now_secs(),
            offset_minutes: 0,
        });
        // Temporary files live in the root's tmp/, which never moves when a
        // mailbox is renamed; the rename into cur/ stays on one file system.
        let tmp_dir = self.root().join("tmp");
        let mut attempt = 0;
        let (base, tmp_path, file) = loop {
            let base = maildir::unique_base(self.host());
            let path = tmp_dir.join(&base);
            match maildir::create_private_file(&path, true) {
                Ok(file) => break (base, path, file),
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists && attempt < 5 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
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
            file: Some(file),
        })
    }
}

impl AppendWriter {
    /// Writes the next bytes of the message. Writing more than the
    /// announced size fails with [`StoreError::SizeMismatch`] at once.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let new_total = self.written + data.len() as u64;
        if new_total > self.expected {
            return Err(StoreError::SizeMismatch {
                mailbox: self.mailbox.clone(),
                expected: self.expected,
                actual: new_total,
            });
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::InvalidArgument("append already finished".into()))?;
        file.write_all(data)
            .map_err(|e| StoreError::io(format!("writing {}", self.tmp_path.display()), e))?;
        self.vsize += data.len() as u64 + crate::crlf::bare_line_feeds(self.last_byte, data);
        if let Some(&last) = data.last() {
            self.last_byte = last;
        }
        self.written = new_total;
        Ok(())
    }

    /// The bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the message durable and indexes it: checks the size, fsyncs the
    /// file, renames it into the mailbox's `cur/`, fsyncs `cur/`, then adds
    /// the index row in one transaction. Returns its UIDVALIDITY, UID, MODSEQ.
    pub fn commit(mut self) -> Result<Appended> {
        if self.written != self.expected {
            return Err(StoreError::SizeMismatch {
                mailbox: self.mailbox.clone(),
                expected: self.expected,
                actual: self.written,
            });
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| StoreError::InvalidArgument("append already finished".into()))?;
        file.sync_all()
            .map_err(|e| StoreError::io(format!("fsync of {}", self.tmp_path.display()), e))?;
        drop(file);
        let name = maildir::final_name(
            &self.base,
            self.written,
            self.vsize,
            &self.flags.maildir_letters(),
        );
        let store = self.store.clone();
        let mut conn = store.conn();
        // The write lock is held across the rename so that the mailbox
        // cannot be renamed or deleted under us.
        let tx = begin_write(&mut conn)?;
        let mut mailbox = index::mailbox_row(&tx, &self.mailbox)?;
        let cur = names::mailbox_dir(store.root(), &mailbox.name).join("cur");
        let final_path = cur.join(&name);
        fs::rename(&self.tmp_path, &final_path).map_err(|e| {
            StoreError::io(
                format!(
                    "renaming {} to {}",
                    self.tmp_path.display(),
                    final_path.display()
                ),
                e,
            )
        })?;
        // From here on the file is in cur/; Drop must not look for it in tmp/.
        self.tmp_path = PathBuf::new();
        let result = (|| {
            maildir::fsync_dir(&cur)?;
            let uid = mailbox.uidnext;
            if uid == u32::MAX {
                return Err(StoreError::InvalidArgument(format!(
                    "mailbox {:?} has run out of UIDs",
                    mailbox.name
                )));
            }
            mailbox.uidnext += 1;
            mailbox.highestmodseq += 1;
            index::canonical_keywords(&tx, mailbox.id, &mut self.flags)?;
            cached_execute(
                &tx,
                "INSERT INTO messages (mailbox_id, uid, file, system_flags, keywords, modseq,
                     internal_date, internal_date_offset, size, save_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    mailbox.id,
                    uid,
                    name,
                    self.flags.system,
                    self.flags.keywords_text(),
                    mailbox.highestmodseq as i64,
                    self.internal_date.secs,
                    self.internal_date.offset_minutes,
                    // The size as served: bare LFs count as CRLF.
                    self.vsize as i64,
                    crate::now_secs(),
                ],
            )
            .ctx(&format!("indexing new message in {:?}", mailbox.name))?;
            index::add_keywords(&tx, mailbox.id, &self.flags)?;
            index::update_counters(&tx, &mailbox)?;
            Ok(uid)
        })();
        let committed = result.and_then(|uid| {
            tx.commit()
                .ctx(&format!("committing append to {:?}", mailbox.name))
                .map(|()| uid)
        });
        match committed {
            Ok(uid) => Ok(Appended {
                uidvalidity: mailbox.uidvalidity,
                uid,
                modseq: mailbox.highestmodseq,
            }),
            Err(e) => {
                // Not acknowledged, so not kept: remove the file again.
                if let Err(rm) = fs::remove_file(&final_path) {
                    tracing::warn!(path = %final_path.display(), error = %rm,
                        "unindexed message file of a failed append could not be removed");
                }
                Err(e)
            }
        }
    }
}

impl Drop for AppendWriter {
    fn drop(&mut self) {
        if self.tmp_path.as_os_str().is_empty() {
            return;
        }
        self.file = None;
        if let Err(e) = fs::remove_file(&self.tmp_path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.tmp_path.display(), error = %e,
                "temporary file of an aborted append could not be removed");
        }
    }
}

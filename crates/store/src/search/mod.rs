//! SEARCH, SORT and THREAD over one mailbox (issue 3, items 2 and 3).
//! Flag, size, date, UID and MODSEQ keys are answered from the index; only
//! messages still undecided have their files read. Long runs stop when the
//! caller's cancel flag is set (checked between messages).

mod criteria;
mod eval;
mod sort;
mod subject;
mod text;
mod thread;

use std::sync::atomic::{AtomicBool, Ordering};

pub use criteria::SearchKey;
pub use sort::{SortCriterion, SortKey};
pub use subject::base_subject;
pub use thread::{ThreadAlgorithm, ThreadNode};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, MessageMeta};
use crate::{Store, Viewer, names};

/// The matches of a SEARCH: UIDs ascending and the highest MODSEQ among
/// them (for CONDSTORE's `(MODSEQ n)` and ESEARCH).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResult {
    /// Matching UIDs, ascending.
    pub uids: Vec<u32>,
    /// The highest MODSEQ of the matches (0 if none).
    pub highest_modseq: u64,
}

impl SearchResult {
    /// The lowest matching UID (ESEARCH MIN).
    pub fn min(&self) -> Option<u32> {
        self.uids.first().copied()
    }

    /// The highest matching UID (ESEARCH MAX).
    pub fn max(&self) -> Option<u32> {
        self.uids.last().copied()
    }
}

impl Store {
    /// The messages of `mailbox` matching `key`. `uidvalidity` 0 skips the
    /// UIDVALIDITY check. Setting `cancel` makes it stop with
    /// [`StoreError::Cancelled`].
    pub fn search(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        key: &SearchKey,
        cancel: &AtomicBool,
    ) -> Result<SearchResult> {
        self.search_as(mailbox, uidvalidity, key, cancel, Viewer::Owner)
    }

    /// [`Store::search`] as `viewer` sees the mailbox: for a guest, SEEN
    /// and UNSEEN test the guest's own `\Seen`.
    pub fn search_as(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        key: &SearchKey,
        cancel: &AtomicBool,
        viewer: Viewer<'_>,
    ) -> Result<SearchResult> {
        let matched = self.matching(mailbox, uidvalidity, key, cancel, viewer, false)?;
        Ok(SearchResult {
            highest_modseq: matched.iter().map(|(m, _)| m.modseq).max().unwrap_or(0),
            uids: matched.into_iter().map(|(m, _)| m.uid).collect(),
        })
    }

    /// The index rows (and file paths) of the matches, ascending UID,
    /// with the flags `viewer` sees. With `files`, the caller reads the
    /// matches' files: messages appended moments ago get theirs from the
    /// append journal first.
    pub(crate) fn matching(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        key: &SearchKey,
        cancel: &AtomicBool,
        viewer: Viewer<'_>,
        files: bool,
    ) -> Result<Vec<(MessageMeta, std::path::PathBuf)>> {
        let name = names::canonical(mailbox)?;
        let (row, metas) = {
            let mut conn = self.reader()?;
            let tx = crate::txn::Txn::read(&mut conn).ctx("starting a search")?;
            let row = index::mailbox_checked(&tx, &name, uidvalidity)?;
            let mut metas = index::all_messages(&tx, &row)?;
            crate::private_seen::overlay(&tx, row.id, viewer, &mut metas)?;
            (row, metas)
        };
        let dir = names::mailbox_dir(self.root(), &row.name).join("cur");
        let max_uid = metas.last().map(|m| m.uid).unwrap_or(0);
        let now = crate::now_secs();
        let header_only = !key.needs_body();
        // BODY finds the text parts from the cached structure, if any,
        // read on one connection for the whole search.
        let structures = if key.needs_body() && !key.needs_part_headers() {
            Some(self.reader()?)
        } else {
            None
        };
        let mut out = Vec::new();
        // Before the first file is read, messages appended moments ago get
        // theirs from the append journal (on a full disk they cannot, and
        // their text is not searched until there is room).
        let write_out = || self.write_out_journaled(crate::journal::Unwritten::Mailbox(row.id));
        let mut written_out = false;
        if files && !metas.is_empty() {
            written_out = true;
            write_out()?;
        }
        for meta in metas {
            if cancel.load(Ordering::Relaxed) {
                return Err(StoreError::Cancelled);
            }
            let path = dir.join(&meta.file);
            let answer = eval::eval_meta(key, &meta, now, max_uid);
            if answer.is_none() && !written_out {
                written_out = true;
                write_out()?;
            }
            let hit = match answer {
                Some(answer) => answer,
                None if let Some(conn) = &structures
                    && let Some(s) = crate::mime::cache::get(conn, row.id, meta.uid)? =>
                {
                    let need = text::body_extent(&s.body);
                    let Some(raw) = read_prefix(&path, &row.name, meta.uid, need)? else {
                        continue;
                    };
                    // The structure counts line ends as CRLF.
                    let raw = crate::crlf::to_crlf(&raw);
                    let mut t = text::MessageText::with_structure(&raw, &s.body);
                    eval::eval_full(key, &meta, &mut t, now, max_uid)
                }
                None => {
                    let read = if header_only {
                        read_header
                    } else {
                        read_message
                    };
                    let Some(raw) = read(&path, &row.name, meta.uid)? else {
                        continue;
                    };
                    let mut t = text::MessageText::new(&raw);
                    eval::eval_full(key, &meta, &mut t, now, max_uid)
                }
            };
            if hit {
                out.push((meta, path));
            }
        }
        Ok(out)
    }
}

/// Reads a message file whole; `None` if it vanished (expunged meanwhile).
pub(crate) fn read_message(
    path: &std::path::Path,
    mailbox: &str,
    uid: u32,
) -> Result<Option<Vec<u8>>> {
    gone_is_none(std::fs::read(path), path, mailbox, uid)
}

/// Reads the start of a message file up to the end of its header (header
/// keys need nothing else); `None` if it vanished.
fn read_header(path: &std::path::Path, mailbox: &str, uid: u32) -> Result<Option<Vec<u8>>> {
    let read = std::fs::File::open(path).and_then(|mut f| crate::mime::read_header(&mut f));
    gone_is_none(read, path, mailbox, uid)
}

/// Reads the first `len` bytes of a message file (as many as a cached
/// structure says its text needs); `None` if it vanished.
fn read_prefix(
    path: &std::path::Path,
    mailbox: &str,
    uid: u32,
    len: u64,
) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let read = std::fs::File::open(path).and_then(|f| {
        let mut raw = Vec::new();
        f.take(len).read_to_end(&mut raw).map(|_| raw)
    });
    gone_is_none(read, path, mailbox, uid)
}

fn gone_is_none(
    read: std::io::Result<Vec<u8>>,
    path: &std::path::Path,
    mailbox: &str,
    uid: u32,
) -> Result<Option<Vec<u8>>> {
    match read {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(mailbox, uid, "message file gone during search");
            Ok(None)
        }
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

//! Mail storage for one owner: a Maildir++ tree of message files and a
//! SQLite index beside it (DESIGN §5). No networking: the storage process
//! (`mailkeep-storage-server`) serves this over the storage RPC.
//!
//! Everything here is synchronous and may block on disk and on other
//! processes' index transactions: async callers run it on blocking threads.
//! Several processes (and several [`Store`] handles) may use the same
//! owner's store at once; every write is a `BEGIN IMMEDIATE` transaction.
//!
//! Layout under the Maildir root (`<home>/Maildir`): INBOX is the root's
//! `cur/ new/ tmp/`, a mailbox `Work.Projects` is the folder
//! `.Work.Projects/`, and the index is `mailkeep.index.sqlite` (WAL).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acl;
mod append;
mod changes_probe;
mod counts;
mod crlf;
mod disk_wait;
pub mod dovecot;
mod error;
mod expire;
mod flags;
mod flags_now;
mod index;
mod journal;
mod mailbox;
mod maildir;
mod maildrop;
mod messages;
mod metadata;
mod mime;
mod names;
mod objectid;
mod organize;
mod plugin_state;
mod private_seen;
mod quota_cap;
mod readers;
mod recent;
mod reindex;
mod schema;
mod search;
mod settled;
mod sync;
mod txn;
mod verify;
mod view_cache;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use acl::{AclChange, AclEntry, MAX_ACL_IDENTIFIER, Rights};
pub use append::{
    AppendWriter, Appended, AppendedBatch, InternalDate, ReplaceTarget, Replaced, StagedMessage,
};
pub use changes_probe::{ChangesProbe, MailboxCounters};
pub use crlf::{CrlfReader, to_crlf};
pub use disk_wait::threads_waiting_for_disk;
pub use error::{Result, StoreError};
pub use expire::Expired;
pub use flags::{ANSWERED, DELETED, DRAFT, FLAGGED, Flags, SEEN, StoreMode};
pub use index::{MAX_KEYWORDS, MessageMeta, UidRange};
pub use mailbox::{HAS_CHILDREN, HAS_NO_CHILDREN, MARKED, MailboxInfo, NOSELECT, UNMARKED};
pub use maildrop::{Maildrop, MaildropFile, MaildropLock, MaildropMessage, POP3_LOCK_FILE};
pub use messages::{Changes, Expunged, FlagsStored, MessageFlags, Selected};
pub use metadata::{MAX_ENTRY_NAME, MetadataDepth, MetadataEntry, MetadataFound, MetadataLimits};
pub use mime::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, CutSpec,
    Disposition, EnclosedMessage, Envelope, ListedCut, OpenedSection, PartSpan, SectionReader,
    SectionSpec, SectionText, SinglePart, Structure, UnknownCte, cut_all, cut_binary, cut_section,
    cuts_need_structure, parse_structure,
};
pub use names::{DELIMITER, INBOX, MAX_NAME_LEN, mailbox_dir};
pub use organize::{AutoMailbox, Copied, SPECIAL_USE_ATTRIBUTES};
pub use private_seen::Viewer;
pub use quota_cap::UsageCap;
pub use reindex::ReindexReport;
pub use schema::{INDEX_FILE, INDEX_WAL_FILE};
pub use search::{
    SearchKey, SearchResult, SortCriterion, SortKey, ThreadAlgorithm, ThreadNode, base_subject,
};
pub use settled::FetchedWithStructures;
pub use sync::SyncReport;
pub use verify::VerifyReport;

/// A mailbox's counters and counts (IMAP STATUS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    /// UIDVALIDITY: changes only when the mailbox is recreated.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// The MODSEQ of the latest change.
    pub highestmodseq: u64,
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Sum of the message sizes in bytes (CRLF line ends, as served).
    pub size: u64,
    /// Sum of the sizes of the messages with `\Deleted` (RFC 9208
    /// DELETED-STORAGE).
    pub deleted_size: u64,
    /// The MAILBOXID (RFC 8474): kept by RENAME, new when a mailbox of the
    /// same name is created again.
    pub mailbox_id: String,
}

/// One owner's mail store: cheap to clone (handles share one write
/// connection and a pool of read-only ones); safe to use from several
/// threads: writes are serialised on the write connection, reads run side
/// by side on read-only connections and never wait for a write.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    host: String,
    /// The write connection; `None` after [`Store::release_idle`] until
    /// the next write needs it.
    conn: Mutex<Option<Connection>>,
    readers: readers::Readers,
    /// Appends waiting to be committed together (group commit).
    commits: append::CommitQueue,
    /// The background flusher of the append journal.
    journal: journal::Flusher,
    /// The syncs that make journaled commits durable, outside the write
    /// lock (see `journal::durable`).
    durable: journal::Durability,
    /// The quota limits adding commits check (see `quota_cap`).
    usage_cap: Mutex<quota_cap::UsageCap>,
    /// Where the bytes of large files with bare LFs are served (see
    /// `mime::crlf_map`).
    crlf_maps: mime::CrlfMaps,
    /// The flags view of the mailbox selected last (see `view_cache`).
    views: view_cache::ViewCache,
    /// Flag changes made at once lately (see `flags_now`).
    flags_now: flags_now::InARow,
}

/// A store whose handle exists but whose files were not opened yet (see
/// [`Store::unopened`]).
pub struct Unopened(Store);

impl Unopened {
    /// Opens the store (see [`Store::open`]).
    pub fn open(self) -> Result<Store> {
        let store = self.0;
        let maildir = store.root();
        maildir::ensure_maildir(maildir, false)?;
        let mut conn = schema::open_index(maildir)?;
        // Before anything is read: files a crash lost come back.
        journal::recover(&mut conn, maildir)?;
        crlf::upgrade_sizes(&mut conn, maildir)?;
        maildir::clean_tmp(maildir);
        *store.inner.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
        // Messages of a migrated or imported index get their threads.
        store.thread_pending()?;
        Ok(store)
    }
}

impl Store {
    /// Opens the store whose Maildir++ root is `maildir` (`<home>/Maildir`),
    /// creating the root, its `cur/ new/ tmp/` (mode 0700) and the index
    /// (mode 0600) if missing, and clearing crash leftovers from `tmp/`.
    pub fn open(maildir: &Path) -> Result<Store> {
        Store::unopened(maildir).open()
    }

    /// The handle of the store at `maildir`, made on the calling thread
    /// without touching the disk; [`Unopened::open`] then opens it (on
    /// another thread if need be). A storage process makes the handle on
    /// its async thread and opens it on a blocking one: what the handle
    /// keeps for as long as the owner is served (a few hundred bytes) then
    /// lies among the async thread's long-lived allocations, not among the
    /// SQLite caches and statements the opening allocates and the release
    /// of an idle owner frees. Placed there, each owner's few small blocks
    /// pinned pages of freed cache in the blocking threads' malloc arenas
    /// (about 13 KB per owner with thousands of owners in IDLE).
    pub fn unopened(maildir: &Path) -> Unopened {
        Unopened(Store {
            inner: Arc::new(Inner {
                root: maildir.to_path_buf(),
                host: maildir::sanitized_hostname(),
                conn: Mutex::new(None),
                readers: readers::Readers::new(maildir),
                commits: append::CommitQueue::default(),
                journal: journal::Flusher::default(),
                durable: journal::Durability::default(),
                usage_cap: Mutex::default(),
                crlf_maps: mime::CrlfMaps::default(),
                views: view_cache::ViewCache::default(),
                flags_now: flags_now::InARow::default(),
            }),
        })
    }

    /// The Maildir++ root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The host name used in new message file names.
    pub(crate) fn host(&self) -> &str {
        &self.inner.host
    }

    /// The write connection. A panic while it was held left no open
    /// transaction (transactions roll back on drop), so a poisoned lock is
    /// safe to take over.
    /// Opened again here if [`Store::release_idle`] closed it.
    pub(crate) fn conn(&self) -> Result<writer::Writer<'_>> {
        let mut guard = self.inner.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(schema::reopen_writer(&self.inner.root)?);
        }
        Ok(writer::Writer::new(guard))
    }

    /// Closes what an idle owner need not hold: the write connection and
    /// the idle read connections, with their page caches and prepared
    /// statements (tens to hundreds of KB each), and the WAL file kept
    /// open for the append journal's syncs. A storage process that
    /// keeps thousands of owners open for their watchers calls this for
    /// the owners without calls; the next call opens what it needs again.
    /// Returns whether anything was closed. A connection in use is left
    /// alone. Appends this store journaled are flushed first.
    pub fn release_idle(&self) -> bool {
        self.flush_owed();
        let writer = match self.inner.conn.try_lock() {
            Ok(mut guard) => guard.take().is_some(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().take().is_some(),
            Err(std::sync::TryLockError::WouldBlock) => false,
        };
        let readers = self.inner.readers.close_idle();
        let wal = self.inner.journal.close_wal();
        self.inner.crlf_maps.clear();
        self.inner.views.clear();
        writer || readers || wal
    }

    /// Whether a connection of the store is in use now (the write
    /// connection held, or a read connection lent out): such a one is
    /// kept open by [`Store::release_idle`] and goes back to the pool
    /// after, so the caller should release the store again later.
    pub fn in_use(&self) -> bool {
        matches!(
            self.inner.conn.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        ) || self.inner.readers.lent() > 0
    }

    /// A read-only connection of its own for one read (see `readers`).
    pub(crate) fn reader(&self) -> Result<readers::Reader<'_>> {
        self.inner.readers.get()
    }

    /// A read connection for one read, closed after it unless it was an
    /// idle pooled one (see [`readers::Readers::get_transient`]).
    pub(crate) fn transient_reader(&self) -> Result<readers::Reader<'_>> {
        self.inner.readers.get_transient()
    }

    /// An idle read connection, if one is open (see [`readers::Readers::try_idle`]).
    pub(crate) fn idle_reader(&self) -> Option<readers::Reader<'_>> {
        self.inner.readers.try_idle()
    }
}

/// The current time in seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

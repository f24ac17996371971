//! What a POP3 session needs of the store (RFC 1939): the maildrop as it
//! is at login (UID, size as served, the UIDL another server gave the
//! message), removing exactly the messages the session deleted, at once
//! and durably, and the per-owner session lock (`pop3.lock_session`).
//!
//! The lock is an `flock` on a file in the Maildir root: it holds across
//! every storage process of the owner (and every thread: each lock opens
//! the file anew), and the kernel releases it when its holder closes the
//! file or dies, so a crashed session never leaves the maildrop locked.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::params;
use rustix::fs::{Mode, OFlags};

use crate::error::{Result, SqlContext, StoreError};
use crate::index::{self, UidRange};
use crate::messages::{Doomed, Expunged};
use crate::{Store, names};

/// The lock file's name in the Maildir root.
pub const POP3_LOCK_FILE: &str = "mailkeep-pop3.lock";

/// UIDLs other servers gave messages (Dovecot's `P` field), kept at
/// import. Rows of expunged messages are never read: UIDs are not reused
/// within a UIDVALIDITY, and [`Store::maildrop`] joins on `messages`.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pop3_uidls (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    uidl       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
";

/// One message of a maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildropMessage {
    /// The UID.
    pub uid: u32,
    /// Its size as served, with CRLF line ends.
    pub size: u64,
    /// The UIDL recorded for it at import, if any.
    pub uidl: Option<String>,
}

/// A mailbox as a POP3 session sees it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    /// The mailbox's UIDVALIDITY (part of the default UIDL).
    pub uidvalidity: u32,
    /// Every message, ascending UID.
    pub messages: Vec<MaildropMessage>,
}

/// Where one message of a maildrop is, for streaming its bytes (see
/// [`Store::maildrop_files`]).
#[derive(Debug, Clone)]
pub struct MaildropFile {
    /// The UID.
    pub uid: u32,
    /// Its size as served, with CRLF line ends.
    pub size: u64,
    /// Its file as the index named it when the list was made.
    pub path: PathBuf,
    /// The listing's `cur/` folder, open and shared by every file of the
    /// listing: a file opened by its name in it costs the kernel one name
    /// lookup instead of a walk of the whole path (a POP3 session opens
    /// one file per message). `None` if the folder could not be opened:
    /// the path is used.
    cur: Option<Arc<OwnedFd>>,
}

/// The held POP3 session lock of one owner; dropping it releases it.
#[derive(Debug)]
pub struct MaildropLock {
    _file: Flock<File>,
}

/// Records the UIDL another server gave `uid` in a mailbox.
pub(crate) fn keep_uidl(
    tx: &rusqlite::Connection,
    mailbox_id: i64,
    uid: u32,
    uidl: &str,
) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO pop3_uidls (mailbox_id, uid, uidl) VALUES (?1, ?2, ?3)",
        params![mailbox_id, uid, uidl],
    )
    .ctx(&format!("keeping the POP3 UIDL of UID {uid}"))?;
    Ok(())
}

/// The maildrop of the canonical mailbox `name` as `conn` reads it, from
/// one snapshot (see [`Store::maildrop`]).
pub(crate) fn maildrop_in(conn: &mut rusqlite::Connection, name: &str) -> Result<Maildrop> {
    let tx = crate::txn::Txn::read(conn).ctx("starting a read")?;
    let row = index::mailbox_row(&tx, name)?;
    let context = format!("reading the maildrop {name:?}");
    let mut stmt = tx
        .prepare_cached(
            "SELECT m.uid, m.size, p.uidl FROM messages m
             LEFT JOIN pop3_uidls p ON p.mailbox_id = m.mailbox_id AND p.uid = m.uid
             WHERE m.mailbox_id = ?1 ORDER BY m.uid",
        )
        .ctx(&context)?;
    let messages = stmt
        .query_map([row.id], |r| {
            Ok(MaildropMessage {
                uid: r.get(0)?,
                size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                uidl: r.get(2)?,
            })
        })
        .ctx(&context)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(&context)?;
    Ok(Maildrop {
        uidvalidity: row.uidvalidity,
        messages,
    })
}

impl Store {
    /// Every message of `mailbox` now, with the UIDLs kept for them, from
    /// one snapshot (after picking up outside changes).
    pub fn maildrop(&self, mailbox: &str) -> Result<Maildrop> {
        let name = names::canonical(mailbox)?;
        // After outside changes are picked up (DESIGN §5).
        self.read_synced(&name, |conn| maildrop_in(conn, &name))
    }

    /// The files of the messages `uids` of `mailbox`, in the order given,
    /// from one read of the index (POP3 RETR: a session retrieves message
    /// after message, and one lookup for all of them costs a fraction of
    /// one per message). UIDs not in the index (expunged) are left out;
    /// a UIDVALIDITY other than `uidvalidity` is
    /// [`StoreError::UidValidityChanged`]. A file may be renamed or
    /// removed after the list is made: open it with
    /// [`Store::open_maildrop_file`].
    pub fn maildrop_files(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<Vec<MaildropFile>> {
        let (Some(&low), Some(&high)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(Vec::new());
        };
        let name = names::canonical(mailbox)?;
        let mut conn = self.reader()?;
        let tx = crate::txn::Txn::read(&mut conn).ctx("starting a read")?;
        let row = index::mailbox_checked(&tx, &name, uidvalidity)?;
        let cur = names::mailbox_dir(self.root(), &row.name).join("cur");
        let cur_dir = rustix::fs::open(
            &cur,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(Arc::new);
        let context = format!("listing the files of the maildrop {name:?}");
        let mut stmt = tx
            .prepare_cached(
                "SELECT uid, size, file FROM messages
                 WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3",
            )
            .ctx(&context)?;
        let mut found: HashMap<u32, (u64, String)> = stmt
            .query_map(params![row.id, low, high], |r| {
                let size = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                Ok((r.get::<_, u32>(0)?, (size, r.get::<_, String>(2)?)))
            })
            .ctx(&context)?
            .collect::<rusqlite::Result<_>>()
            .ctx(&context)?;
        Ok(uids
            .iter()
            .filter_map(|uid| {
                let (size, file) = found.remove(uid)?;
                Some(MaildropFile {
                    uid: *uid,
                    size,
                    path: cur.join(file),
                    cur: cur_dir.clone(),
                })
            })
            .collect())
    }

    /// Opens a file [`Store::maildrop_files`] listed. One renamed since
    /// (its flags changed) is found through a fresh lookup; one whose
    /// message was expunged since is [`StoreError::Expunged`]; a row
    /// whose file is gone is [`StoreError::MessageFileMissing`].
    pub fn open_maildrop_file(&self, mailbox: &str, listed: &MaildropFile) -> Result<File> {
        let opened = match (&listed.cur, listed.path.file_name()) {
            (Some(cur), Some(name)) => {
                rustix::fs::openat(cur, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map(File::from)
                    .map_err(std::io::Error::from)
            }
            _ => File::open(&listed.path),
        };
        match opened {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(self.open_message(mailbox, listed.uid)?.0)
            }
            Err(e) => Err(StoreError::io(
                format!("opening {}", listed.path.display()),
                e,
            )),
        }
    }

    /// Removes exactly the messages `uids` of `mailbox`, whatever their
    /// flags, and returns once that is on disk (POP3 QUIT). UIDs already
    /// gone are skipped; a UIDVALIDITY other than `uidvalidity` removes
    /// nothing ([`StoreError::UidValidityChanged`]).
    pub fn remove_listed(&self, mailbox: &str, uidvalidity: u32, uids: &[u32]) -> Result<Expunged> {
        if uidvalidity == 0 {
            return Err(StoreError::InvalidArgument(
                "a maildrop commit names the UIDVALIDITY it was opened with".into(),
            ));
        }
        let ranges: Vec<UidRange> = uids
            .iter()
            .filter(|&&uid| uid != 0 && uid != u32::MAX)
            .map(|&uid| UidRange::single(uid))
            .collect();
        if ranges.is_empty() {
            return Ok(Expunged::default());
        }
        let which = Doomed {
            ranges: &ranges,
            flagged_only: false,
            durable: true,
        };
        self.remove_messages(mailbox, uidvalidity, which)
    }

    /// Takes the owner's POP3 session lock; `Ok(None)` while another
    /// session (in this or another process) holds it.
    pub fn lock_maildrop(&self) -> Result<Option<MaildropLock>> {
        let path = self.root().join(POP3_LOCK_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::maildir::create_private_file(&path, false)?
            }
            Err(e) => return Err(StoreError::io(format!("opening {}", path.display()), e)),
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => Ok(Some(MaildropLock { _file: file })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(StoreError::io(
                format!("locking {}", path.display()),
                std::io::Error::from(errno),
            )),
        }
    }
}

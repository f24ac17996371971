//! What a POP3 session needs of the store (RFC 1939): the maildrop as it
//! is at login (UID, size as served, the UIDL another server gave the
//! message), removing exactly the messages the session deleted, at once
//! and durably, and the per-owner session lock (`pop3.lock_session`).
//!
//! The lock is an `flock` on a file in the Maildir root: it holds across
//! every storage process of the owner (and every thread: each lock opens
//! the file anew), and the kernel releases it when its holder closes the
//! file or dies, so a crashed session never leaves the maildrop locked.

use std::fs::File;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{Transaction, params};

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

/// The held POP3 session lock of one owner; dropping it releases it.
#[derive(Debug)]
pub struct MaildropLock {
    _file: Flock<File>,
}

/// Records the UIDL another server gave `uid` in a mailbox.
pub(crate) fn keep_uidl(tx: &Transaction<'_>, mailbox_id: i64, uid: u32, uidl: &str) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO pop3_uidls (mailbox_id, uid, uidl) VALUES (?1, ?2, ?3)",
        params![mailbox_id, uid, uidl],
    )
    .ctx(&format!("keeping the POP3 UIDL of UID {uid}"))?;
    Ok(())
}

impl Store {
    /// Every message of `mailbox` now, with the UIDLs kept for them, from
    /// one snapshot (after picking up outside changes).
    pub fn maildrop(&self, mailbox: &str) -> Result<Maildrop> {
        let name = names::canonical(mailbox)?;
        self.sync_mailbox(&name)?; // outside changes (DESIGN §5)
        let mut conn = self.reader()?;
        let tx = conn.transaction().ctx("starting a read")?;
        let row = index::mailbox_row(&tx, &name)?;
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

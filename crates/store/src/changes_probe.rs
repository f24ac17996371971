//! A cheap way for a storage process to notice changes that *another*
//! process (a second storage process of the same owner, an LDA) committed
//! to an owner's index: a dedicated read-only connection whose
//! `PRAGMA data_version` moves whenever any other connection commits, and
//! a one-query snapshot of every mailbox's counters (and ACL stamp) to
//! compare against.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, SqlContext};
use crate::schema::INDEX_FILE;

/// How long a probe query waits for a lock before failing: not at all. A
/// reading of `data_version` touches only the shared-memory index, so it
/// waits only during a WAL recovery after a crash; the poller then simply
/// reads again at its next tick, and its thread is never held.
const PROBE_BUSY_TIMEOUT: Duration = Duration::ZERO;

/// One mailbox as the index has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxCounters {
    /// The mailbox name.
    pub name: String,
    /// UIDVALIDITY: changes only when the mailbox is recreated.
    pub uidvalidity: u32,
    /// The UID the next message will get (grows on new mail).
    pub uidnext: u32,
    /// The MODSEQ of the latest change.
    pub highestmodseq: u64,
    /// Whether the owner subscribes to it.
    pub subscribed: bool,
    /// The mailbox's ACL stamp: it moves with every change of the
    /// mailbox's ACL, whoever makes it (triggers on the ACL table bump
    /// it), so that a change of who may see the mailbox is noticed like
    /// a change of its messages. 0 while the ACL never changed.
    pub acl_stamp: u64,
}

/// A connection, used only for reading, to one owner's index used only to detect
/// changes; separate from the store's own connection so that its
/// `data_version` reflects every commit made through any other connection.
pub struct ChangesProbe {
    conn: Connection,
}

impl ChangesProbe {
    /// Opens a probe on the index under the Maildir++ root `maildir`
    /// (the store must exist: [`crate::Store::open`] creates it).
    pub fn open(maildir: &Path) -> Result<ChangesProbe> {
        let path = maildir.join(INDEX_FILE);
        let context = format!("opening a change probe on {}", path.display());
        // Opened read-write (never written, never created): a read-only
        // connection to a WAL database fails when it cannot map the -shm.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).ctx(&context)?;
        conn.busy_timeout(PROBE_BUSY_TIMEOUT).ctx(&context)?;
        Ok(ChangesProbe { conn })
    }

    /// SQLite's `data_version`: a number that differs from the previous
    /// reading exactly when another connection committed in between.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .ctx("reading the index's data_version")
    }
}

impl crate::Store {
    /// Every mailbox with its counters, in name order, read through a
    /// pooled reader (the probe itself stays a bare connection: it never
    /// loads the schema, so an owner watched for hours costs little).
    pub fn mailbox_counters(&self) -> Result<Vec<MailboxCounters>> {
        let reader = self.reader()?;
        read_counters(&reader)
    }

    /// [`Store::mailbox_counters`] for change detection on behalf of an
    /// owner that may have no calls at all (its sessions only watch): the
    /// read uses an idle pooled connection if one is open and otherwise
    /// opens one that it closes again, so that it leaves nothing open (a
    /// read-only connection never checkpoints or touches the WAL when it
    /// closes, so closing it causes no change of its own).
    pub fn mailbox_counters_transient(&self) -> Result<Vec<MailboxCounters>> {
        let reader = self.transient_reader()?;
        read_counters(&reader)
    }
}

/// Every mailbox with its counters, in name order, through `conn`.
fn read_counters(conn: &Connection) -> Result<Vec<MailboxCounters>> {
    let context = "reading mailbox counters for change detection";
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.subscribed, \
                    COALESCE(s.stamp, 0) \
             FROM mailboxes m LEFT JOIN acl_stamps s ON s.mailbox_id = m.id \
             ORDER BY m.name",
        )
        .ctx(context)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(MailboxCounters {
                name: r.get(0)?,
                uidvalidity: r.get(1)?,
                uidnext: r.get(2)?,
                highestmodseq: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                subscribed: r.get::<_, i64>(4)? != 0,
                acl_stamp: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            })
        })
        .ctx(context)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(context)
}

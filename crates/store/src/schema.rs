//! The index database: opening it (WAL, full sync, busy timeout, mode
//! 0600) and its schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Result, SqlContext};
use crate::maildir::create_private_file;

/// The index file's name inside the Maildir root.
pub const INDEX_FILE: &str = "mailkeep.index.sqlite";

/// The index's write-ahead log, beside it: every commit, by any process,
/// writes to it (watchers of the owner learn of commits by its changes).
pub const INDEX_WAL_FILE: &str = "mailkeep.index.sqlite-wal";

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// How long a writer waits for another process's transaction.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema version this code writes (`PRAGMA user_version`).
/// 2: object ids (RFC 8474): `mailboxes.object_id`, `messages.email_id`
/// and `messages.thread_id`, and the `thread_refs` table.
/// 3: the append journal (`pending_bodies` and its trigger; see
/// `crate::journal`), created by the schema statements like any new table.
/// 4: `pending_bodies.unwritten` (appends journal their bytes and write
/// their files later).
const SCHEMA_VERSION: i64 = 4;

/// What a version-1 index lacks of version 2; the new columns are filled
/// in by [`BACKFILL`] and, for thread ids, by the store once open.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE mailboxes ADD COLUMN object_id TEXT;
ALTER TABLE messages ADD COLUMN email_id TEXT;
ALTER TABLE messages ADD COLUMN thread_id TEXT;
";

/// Object ids for the rows of a migrated index: random, so they never
/// come back after a delete. (Rows added later get theirs from triggers;
/// an older program refuses to open a newer index.)
const BACKFILL: &str = "
UPDATE mailboxes SET object_id = 'F' || lower(hex(randomblob(12))) WHERE object_id IS NULL;
UPDATE messages SET email_id = 'M' || lower(hex(randomblob(12))) WHERE email_id IS NULL;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    subscribed    INTEGER NOT NULL DEFAULT 0,
    object_id     TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    mailbox_id           INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid                  INTEGER NOT NULL,
    file                 TEXT NOT NULL,
    system_flags         INTEGER NOT NULL,
    keywords             TEXT NOT NULL,
    modseq               INTEGER NOT NULL,
    internal_date        INTEGER NOT NULL,
    internal_date_offset INTEGER NOT NULL,
    size                 INTEGER NOT NULL,
    save_date            INTEGER NOT NULL,
    email_id             TEXT,
    thread_id            TEXT,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_modseq ON messages (mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expunged_by_modseq ON expunged (mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS keywords (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, name)
) WITHOUT ROWID;
";

/// Opens (creating if missing) the index of the Maildir at `root`, and
/// makes sure the schema and the INBOX row exist.
pub fn open_index(root: &Path) -> Result<Connection> {
    let path = root.join(INDEX_FILE);
    // Create the file ourselves so its mode is 0600 whatever the umask;
    // SQLite gives the -wal and -shm files the database file's mode.
    if !path.exists() {
        drop(create_private_file(&path, false)?);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let context = format!("opening {}", path.display());
    let mut conn = Connection::open_with_flags(&path, flags).ctx(&context)?;
    set_writer_options(&conn, &context)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(&context)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx("reading schema version")?;
    if version > SCHEMA_VERSION {
        return Err(crate::StoreError::InvalidArgument(format!(
            "index {} has schema version {version}, newer than this program's {SCHEMA_VERSION}",
            path.display()
        )));
    }
    if version == 1 {
        tx.execute_batch(MIGRATE_1_TO_2)
            .ctx("migrating the index to schema version 2")?;
    }
    tx.execute_batch(SCHEMA).ctx("creating schema")?;
    tx.execute_batch(crate::sync::SCHEMA)
        .ctx("creating sync schema")?;
    tx.execute_batch(crate::mime::cache::SCHEMA)
        .ctx("creating MIME cache schema")?;
    tx.execute_batch(crate::organize::SCHEMA)
        .ctx("creating organize schema")?;
    tx.execute_batch(crate::objectid::SCHEMA)
        .ctx("creating object id schema")?;
    tx.execute_batch(crate::metadata::SCHEMA)
        .ctx("creating metadata schema")?;
    tx.execute_batch(crate::maildrop::SCHEMA)
        .ctx("creating maildrop schema")?;
    tx.execute_batch(crate::counts::SCHEMA)
        .ctx("creating the counts schema")?;
    tx.execute_batch(crate::counts::BACKFILL)
        .ctx("counting the messages of mailboxes not counted yet")?;
    tx.execute_batch(crate::plugin_state::SCHEMA)
        .ctx("creating plugin state schema")?;
    tx.execute_batch(crate::acl::SCHEMA)
        .ctx("creating the ACL schema")?;
    tx.execute_batch(crate::acl::STAMP_SCHEMA)
        .ctx("creating the ACL stamps")?;
    tx.execute_batch(crate::private_seen::SCHEMA)
        .ctx("creating the private seen schema")?;
    tx.execute_batch(crate::recent::SCHEMA)
        .ctx("creating the recent claims")?;
    if version == 3 {
        tx.execute_batch(crate::journal::MIGRATE_3_TO_4)
            .ctx("migrating the index to schema version 4")?;
    }
    tx.execute_batch(crate::journal::SCHEMA)
        .ctx("creating the append journal")?;
    if version == 1 {
        tx.execute_batch(BACKFILL).ctx("giving rows object ids")?;
    }
    // Written only when it changes: an index already at this version then
    // commits nothing, so a store opens on a full disk.
    if version != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .ctx("setting schema version")?;
    }
    let has_inbox: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE name = 'INBOX')",
            [],
            |r| r.get(0),
        )
        .ctx("looking for INBOX")?;
    if !has_inbox {
        crate::index::insert_mailbox(&tx, crate::names::INBOX)?;
        crate::dovecot::import_if_dovecot(&tx, root)?; // a new index: take over Dovecot's UIDs
    }
    tx.commit().ctx("committing schema")?;
    Ok(conn)
}

/// Opens the write connection again on an index that [`open_index`] has
/// already made and migrated (after [`crate::Store::release_idle`] closed
/// it): the connection's settings only, no schema work.
pub(crate) fn reopen_writer(root: &Path) -> Result<Connection> {
    let path = root.join(INDEX_FILE);
    let context = format!("reopening {}", path.display());
    // Not created: the index must still be there.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&path, flags).ctx(&context)?;
    set_writer_options(&conn, &context)?;
    Ok(conn)
}

/// The write connection's settings: WAL, normal sync, foreign keys, the
/// busy timeout and a statement cache for the hot paths.
///
/// `synchronous = NORMAL` in WAL mode: a commit is in the WAL, so in the
/// OS, before it returns — a killed process loses nothing — but the WAL
/// is fsynced at checkpoints only, so a power loss may undo the last
/// commits. An append's commit is the exception: it carries the message's
/// bytes in the append journal and is made durable (`synchronous = FULL`
/// for that transaction, see `crate::journal`), as is a big message's
/// file, fsynced with its directory, which the next sync picks up again
/// if the index forgot it. Otherwise the Maildir carries what must survive: flags live
/// in the file names and expunges are unlinks, which the sync reads back
/// too. A commit per flag change is then no fsync (as Dovecot does not
/// fsync its index for one).
/// Keeps a prepared statement's plan whatever values are bound to it
/// (SQLite's query planner stability guarantee). Without it, a statement
/// whose plan looked at a bound value (a `LIMIT ?`, a `LIKE ?`) expires
/// at every new binding and is parsed and planned again: the count of a
/// mailbox's changes that every settled Changes call makes (`LIMIT ?3`)
/// was prepared anew each time, 13% of a storage process's CPU while a
/// client sent NOOPs (`perf`: `sqlite3Reprepare` under it). Used by the
/// writer and by every reader.
pub(crate) fn keep_plans(conn: &Connection, context: &str) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .ctx(context)?;
    Ok(())
}

fn set_writer_options(conn: &Connection, context: &str) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).ctx(context)?;
    // Room for every statement of the hot paths (see index::cached_row).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    keep_plans(conn, context)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .ctx(context)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx(context)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .ctx(context)?;
    // Temporary tables, sorts and statement journals stay in memory: a
    // storage process may open no file outside the homes it serves
    // (Landlock), so not SQLite's temporary directory either.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .ctx(context)?;
    Ok(())
}

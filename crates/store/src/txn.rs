//! Transactions begun and ended through the connection's statement cache.
//!
//! rusqlite's `Transaction` runs `BEGIN`, `COMMIT` and `ROLLBACK` with
//! `execute_batch`, which parses and prepares the statement again every
//! time: on the hot paths (a STORE, a FETCH's read transaction) that was
//! about a tenth of the SQLite work of a call. These run the same
//! statements prepared once per connection.

use std::ops::{Deref, DerefMut};

use rusqlite::Connection;

/// How a transaction takes its lock.
#[derive(Debug, Clone, Copy)]
enum Begin {
    /// `BEGIN`: a read snapshot, upgraded at the first write.
    Deferred,
    /// `BEGIN IMMEDIATE`: the database's write lock at once.
    Immediate,
}

/// An open transaction on a connection: committed by [`Txn::commit`],
/// rolled back when dropped otherwise (as rusqlite's `Transaction`).
/// Derefs to the connection, so statements run on it as on the
/// connection.
pub(crate) struct Txn<'c> {
    conn: &'c mut Connection,
    /// Set once it is committed (or its end was tried): nothing to roll
    /// back when dropped.
    ended: bool,
}

impl<'c> Txn<'c> {
    /// Starts a read transaction (`BEGIN`, deferred), or joins the one
    /// `conn` has open already: a read made inside a caller's snapshot
    /// (a settled check followed by the read, see `crate::settled`) reads
    /// that snapshot and leaves its end to the caller. Each transaction
    /// costs SQLite a WAL read lock taken and given back and, when another
    /// connection wrote meanwhile, its page cache dropped and read again.
    pub(crate) fn read(conn: &'c mut Connection) -> rusqlite::Result<Txn<'c>> {
        if !conn.is_autocommit() {
            return Ok(Txn { conn, ended: true });
        }
        Self::begin(conn, Begin::Deferred)
    }

    /// Starts a write transaction that holds the write lock from the start
    /// (`BEGIN IMMEDIATE`).
    pub(crate) fn write(conn: &'c mut Connection) -> rusqlite::Result<Txn<'c>> {
        Self::begin(conn, Begin::Immediate)
    }

    fn begin(conn: &'c mut Connection, how: Begin) -> rusqlite::Result<Txn<'c>> {
        let sql = match how {
            Begin::Deferred => "BEGIN DEFERRED",
            Begin::Immediate => "BEGIN IMMEDIATE",
        };
        conn.prepare_cached(sql)?.execute([])?;
        Ok(Txn { conn, ended: false })
    }

    /// Commits the transaction. On failure SQLite may have rolled it back
    /// already; whatever is left open is rolled back as the value drops.
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.ended = true;
        Ok(())
    }
}

impl Deref for Txn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl DerefMut for Txn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        // A failed COMMIT (or a statement error SQLite answered with a
        // rollback) may have ended the transaction already.
        if self.ended || self.conn.is_autocommit() {
            return;
        }
        let rolled_back = self
            .conn
            .prepare_cached("ROLLBACK")
            .and_then(|mut s| s.execute([]));
        if let Err(e) = rolled_back {
            tracing::warn!(error = %e, "rolling a transaction back failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Txn;

    fn table() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        conn
    }

    fn count(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_committed_write_stays_and_a_dropped_one_is_rolled_back() {
        let mut conn = table();
        for _ in 0..3 {
            let tx = Txn::write(&mut conn).unwrap();
            tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(count(&conn), 3);
        {
            let tx = Txn::write(&mut conn).unwrap();
            tx.execute("INSERT INTO t VALUES (2)", []).unwrap();
        }
        assert!(conn.is_autocommit(), "the dropped one ended");
        assert_eq!(count(&conn), 3);
        let tx = Txn::read(&mut conn).unwrap();
        assert_eq!(count(&tx), 3);
        drop(tx);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_read_inside_an_open_transaction_joins_it_and_leaves_its_end_to_it() {
        let mut conn = table();
        let mut outer = Txn::read(&mut conn).unwrap();
        assert_eq!(count(&outer), 0);
        {
            let inner = Txn::read(&mut outer).unwrap();
            assert_eq!(count(&inner), 0);
        }
        assert!(!outer.is_autocommit(), "the outer one is still open");
        drop(outer);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_savepoint_inside_commits_or_rolls_back_alone() {
        let mut conn = table();
        let mut tx = Txn::write(&mut conn).unwrap();
        {
            let sp = tx.savepoint().unwrap();
            sp.execute("INSERT INTO t VALUES (1)", []).unwrap();
            sp.commit().unwrap();
        }
        {
            let sp = tx.savepoint().unwrap();
            sp.execute("INSERT INTO t VALUES (2)", []).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(count(&conn), 1);
    }
}

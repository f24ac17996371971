//! Checkpoints of the index's WAL run on a thread of the store's own, not
//! inside the commit that takes the WAL past its limit, and still keep
//! the WAL short: once one has copied every frame, the next commit starts
//! the WAL over.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{append, root_of, temp_store};
use mailkeep_store::{INDEX_FILE, StoreMode, UidRange};

/// Far longer than a checkpoint of a few thousand pages takes.
const WAIT: Duration = Duration::from_secs(60);

/// Frames in the WAL of the index at `root` (the second column of
/// `PRAGMA wal_checkpoint`, asked on a connection of the test's own).
fn wal_frames(root: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(root.join(INDEX_FILE)).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap()
}

#[test]
fn the_wal_is_checkpointed_in_the_background_and_starts_over() {
    let (dir, store) = temp_store();
    let uid = append(&store, "INBOX", b"Subject: x\r\n\r\nx\r\n", &[]).uid;
    assert_eq!(store.index_checkpoints(WAIT), 0);
    // Flag changes, a few WAL pages each, until a checkpoint has run
    // (about 1,000 pages): each commit past the limit asks for one.
    let mut commits = 0;
    while store.index_checkpoints(Duration::ZERO) == 0 {
        assert!(
            commits < 20_000,
            "no background checkpoint after {commits} commits"
        );
        let mode = if commits % 2 == 0 {
            StoreMode::Add
        } else {
            StoreMode::Remove
        };
        store
            .store_flags(
                "INBOX",
                0,
                &[UidRange::single(uid)],
                mode,
                &["\\Flagged"],
                None,
            )
            .unwrap();
        commits += 1;
    }
    assert!(commits > 50, "a checkpoint after only {commits} commits");
    // Once the checkpoints asked for have run, one more commit starts the
    // WAL over: it holds that commit's frames alone.
    assert!(store.index_checkpoints(WAIT) >= 1);
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(uid)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    let frames = wal_frames(&root_of(&dir));
    assert!(frames < 50, "the WAL did not start over: {frames} frames");
}

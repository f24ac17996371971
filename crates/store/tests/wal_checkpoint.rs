//! The index's WAL is checkpointed by the commit that takes it past
//! [`WAL_CHECKPOINT_PAGES`], not SQLite's default 1,000 pages, and starts
//! over after it: it comes within a commit of the threshold, and never
//! goes past it by more than one.

#[allow(dead_code)]
mod common;

use common::{append, root_of, temp_store};
use mailkeep_store::{INDEX_WAL_FILE, StoreMode, UidRange, WAL_CHECKPOINT_PAGES};

/// The size of a WAL holding `frames` frames of the index's 4 KiB pages.
fn wal_bytes(frames: u64) -> u64 {
    32 + frames * (24 + 4096)
}

#[test]
fn the_wal_grows_to_the_threshold_and_starts_over_after_it() {
    let (dir, store) = temp_store();
    let wal = root_of(&dir).join(INDEX_WAL_FILE);
    let uid = append(&store, "INBOX", b"Subject: x\r\n\r\nx\r\n", &[]).uid;
    let threshold = u64::from(WAL_CHECKPOINT_PAGES);
    let mut largest = 0;
    // Flag changes of a few pages each, until the WAL has gone past the
    // threshold (and so been checkpointed) three times over.
    for i in 0..(6 * threshold) {
        let mode = if i % 2 == 0 {
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
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest > wal_bytes(threshold - 50),
        "the WAL was checkpointed before the threshold: {largest} bytes at most"
    );
    // One commit's frames past the threshold at most (a flag change
    // writes far fewer than 50).
    assert!(
        largest <= wal_bytes(threshold + 50),
        "the WAL outgrew the threshold: {largest} bytes"
    );
}

//! COPY/MOVE, special-use, subscriptions and quota bookkeeping on a real
//! (temporary) Maildir.

#[allow(dead_code)]
mod common;

use common::{read_message, temp_store};
use mailkeep_store::{Store, StoreError, StoreMode, UidRange};

fn append(store: &Store, mailbox: &str, body: &[u8], flags: &[&str]) -> u32 {
    common::append(store, mailbox, body, flags).uid
}

/// Asserts the trigger-kept usage equals the messages table's sums.
fn assert_quota_consistent(dir: &tempfile::TempDir, store: &Store) {
    let conn =
        rusqlite::Connection::open(common::root_of(dir).join(mailkeep_store::INDEX_FILE)).unwrap();
    let (bytes, count): (i64, i64) = conn
        .query_row(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(store.quota_usage().unwrap(), (bytes as u64, count as u64));
}

#[test]
fn copy_gives_new_uids_flags_and_dates() {
    let (_dir, store) = temp_store();
    store.create("Archive").unwrap();
    let a = append(
        &store,
        "INBOX",
        b"Subject: a\r\n\r\none\r\n",
        &["\\Seen", "$Work"],
    );
    let b = append(
        &store,
        "INBOX",
        b"Subject: b\r\n\r\ntwo\r\n",
        &["\\Flagged"],
    );
    let _ = append(&store, "Archive", b"Subject: c\r\n\r\nx\r\n", &[]);
    let before = store.status("Archive").unwrap();
    let uv = store.status("INBOX").unwrap().uidvalidity;
    let copied = store
        .copy_messages("INBOX", uv, &[UidRange::new(a, b)], "Archive")
        .unwrap();
    assert_eq!(copied.uidvalidity, before.uidvalidity);
    assert_eq!(copied.source_uids, vec![a, b]);
    assert_eq!(copied.new_uids, vec![2, 3]);
    let src = store.fetch("INBOX", 0, &[UidRange::all()]).unwrap();
    let dst = store.fetch("Archive", 0, &[UidRange::new(2, 3)]).unwrap();
    assert_eq!(src.len(), 2);
    for (s, d) in src.iter().zip(&dst) {
        assert_eq!(s.flags, d.flags);
        assert_eq!(s.internal_date, d.internal_date);
        assert_eq!(s.size, d.size);
        assert!(d.modseq > before.highestmodseq);
    }
    assert_eq!(
        read_message(&store, "Archive", 2),
        b"Subject: a\r\n\r\none\r\n"
    );
    let sel = store.select("Archive").unwrap();
    assert!(sel.keywords.iter().any(|k| k == "$Work"));
    // Same-mailbox copy is allowed.
    let again = store
        .copy_messages("Archive", 0, &[UidRange::single(1)], "Archive")
        .unwrap();
    assert_eq!(again.new_uids, vec![4]);
}

#[test]
fn copy_to_missing_target_is_not_found_and_leaves_nothing() {
    let (dir, store) = temp_store();
    append(&store, "INBOX", b"hello\r\n", &[]);
    let err = store
        .copy_messages("INBOX", 0, &[UidRange::all()], "Nope")
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .copy_messages("INBOX", 12345, &[UidRange::all()], "INBOX")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UidValidityChanged { .. }),
        "{err:?}"
    );
    // The message's own file, written from the append journal.
    store.flush_journal().unwrap();
    let files = std::fs::read_dir(dir.path().join("Maildir/cur"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
}

#[test]
fn move_expunges_source_with_tombstones() {
    let (dir, store) = temp_store();
    store.create("Trash").unwrap();
    let a = append(&store, "INBOX", b"one\r\n", &[]);
    let b = append(&store, "INBOX", b"two\r\n", &["\\Seen"]);
    let c = append(&store, "INBOX", b"three\r\n", &[]);
    let hms = store.status("INBOX").unwrap().highestmodseq;
    let moved = store
        .move_messages(
            "INBOX",
            0,
            &[UidRange::single(a), UidRange::single(c)],
            "Trash",
        )
        .unwrap();
    assert_eq!(moved.source_uids, vec![a, c]);
    assert_eq!(moved.new_uids, vec![1, 2]);
    assert!(moved.source_highestmodseq > hms);
    let left: Vec<u32> = store
        .fetch("INBOX", 0, &[UidRange::all()])
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, vec![b]);
    let changes = store.changes_since("INBOX", 0, hms).unwrap();
    assert_eq!(changes.vanished, vec![a, c]);
    assert_eq!(read_message(&store, "Trash", 2), b"three\r\n");
    let files = std::fs::read_dir(dir.path().join("Maildir/cur"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "moved files removed from the source");
    assert_quota_consistent(&dir, &store);
}

#[test]
fn special_use_create_set_list_rename_delete() {
    let (_dir, store) = temp_store();
    store
        .create_with_special_use("Sent Items", &["\\sent"])
        .unwrap();
    let err = store
        .create_with_special_use("Bad", &["\\Bogus"])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UseAttr { attribute } if attribute == "\\Bogus"),
        "{err}"
    );
    assert!(store.status("Bad").is_err(), "nothing created on USEATTR");
    let list = store.list().unwrap();
    let sent = list.iter().find(|i| i.name == "Sent Items").unwrap();
    assert!(sent.attributes.iter().any(|a| a == "\\Sent"));
    store.rename("Sent Items", "Sent").unwrap();
    assert_eq!(store.special_use("Sent").unwrap(), vec!["\\Sent"]);
    store
        .set_special_use("Sent", &["\\Sent", "\\Archive"])
        .unwrap();
    assert_eq!(
        store.special_use("Sent").unwrap(),
        vec!["\\Archive", "\\Sent"]
    );
    store.delete("Sent").unwrap();
    store.create("Sent").unwrap();
    assert!(store.special_use("Sent").unwrap().is_empty());
}

#[test]
fn subscriptions_survive_rename_and_may_dangle() {
    let (_dir, store) = temp_store();
    store.create("Work").unwrap();
    store.create("Work.Old").unwrap();
    store.subscribe("Work").unwrap();
    store.subscribe("Work.Old").unwrap();
    store.subscribe("Ghost").unwrap();
    store.subscribe("Ghost").unwrap();
    assert_eq!(
        store.subscriptions().unwrap(),
        vec!["Ghost", "Work", "Work.Old"]
    );
    store.rename("Work", "Job").unwrap();
    assert_eq!(
        store.subscriptions().unwrap(),
        vec!["Ghost", "Job", "Job.Old"]
    );
    store.unsubscribe("Ghost").unwrap();
    store.unsubscribe("Ghost").unwrap();
    assert_eq!(store.subscriptions().unwrap(), vec!["Job", "Job.Old"]);
}

#[test]
fn quota_follows_every_change() {
    let (dir, store) = temp_store();
    assert_eq!(store.quota_usage().unwrap(), (0, 0));
    store.create("A").unwrap();
    append(&store, "INBOX", &[b'x'; 1000], &[]);
    append(&store, "INBOX", &[b'y'; 500], &["\\Deleted"]);
    append(&store, "A", &[b'z'; 250], &[]);
    assert_eq!(store.quota_usage().unwrap(), (1750, 3));
    assert_quota_consistent(&dir, &store);
    store.expunge("INBOX", 0, None).unwrap();
    assert_eq!(store.quota_usage().unwrap(), (1250, 2));
    store
        .copy_messages("INBOX", 0, &[UidRange::all()], "A")
        .unwrap();
    assert_eq!(store.quota_usage().unwrap(), (2250, 3));
    store
        .move_messages("A", 0, &[UidRange::all()], "INBOX")
        .unwrap();
    assert_eq!(store.quota_usage().unwrap(), (2250, 3));
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::all()],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    store
        .copy_messages("INBOX", 0, &[UidRange::all()], "A")
        .unwrap();
    store.delete("A").unwrap();
    assert_eq!(store.quota_usage().unwrap(), (2250, 3));
    assert_quota_consistent(&dir, &store);
    // Reopening keeps (and does not re-initialise) the usage.
    drop(store);
    let store = Store::open(&common::root_of(&dir)).unwrap();
    assert_eq!(store.quota_usage().unwrap(), (2250, 3));
}

#[test]
fn the_size_of_a_copy_counts_each_message_once_whatever_its_ranges() {
    let (_d, store) = temp_store();
    let bodies: [&[u8]; 3] = [b"one", b"three", b"fifteen chars!!"];
    let uids: Vec<u32> = bodies
        .iter()
        .map(|b| common::append(&store, "INBOX", b, &[]).uid)
        .collect();
    let (first, last) = (uids[0], uids[2]);
    let all = (3 + 5 + 15, 3);
    // Overlapping ranges, and `*` at either end (`*:first` is `first:*`).
    let cases = [
        (
            vec![UidRange::new(first, uids[1]), UidRange::new(uids[1], last)],
            all,
        ),
        (vec![UidRange::new(u32::MAX, first)], all),
        (vec![UidRange::new(u32::MAX, u32::MAX)], (15, 1)),
        (vec![UidRange::new(last, first)], all),
        (vec![UidRange::new(last + 1, last + 9)], (0, 0)),
    ];
    for (ranges, expected) in cases {
        assert_eq!(
            store.size_of("INBOX", &ranges).unwrap(),
            expected,
            "{ranges:?}"
        );
    }
}

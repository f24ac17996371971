//! Appends that write no file: an acknowledged append's bytes are in the
//! append journal and its file is written from there by whoever needs it
//! first (a reader, a flag change, COPY, a folder scan, the flusher). The
//! folder is not touched by the append, nothing reads a missing file as a
//! lost message, and an index of the previous schema version upgrades.

#[allow(dead_code)]
mod common;

use std::fs;
use std::path::Path;

use common::{append, read_message, root_of, temp_store};
use mailkeep_store::{Store, StoreMode, UidRange};

/// The names of the files in `root`'s `cur/`, sorted.
fn cur_names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A store whose background flusher is off (the files stay unwritten
/// until something needs them).
fn quiet_store() -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store();
    store.set_auto_flush(false);
    (dir, store)
}

#[test]
fn an_append_writes_no_file_and_a_read_writes_it_from_the_journal() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    store.sync_mailbox("INBOX").unwrap();
    let body = b"Subject: unwritten\r\n\r\nthe body\r\n";
    let uid = append(&store, "INBOX", body, &[]).uid;
    assert!(cur_names(&root).is_empty(), "the append wrote a file");
    assert!(fs::read_dir(root.join("tmp")).unwrap().next().is_none());
    assert_eq!(store.journal_len().unwrap(), 1);
    // The folder did not change: no scan is due.
    assert!(!store.sync_mailbox("INBOX").unwrap().scanned);

    assert_eq!(read_message(&store, "INBOX", uid), body);
    assert_eq!(cur_names(&root).len(), 1);
    // Written as the store's own change: still no scan.
    assert!(!store.sync_mailbox("INBOX").unwrap().scanned);
    // Written, not yet flushed: the journal keeps the bytes until then.
    assert_eq!(store.journal_len().unwrap(), 1);
    assert_eq!(store.flush_journal().unwrap(), 1);
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(read_message(&store, "INBOX", uid), body);
}

#[test]
fn a_flag_change_before_the_file_is_written_names_the_file_when_it_is() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    let uid = append(&store, "INBOX", b"Subject: flags\r\n\r\nx\r\n", &[]).uid;
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(uid)],
            StoreMode::Add,
            &["\\Seen", "\\Flagged"],
            None,
        )
        .unwrap();
    assert!(cur_names(&root).is_empty());
    store.flush_journal().unwrap();
    let names = cur_names(&root);
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(":2,FS"), "{names:?}");
    assert_eq!(store.journal_len().unwrap(), 0);
}

#[test]
fn an_expunge_before_the_file_is_written_leaves_nothing() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    let uid = append(
        &store,
        "INBOX",
        b"Subject: gone\r\n\r\nx\r\n",
        &["\\Deleted"],
    )
    .uid;
    let expunged = store.expunge("INBOX", 0, None).unwrap();
    assert_eq!(expunged.uids, [uid]);
    assert_eq!(store.journal_len().unwrap(), 0);
    store.flush_journal().unwrap();
    assert!(cur_names(&root).is_empty());
    assert!(fs::read_dir(root.join("tmp")).unwrap().next().is_none());
}

#[test]
fn copy_and_move_of_unwritten_messages_carry_their_bytes() {
    let (_dir, store) = quiet_store();
    store.create("Copies").unwrap();
    store.create("Moved").unwrap();
    let one = b"Subject: one\r\n\r\nfirst\r\n";
    let two = b"Subject: two\r\n\r\nsecond\r\n";
    append(&store, "INBOX", one, &[]);
    append(&store, "INBOX", two, &[]);
    let copied = store
        .copy_messages("INBOX", 0, &[UidRange::single(1)], "Copies")
        .unwrap();
    let moved = store
        .move_messages("INBOX", 0, &[UidRange::single(2)], "Moved")
        .unwrap();
    assert_eq!(read_message(&store, "Copies", copied.new_uids[0]), one);
    assert_eq!(read_message(&store, "Moved", moved.new_uids[0]), two);
    assert_eq!(read_message(&store, "INBOX", 1), one);
    store.flush_journal().unwrap();
    assert_eq!(store.journal_len().unwrap(), 0);
}

#[test]
fn a_folder_scan_writes_unwritten_files_instead_of_expunging_them() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    let body = b"Subject: kept\r\n\r\nkept\r\n";
    let uid = append(&store, "INBOX", body, &[]).uid;
    // Another program delivers into new/: the next sync scans the folder.
    fs::write(
        root.join("new").join("1.outside.host"),
        b"Subject: outside\r\n\r\ny\r\n",
    )
    .unwrap();
    let report = store.sync_mailbox_full("INBOX").unwrap();
    assert!(report.scanned);
    assert!(report.expunged.is_empty(), "{report:?}");
    assert_eq!(report.added.len(), 1);
    assert_eq!(read_message(&store, "INBOX", uid), body);
    assert_eq!(store.status("INBOX").unwrap().messages, 2);
}

#[test]
fn search_and_sort_read_the_text_of_unwritten_messages() {
    let (_dir, store) = quiet_store();
    append(&store, "INBOX", b"Subject: b\r\n\r\nneedle\r\n", &[]);
    append(&store, "INBOX", b"Subject: a\r\n\r\nhay\r\n", &[]);
    let key = mailkeep_store::SearchKey::Body("needle".into());
    let found = store
        .search("INBOX", 0, &key, &std::sync::atomic::AtomicBool::new(false))
        .unwrap();
    assert_eq!(found.uids, [1]);
    let sorted = store
        .sort(
            "INBOX",
            0,
            &[mailkeep_store::SortCriterion {
                key: mailkeep_store::SortKey::Subject,
                reverse: false,
            }],
            &mailkeep_store::SearchKey::All,
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
    assert_eq!(sorted, [2, 1]);
}

#[test]
fn a_journal_of_schema_version_3_upgrades_and_its_files_count_as_written() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    let body = b"Subject: old\r\n\r\nfrom version 3\r\n";
    let uid = append(&store, "INBOX", body, &[]).uid;
    // Written and still journaled, as version 3 left every row.
    assert_eq!(read_message(&store, "INBOX", uid), body);
    drop(store);
    let index = root.join(mailkeep_store::INDEX_FILE);
    {
        let conn = rusqlite::Connection::open(&index).unwrap();
        conn.execute_batch(
            "ALTER TABLE pending_bodies DROP COLUMN unwritten;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = Store::open(&root).unwrap();
    // The open's recovery found the file whole, fsynced it and let the
    // row go.
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(read_message(&store, "INBOX", uid), body);
    let conn = rusqlite::Connection::open(&index).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
    // New appends are journaled unwritten again.
    store.set_auto_flush(false);
    let later = append(&store, "INBOX", b"Subject: new\r\n\r\nx\r\n", &[]).uid;
    let unwritten: i64 = conn
        .query_row(
            "SELECT unwritten FROM pending_bodies WHERE uid = ?1",
            [later],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unwritten, 1);
    assert_eq!(cur_names(&root).len(), 1);
}

#[test]
fn an_unsized_append_that_outgrows_the_journal_goes_to_a_file_whole() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    let mut body = b"Subject: grows\r\n\r\n".to_vec();
    while body.len() < 700 * 1024 {
        body.extend_from_slice(b"a line of a message that grows past the journal\r\n");
    }
    let mut w = store
        .begin_append_unsized("INBOX", mailkeep_store::Flags::default(), None)
        .unwrap();
    // No file while it fits the journal; one once it outgrows it.
    let (head, rest) = body.split_at(300 * 1024);
    w.write(head).unwrap();
    assert!(fs::read_dir(root.join("tmp")).unwrap().next().is_none());
    w.write(rest).unwrap();
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 1);
    let uid = w.commit().unwrap().uid;
    // Not journaled: its file was fsynced and renamed before the commit.
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(cur_names(&root).len(), 1);
    assert_eq!(read_message(&store, "INBOX", uid), body);

    // A small one without a size is journaled, with no file.
    let mut w = store
        .begin_append_unsized("INBOX", mailkeep_store::Flags::default(), None)
        .unwrap();
    w.write(b"Subject: small\r\n\r\nx\r\n").unwrap();
    let small = w.commit().unwrap().uid;
    assert_eq!(store.journal_len().unwrap(), 1);
    assert_eq!(cur_names(&root).len(), 1);
    assert_eq!(
        read_message(&store, "INBOX", small),
        b"Subject: small\r\n\r\nx\r\n"
    );
}

#[test]
fn a_folder_removed_by_another_program_is_made_again_for_the_file() {
    let (dir, store) = quiet_store();
    let root = root_of(&dir);
    store.create("Lists").unwrap();
    let body = b"Subject: list\r\n\r\nx\r\n";
    let uid = append(&store, "Lists", body, &[]).uid;
    // Another program removes the (empty) folder's cur/.
    fs::remove_dir(root.join(".Lists").join("cur")).unwrap();
    assert_eq!(read_message(&store, "Lists", uid), body);
    assert_eq!(store.flush_journal().unwrap(), 1);
    assert_eq!(store.journal_len().unwrap(), 0);
}

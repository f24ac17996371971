//! Outside changes (DESIGN §5, issue 3 item 7): files added to, removed
//! from or renamed in the Maildir by another program are picked up by the
//! sync at the next select; flags live in file names; verify agrees.

#[allow(dead_code)]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use mailkeep_store::{DELETED, FLAGGED, SEEN, Store, StoreMode, UidRange};

/// A new store, with the root of its Maildir.
fn open() -> (tempfile::TempDir, PathBuf, Store) {
    let (dir, store) = common::temp_store();
    let root = common::root_of(&dir);
    (dir, root, store)
}

/// Appends, and has the file written from the append journal (the
/// tests change files as another program would).
fn append(store: &Store, body: &[u8], flags: &[&str]) -> u32 {
    let uid = common::append(store, "INBOX", body, flags).uid;
    store.flush_journal().unwrap();
    uid
}

fn cur_names(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn read(store: &Store, uid: u32) -> Vec<u8> {
    common::read_message(store, "INBOX", uid)
}

#[test]
fn store_flags_renames_the_file() {
    let (_d, root, store) = open();
    let uid = append(&store, b"Subject: a\r\n\r\nx\r\n", &["\\Seen"]);
    assert!(cur_names(&root)[0].ends_with(":2,S"));
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(uid)],
            StoreMode::Add,
            &["\\Flagged", "\\Deleted", "kw"],
            None,
        )
        .unwrap();
    let names = cur_names(&root);
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(":2,FST"), "{names:?}");
    let meta = &store.fetch("INBOX", 0, &[UidRange::single(uid)]).unwrap()[0];
    assert_eq!(meta.file, names[0]);
    assert_eq!(read(&store, uid), b"Subject: a\r\n\r\nx\r\n");
    // Keywords only: no rename.
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(uid)],
            StoreMode::Remove,
            &["kw"],
            None,
        )
        .unwrap();
    assert_eq!(cur_names(&root), names);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn files_added_outside_get_new_uids_in_order() {
    let (_d, root, store) = open();
    let first = append(&store, b"one\r\n", &[]);
    // A delivery agent drops a file into new/, another program into cur/ with flags.
    fs::write(root.join("new/1000.A.host"), b"two\r\n").unwrap();
    fs::write(root.join("cur/1001.B.host:2,FS"), b"three\r\n").unwrap();
    let sel = store.select("INBOX").unwrap();
    let uids: Vec<u32> = sel.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [first, first + 1, first + 2]);
    assert_eq!(sel.messages[2].flags.system, SEEN | FLAGGED);
    assert!(sel.messages[2].modseq > sel.messages[0].modseq);
    assert!(fs::read_dir(root.join("new")).unwrap().next().is_none());
    assert_eq!(read(&store, first + 1), b"two\r\n");
    assert_eq!(read(&store, first + 2), b"three\r\n");
    assert_eq!(sel.status.uidnext, first + 3);
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report}");
}

/// UIDs follow the files' delivery time (mtime), not their names; a file
/// without the `:2,` info gets one.
#[test]
fn files_added_outside_are_numbered_by_delivery_time() {
    let (_d, root, store) = open();
    let first = append(&store, b"zero\r\n", &[]);
    let base = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for (name, body, delay) in [
        ("b.host:2,", "first\r\n", 0),
        ("a.host", "third\r\n", 10),
        ("c.host:2,S", "second\r\n", 5),
    ] {
        let path = root.join("cur").join(name);
        fs::write(&path, body).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(base + std::time::Duration::from_secs(delay))
            .unwrap();
    }
    let sel = store.select("INBOX").unwrap();
    let uids: Vec<u32> = sel.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [first, first + 1, first + 2, first + 3]);
    assert_eq!(read(&store, first + 1), b"first\r\n");
    assert_eq!(read(&store, first + 2), b"second\r\n");
    assert_eq!(read(&store, first + 3), b"third\r\n");
    assert_eq!(sel.messages[2].flags.system, SEEN);
    assert!(cur_names(&root).contains(&"a.host:2,".to_string()));
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report}");
}

#[test]
fn flags_renamed_outside_get_a_new_modseq() {
    let (_d, root, store) = open();
    let uid = append(&store, b"hello\r\n", &[]);
    let before = store.select("INBOX").unwrap();
    let name = cur_names(&root)[0].clone();
    let renamed = format!("{}:2,ST", name.split_once(':').unwrap().0);
    fs::rename(
        root.join("cur").join(&name),
        root.join("cur").join(&renamed),
    )
    .unwrap();
    // Even before a sync, the message is found by its base name.
    let after = store
        .changes_since("INBOX", 0, before.status.highestmodseq)
        .unwrap();
    assert_eq!(after.changed.len(), 1);
    assert_eq!(after.changed[0].uid, uid);
    assert_eq!(after.changed[0].flags.system, SEEN | DELETED);
    assert!(after.changed[0].modseq > before.status.highestmodseq);
    assert_eq!(read(&store, uid), b"hello\r\n");
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn open_message_finds_a_renamed_file_by_base_name() {
    let (_d, root, store) = open();
    let uid = append(&store, b"hi\r\n", &[]);
    store.select("INBOX").unwrap();
    let name = cur_names(&root)[0].clone();
    let renamed = format!("{}:2,F", name.split_once(':').unwrap().0);
    fs::rename(
        root.join("cur").join(&name),
        root.join("cur").join(&renamed),
    )
    .unwrap();
    assert_eq!(read(&store, uid), b"hi\r\n");
}

#[test]
fn removed_files_are_expunged_with_tombstones() {
    let (_d, root, store) = open();
    let a = append(&store, b"a\r\n", &[]);
    let b = append(&store, b"b\r\n", &[]);
    let before = store.select("INBOX").unwrap();
    let victim = store.fetch("INBOX", 0, &[UidRange::single(a)]).unwrap()[0]
        .file
        .clone();
    fs::remove_file(root.join("cur").join(victim)).unwrap();
    let changes = store
        .changes_since("INBOX", 0, before.status.highestmodseq)
        .unwrap();
    assert_eq!(changes.vanished, [a]);
    assert!(changes.status.highestmodseq > before.status.highestmodseq);
    let sel = store.select("INBOX").unwrap();
    assert_eq!(sel.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [b]);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn unchanged_folder_is_not_rescanned() {
    let (_d, _root, store) = open();
    append(&store, b"a\r\n", &[]);
    assert!(store.sync_mailbox("INBOX").unwrap().scanned);
    assert!(!store.sync_mailbox("INBOX").unwrap().scanned);
}

/// The store's own writes (flag renames, appends, copies, expunges) keep
/// the folder's stamp, so the call after a write does not rescan.
#[test]
fn own_writes_do_not_make_the_next_sync_rescan() {
    let (_d, _root, store) = open();
    let a = append(&store, b"a\r\n", &[]);
    store.create("Other").unwrap();
    assert!(store.sync_mailbox("INBOX").unwrap().scanned);
    assert!(store.sync_mailbox("Other").unwrap().scanned);
    let flag = |flags: &[&str]| {
        store
            .store_flags(
                "INBOX",
                0,
                &[UidRange::single(a)],
                StoreMode::Add,
                flags,
                None,
            )
            .unwrap();
    };
    flag(&["\\Seen"]);
    assert!(!store.sync_mailbox("INBOX").unwrap().scanned, "after STORE");
    append(&store, b"b\r\n", &[]);
    assert!(
        !store.sync_mailbox("INBOX").unwrap().scanned,
        "after APPEND"
    );
    store
        .copy_messages("INBOX", 0, &[UidRange::single(a)], "Other")
        .unwrap();
    assert!(!store.sync_mailbox("Other").unwrap().scanned, "after COPY");
    flag(&["\\Deleted"]);
    store.expunge("INBOX", 0, None).unwrap();
    assert!(
        !store.sync_mailbox("INBOX").unwrap().scanned,
        "after EXPUNGE"
    );
    assert!(store.verify().unwrap().is_ok());
}

/// Another program's change right after one of the store's own writes is
/// still seen by the next sync.
#[test]
fn outside_change_right_after_an_own_write_is_picked_up() {
    let (_d, root, store) = open();
    let a = append(&store, b"a\r\n", &[]);
    assert!(store.sync_mailbox("INBOX").unwrap().scanned);
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(a)],
            StoreMode::Add,
            &["\\Flagged"],
            None,
        )
        .unwrap();
    fs::write(root.join("cur/2000.C.host:2,S"), b"outside\r\n").unwrap();
    let report = store.sync_mailbox("INBOX").unwrap();
    assert!(report.scanned);
    assert_eq!(report.added, [a + 1]);
    assert_eq!(read(&store, a + 1), b"outside\r\n");
}

#[test]
fn expunged_leftover_is_removed_not_resurrected() {
    let (_d, root, store) = open();
    let a = append(&store, b"a\r\n", &["\\Deleted"]);
    let file = store.fetch("INBOX", 0, &[UidRange::single(a)]).unwrap()[0]
        .file
        .clone();
    // Keep a copy as if the file removal after the expunge commit was cut short.
    let copy = fs::read(root.join("cur").join(&file)).unwrap();
    store.expunge("INBOX", 0, None).unwrap();
    fs::write(root.join("cur").join(&file), copy).unwrap();
    let report = store.sync_mailbox_full("INBOX").unwrap();
    assert_eq!(report.removed_leftovers, 1);
    assert!(store.select("INBOX").unwrap().messages.is_empty());
    assert!(cur_names(&root).is_empty());
}

#[test]
fn verify_reports_problems_in_plain_words() {
    let (_d, root, store) = open();
    let a = append(&store, b"a\r\n", &[]);
    store.select("INBOX").unwrap();
    let file = store.fetch("INBOX", 0, &[UidRange::single(a)]).unwrap()[0]
        .file
        .clone();
    fs::remove_file(root.join("cur").join(&file)).unwrap();
    fs::write(root.join("cur/999.stray.host:2,"), b"x").unwrap();
    let report = store.verify().unwrap();
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(text.contains(&format!("UID {a} has no file")), "{text}");
    assert!(
        text.contains("999.stray.host:2, is not in the index"),
        "{text}"
    );
}

#[test]
fn reindex_keeps_uids_and_flags_from_names() {
    let (_d, root, store) = open();
    let a = append(&store, b"a\r\n", &["kw"]);
    let b = append(&store, b"b\r\n", &[]);
    let c = append(&store, b"c\r\n", &[]);
    let before = store.status("INBOX").unwrap();
    let file_b = store.fetch("INBOX", 0, &[UidRange::single(b)]).unwrap()[0]
        .file
        .clone();
    let file_c = store.fetch("INBOX", 0, &[UidRange::single(c)]).unwrap()[0]
        .file
        .clone();
    let base_b = file_b.split_once(':').unwrap().0;
    fs::rename(
        root.join("cur").join(&file_b),
        root.join("cur").join(format!("{base_b}:2,S")),
    )
    .unwrap();
    fs::remove_file(root.join("cur").join(&file_c)).unwrap();
    fs::write(root.join("new/2000.new.host"), b"d\r\n").unwrap();
    // No select/status/fetch here: those would sync first.
    let report = store.reindex().unwrap();
    assert_eq!(report.kept_from_index, 2, "{report}");
    assert_eq!(report.new_uids, 1);
    assert_eq!(report.expunged, 1);
    let sel = store.select("INBOX").unwrap();
    assert_eq!(sel.status.uidvalidity, before.uidvalidity);
    let got: Vec<(u32, u8)> = sel
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.system))
        .collect();
    assert_eq!(got, [(a, 0), (b, SEEN), (c + 1, 0)]);
    assert!(sel.messages[0].flags.keywords.contains("kw"));
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn reindex_takes_uids_from_a_dovecot_uidlist() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    fs::write(root.join("cur/100.a.host,S=3:2,S"), b"a\r\n").unwrap();
    fs::write(root.join("cur/101.b.host,S=3:2,"), b"b\r\n").unwrap();
    fs::write(root.join("cur/102.c.host,S=3:2,F"), b"c\r\n").unwrap();
    fs::write(
        root.join("dovecot-uidlist"),
        "3 V1700000000 N40 Gabc\n7 :100.a.host,S=3\n31 :101.b.host,S=3\n",
    )
    .unwrap();
    let store = Store::open(&root).unwrap();
    let report = store.reindex().unwrap();
    // Opening may already have imported the uidlist (Dovecot migration);
    // either way the UIDs are Dovecot's.
    assert_eq!(report.messages, 3, "{report}");
    let sel = store.select("INBOX").unwrap();
    assert_eq!(sel.status.uidvalidity, 1_700_000_000);
    let got: Vec<(u32, u8)> = sel
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.system))
        .collect();
    assert_eq!(got, [(7, SEEN), (31, 0), (40, FLAGGED)]);
    assert_eq!(sel.status.uidnext, 41);
    assert!(store.verify().unwrap().is_ok());
}

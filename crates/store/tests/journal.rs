//! The append journal: an acknowledged append whose file was never
//! flushed survives losing that file (the store comes back with it byte
//! for byte), the flusher empties the journal, the journal follows
//! EXPUNGE, COPY and MOVE, and an index of the previous schema upgrades.

#[allow(dead_code)]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{append, read_message, root_of, temp_store};
use mailkeep_store::{Flags, Store, StoreMode, UidRange};

/// A message of about `len` bytes, CRLF line ends, different per `tag`.
fn body(tag: &str, len: usize) -> Vec<u8> {
    let mut out =
        format!("Subject: {tag}\r\nMessage-ID: <{tag}@journal.test>\r\n\r\n").into_bytes();
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(format!("{tag} line {i} of the body\r\n").as_bytes());
        i += 1;
    }
    out
}

/// The path of message `uid`'s file in `mailbox` (INBOX or a top-level
/// folder).
fn file_of(store: &Store, root: &Path, mailbox: &str, uid: u32) -> PathBuf {
    let meta = store.open_message(mailbox, uid).unwrap().1;
    let dir = if mailbox == "INBOX" {
        root.to_path_buf()
    } else {
        root.join(format!(".{mailbox}"))
    };
    dir.join("cur").join(meta.file)
}

/// The names in `dir` that start with `base`.
fn names_with_base(dir: &Path, base: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(base))
        .collect()
}

#[test]
fn acknowledged_append_survives_losing_its_unflushed_file() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    store.create("Work").unwrap();
    // No background flush: the files stay unflushed until the "crash".
    store.set_auto_flush(false);
    let gone = body("gone", 5 * 1024);
    let short = body("short", 5 * 1024);
    let changed = body("changed", 5 * 1024);
    let renamed = body("renamed", 3 * 1024);
    let a = append(&store, "INBOX", &gone, &[]);
    let b = append(&store, "Work", &short, &["\\Seen"]);
    let c = append(&store, "INBOX", &changed, &[]);
    let d = append(&store, "INBOX", &renamed, &[]);
    // A flag change renames d's file; the crash loses that rename.
    let old_d = file_of(&store, &root, "INBOX", d.uid);
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(d.uid)],
            StoreMode::Add,
            &["\\Flagged"],
            None,
        )
        .unwrap();
    let new_d = file_of(&store, &root, "INBOX", d.uid);
    assert_ne!(old_d, new_d);
    assert_eq!(store.journal_len().unwrap(), 4);
    let (pa, pb, pc) = (
        file_of(&store, &root, "INBOX", a.uid),
        file_of(&store, &root, "Work", b.uid),
        file_of(&store, &root, "INBOX", c.uid),
    );
    // The crash: the store goes without a flush, and the files that were
    // never fsynced are lost, cut short, damaged, or back at an old name.
    drop(store);
    fs::remove_file(&pa).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&pb)
        .unwrap()
        .set_len(100)
        .unwrap();
    let mut damaged = changed.clone();
    damaged[changed.len() - 3] ^= 0x20;
    fs::write(&pc, &damaged).unwrap();
    fs::rename(&new_d, &old_d).unwrap();

    let store = Store::open(&root).unwrap();
    assert_eq!(
        store.journal_len().unwrap(),
        0,
        "recovery empties the journal"
    );
    assert_eq!(fs::read(&pa).unwrap(), gone);
    assert_eq!(fs::read(&pb).unwrap(), short);
    assert_eq!(fs::read(&pc).unwrap(), changed);
    // d's bytes are intact at its old name: kept there (the sync takes the
    // flags from it: a flag change lost with the crash), not written twice.
    assert_eq!(fs::read(&old_d).unwrap(), renamed);
    let base = new_d
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(names_with_base(&root.join("cur"), &base).len(), 1);
    assert_eq!(read_message(&store, "INBOX", a.uid), gone);
    assert_eq!(read_message(&store, "Work", b.uid), short);
    assert_eq!(read_message(&store, "INBOX", c.uid), changed);
    assert_eq!(read_message(&store, "INBOX", d.uid), renamed);
    let inbox = store.select("INBOX").unwrap();
    assert_eq!(inbox.messages.len(), 3);
    assert_eq!(read_message(&store, "INBOX", d.uid), renamed);
    assert_eq!(store.select("Work").unwrap().messages.len(), 1);
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn flushing_empties_the_journal_and_keeps_the_messages() {
    let (_dir, store) = temp_store();
    store.set_auto_flush(false);
    let bodies: Vec<Vec<u8>> = (0..20).map(|i| body(&format!("m{i}"), 5 * 1024)).collect();
    let uids: Vec<u32> = bodies
        .iter()
        .map(|b| append(&store, "INBOX", b, &[]).uid)
        .collect();
    assert_eq!(store.journal_len().unwrap(), 20);
    assert_eq!(store.flush_journal().unwrap(), 20);
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(store.flush_journal().unwrap(), 0);
    for (uid, b) in uids.iter().zip(&bodies) {
        assert_eq!(&read_message(&store, "INBOX", *uid), b);
    }
}

#[test]
fn a_message_too_big_for_the_journal_is_flushed_before_its_commit() {
    let (_dir, store) = temp_store();
    store.set_auto_flush(false);
    let big = body("big", 600 * 1024);
    let small = body("small", 1024);
    // The announced size decides; and a size known only at the end too.
    let a = append(&store, "INBOX", &big, &[]);
    let mut w = store
        .begin_append_unsized("INBOX", Flags::default(), None)
        .unwrap();
    for piece in big.chunks(64 * 1024) {
        w.write(piece).unwrap();
    }
    let b = w.commit().unwrap();
    assert_eq!(store.journal_len().unwrap(), 0);
    let c = append(&store, "INBOX", &small, &[]);
    assert_eq!(store.journal_len().unwrap(), 1);
    assert_eq!(read_message(&store, "INBOX", a.uid), big);
    assert_eq!(read_message(&store, "INBOX", b.uid), big);
    assert_eq!(read_message(&store, "INBOX", c.uid), small);
}

#[test]
fn the_journal_follows_expunge_copy_and_move() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    store.create("Work").unwrap();
    store.create("Archive").unwrap();
    store.set_auto_flush(false);
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| body(&format!("f{i}"), 2048)).collect();
    let uids: Vec<u32> = bodies
        .iter()
        .map(|b| append(&store, "INBOX", b, &[]).uid)
        .collect();
    assert_eq!(store.journal_len().unwrap(), 3);
    store
        .store_flags(
            "INBOX",
            0,
            &[UidRange::single(uids[0])],
            StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    store.expunge("INBOX", 0, None).unwrap();
    assert_eq!(
        store.journal_len().unwrap(),
        2,
        "an expunged message leaves the journal"
    );
    let copied = store
        .copy_messages("INBOX", 0, &[UidRange::single(uids[1])], "Work")
        .unwrap();
    assert_eq!(
        store.journal_len().unwrap(),
        2,
        "the source of a COPY stays journaled"
    );
    let moved = store
        .move_messages("INBOX", 0, &[UidRange::single(uids[2])], "Archive")
        .unwrap();
    assert_eq!(
        store.journal_len().unwrap(),
        1,
        "a moved message leaves the journal"
    );
    // The source of the COPY is still recovered after a crash.
    let p1 = file_of(&store, &root, "INBOX", uids[1]);
    drop(store);
    fs::remove_file(&p1).unwrap();
    let store = Store::open(&root).unwrap();
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(read_message(&store, "INBOX", uids[1]), bodies[1]);
    assert_eq!(read_message(&store, "Work", copied.new_uids[0]), bodies[1]);
    assert_eq!(
        read_message(&store, "Archive", moved.new_uids[0]),
        bodies[2]
    );
}

#[test]
fn a_deleted_mailbox_takes_its_journal_rows() {
    let (_dir, store) = temp_store();
    store.create("Work").unwrap();
    store.set_auto_flush(false);
    append(&store, "Work", &body("w", 1024), &[]);
    append(&store, "INBOX", &body("i", 1024), &[]);
    assert_eq!(store.journal_len().unwrap(), 2);
    store.delete("Work").unwrap();
    assert_eq!(store.journal_len().unwrap(), 1);
    // A flush of a few files (an fsync each) empties it too.
    assert_eq!(store.flush_journal().unwrap(), 1);
    assert_eq!(store.journal_len().unwrap(), 0);
}

#[test]
fn reindex_flushes_the_journal_and_keeps_the_messages() {
    let (_dir, store) = temp_store();
    store.set_auto_flush(false);
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| body(&format!("r{i}"), 4096)).collect();
    let uids: Vec<u32> = bodies
        .iter()
        .map(|b| append(&store, "INBOX", b, &[]).uid)
        .collect();
    assert_eq!(store.journal_len().unwrap(), 3);
    let report = store.reindex().unwrap();
    assert_eq!(report.messages, 3);
    assert_eq!(report.kept_from_index, 3);
    assert_eq!(report.expunged, 0);
    assert_eq!(store.journal_len().unwrap(), 0);
    for (uid, b) in uids.iter().zip(&bodies) {
        assert_eq!(&read_message(&store, "INBOX", *uid), b);
    }
}

#[test]
fn an_index_of_the_previous_schema_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let before = body("old", 2048);
    {
        let store = Store::open(&root).unwrap();
        store.set_auto_flush(false);
        append(&store, "INBOX", &before, &[]);
        store.flush_journal().unwrap();
    }
    // Make it what schema version 2 wrote: no journal.
    {
        let conn = rusqlite::Connection::open(root.join(mailkeep_store::INDEX_FILE)).unwrap();
        conn.execute_batch(
            "DROP TRIGGER pending_bodies_follow_messages;
             DROP TABLE pending_bodies;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store = Store::open(&root).unwrap();
    let version: i64 = rusqlite::Connection::open(root.join(mailkeep_store::INDEX_FILE))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
    store.set_auto_flush(false);
    assert_eq!(store.journal_len().unwrap(), 0);
    let after = body("new", 2048);
    let a = append(&store, "INBOX", &after, &[]);
    assert_eq!(store.journal_len().unwrap(), 1);
    assert_eq!(read_message(&store, "INBOX", 1), before);
    assert_eq!(read_message(&store, "INBOX", a.uid), after);
}

#[test]
fn the_background_flusher_empties_the_journal_by_itself() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    let messages: Vec<Vec<u8>> = (0..130).map(|i| body(&format!("bg{i}"), 2048)).collect();
    let mut uids = Vec::new();
    for m in &messages {
        uids.push(append(&store, "INBOX", m, &[]).uid);
    }
    // Nobody calls flush_journal: the flusher thread (woken by the count
    // of journaled messages) must empty the journal on its own. Waits on
    // the condition, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.journal_len().unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the background flusher left {} rows",
            store.journal_len().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(store);
    let store = Store::open(&root).unwrap();
    for (uid, m) in uids.iter().zip(&messages) {
        assert_eq!(&read_message(&store, "INBOX", *uid), m);
    }
    // Flushed, not recovered: nothing was left for the reopen to rewrite.
    assert_eq!(store.journal_len().unwrap(), 0);
}

//! A full disk: a store still opens and serves the mail it has; what
//! needs room is refused as [`StoreError::NoSpace`]. Runs as root (it
//! mounts a small tmpfs); not root, it fails when `CI=true` and is skipped
//! with a note otherwise.

#[allow(dead_code)]
mod common;
mod tmpfs;

use mailkeep_store::{Store, StoreError};
use tmpfs::Tmpfs;

/// Whether the test may go on: true as root.
fn as_root(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} must run as root in CI (it mounts a tmpfs)"
    );
    eprintln!("note: {test} needs root; skipped");
    false
}

/// A store on a 1 MiB tmpfs under `dir` whose INBOX holds three
/// messages, `Subject: 0` to `Subject: 2`: the disk, the Maildir's root,
/// the store and the UIDs.
fn three_messages_on_a_small_disk(
    dir: &std::path::Path,
) -> (Tmpfs, std::path::PathBuf, Store, Vec<u32>) {
    let disk = Tmpfs::mount(&dir.join("disk"), 1 << 20, None);
    let root = disk.path().join("Maildir");
    let store = Store::open(&root).unwrap();
    let uids: Vec<u32> = (0..3)
        .map(|i| {
            let body = format!("Subject: {i}\r\n\r\nx\r\n");
            common::append(&store, "INBOX", body.as_bytes(), &[]).uid
        })
        .collect();
    // Their files written from the append journal (another program
    // changes one below).
    store.flush_journal().unwrap();
    (disk, root, store, uids)
}

/// A disk that fills up under a running store: a SELECT whose folder
/// another program changed reads the index as it is (its sync could not
/// write, and the SELECT failed with it), the store opens again (opening
/// wrote the schema version, and failed, as after a restart on the full
/// disk), and what needs room is refused as `NoSpace`. The change is
/// picked up once there is room.
#[test]
fn a_full_disk_leaves_the_mail_readable() {
    if !as_root("a_full_disk_leaves_the_mail_readable") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (disk, root, store, uids) = three_messages_on_a_small_disk(dir.path());

    // Another program marks the first message seen; the disk fills up.
    let cur = root.join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .min()
        .unwrap();
    let (base, _) = file.split_once(":2,").unwrap();
    std::fs::rename(cur.join(&file), cur.join(format!("{base}:2,S"))).unwrap();
    let filler = disk.fill();

    let selected = store.select("INBOX").expect("selecting on a full disk");
    let found: Vec<u32> = selected.messages.iter().map(|m| m.uid).collect();
    assert_eq!(found, uids);
    assert_eq!(
        common::read_message(&store, "INBOX", uids[1]),
        b"Subject: 1\r\n\r\nx\r\n"
    );
    assert!(matches!(
        store.create("More"),
        Err(StoreError::NoSpace { .. })
    ));
    let again = Store::open(&root).expect("opening on a full disk");
    assert_eq!(again.select("INBOX").unwrap().messages.len(), 3);
    drop(again);

    // With room, the outside change is picked up (a full scan: a change
    // in the same clock tick as the store's own last one is seen by the
    // first sync after the stamp's deadline, see `sync::own`).
    std::fs::remove_file(filler).unwrap();
    store.sync_mailbox_full("INBOX").unwrap();
    let selected = store.select("INBOX").unwrap();
    assert_eq!(selected.messages[0].flags.names(), ["\\Seen"]);
}

/// EXPUNGE on a full disk: the index's commit needs room in the WAL, so
/// it either goes through or is refused as `NoSpace` (on this tmpfs it
/// is refused); either way no message it did not remove is lost, and
/// none it removed comes back. Once there is room it goes through.
#[test]
fn expunging_on_a_full_disk_loses_nothing_it_did_not_remove() {
    if !as_root("expunging_on_a_full_disk_loses_nothing_it_did_not_remove") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (disk, root, store, uids) = three_messages_on_a_small_disk(dir.path());
    let uidvalidity = store.select("INBOX").unwrap().status.uidvalidity;
    store
        .store_flags(
            "INBOX",
            uidvalidity,
            &[mailkeep_store::UidRange::single(uids[0])],
            mailkeep_store::StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    let filler = disk.fill();

    let kept = |store: &Store| -> Vec<u32> {
        let listed = store.select("INBOX").unwrap().messages;
        listed.iter().map(|m| m.uid).collect()
    };
    match store.expunge("INBOX", uidvalidity, None) {
        Ok(expunged) => {
            assert_eq!(expunged.uids, [uids[0]]);
            assert_eq!(kept(&store), uids[1..]);
        }
        Err(StoreError::NoSpace { .. }) => assert_eq!(kept(&store), uids),
        Err(other) => panic!("expunge on a full disk: {other:?}"),
    }
    for (i, &uid) in uids.iter().enumerate().skip(1) {
        let want = format!("Subject: {i}\r\n\r\nx\r\n");
        assert_eq!(common::read_message(&store, "INBOX", uid), want.as_bytes());
    }

    std::fs::remove_file(filler).unwrap();
    store.expunge("INBOX", uidvalidity, None).unwrap();
    assert_eq!(kept(&store), uids[1..]);
    let again = Store::open(&root).unwrap();
    assert_eq!(kept(&again), uids[1..], "after opening again");
}

/// FETCH of a message's structure or of one of its parts on a full disk:
/// parsing it would cache the structure, which needs room; the answer
/// comes all the same (the cache only saves parsing again), also once
/// there is room again.
#[test]
fn a_full_disk_still_serves_structures_and_parts() {
    if !as_root("a_full_disk_still_serves_structures_and_parts") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (disk, root, store, _) = three_messages_on_a_small_disk(dir.path());
    store.set_auto_flush(false);
    let two_parts = b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nfirst\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n";
    let uid = common::append(&store, "INBOX", two_parts, &[]).uid;
    let filler = disk.fill();
    // Its file is not written yet, and cannot be now: it is served from
    // the append journal.
    assert_eq!(std::fs::read_dir(root.join("cur")).unwrap().count(), 3);

    let part = |n: u32| mailkeep_store::SectionSpec {
        parts: vec![n],
        text: mailkeep_store::SectionText::Full,
        partial: None,
    };
    assert_eq!(store.section("INBOX", 0, uid, &part(2)).unwrap(), b"second");
    let s = store.message_structure("INBOX", 0, uid).unwrap();
    assert!(
        matches!(s.body.content, mailkeep_store::BodyContent::Multipart(ref p) if p.len() == 2)
    );

    std::fs::remove_file(filler).unwrap();
    assert_eq!(store.section("INBOX", 0, uid, &part(1)).unwrap(), b"first");
}

/// A rebuild of the index on a full disk while a message's file is still
/// only in the append journal: refused (the rebuild would take the
/// message for lost), nothing lost; with room again it runs and keeps it.
#[test]
fn reindex_on_a_full_disk_keeps_a_message_whose_file_is_not_written() {
    if !as_root("reindex_on_a_full_disk_keeps_a_message_whose_file_is_not_written") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (disk, _root, store, _) = three_messages_on_a_small_disk(dir.path());
    store.set_auto_flush(false);
    let body = b"Subject: journaled\r\n\r\nonly in the journal\r\n";
    let uid = common::append(&store, "INBOX", body, &[]).uid;
    let filler = disk.fill();
    let err = store.reindex().unwrap_err();
    assert!(matches!(err, StoreError::NoSpace { .. }), "{err:?}");
    assert_eq!(common::read_message(&store, "INBOX", uid), body);

    std::fs::remove_file(filler).unwrap();
    store.reindex().unwrap();
    assert_eq!(store.status("INBOX").unwrap().messages, 4);
    assert_eq!(common::read_message(&store, "INBOX", uid), body);
}

//! A flag change made at once (`Store::store_flags_now`, what a storage
//! process's async thread uses for a STORE of a few messages): made when
//! nothing would make the caller wait, and declined, with nothing changed,
//! when another connection holds the index's write lock (the write
//! connection's settings afterwards: the unit tests of `flags_now`).

#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::{root_of, temp_store};
use mailkeep_store::{SEEN, StoreMode, UidRange, Viewer};

fn flags_of(store: &mailkeep_store::Store, uid: u32) -> u8 {
    let uv = store.status("INBOX").unwrap().uidvalidity;
    store
        .fetch("INBOX", uv, &[UidRange::new(uid, uid)])
        .unwrap()
        .into_iter()
        .find(|m| m.uid == uid)
        .map(|m| m.flags.system)
        .unwrap()
}

#[test]
fn a_flag_change_is_made_at_once_unless_another_connection_holds_the_write_lock() {
    let (dir, store) = temp_store();
    let a = common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
    let uv = store.status("INBOX").unwrap().uidvalidity;
    let one = [UidRange::new(a.uid, a.uid)];

    let stored = store
        .store_flags_now(
            Viewer::Owner,
            "INBOX",
            uv,
            &one,
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap()
        .expect("made at once");
    assert_eq!(stored.updated.len(), 1);
    assert_ne!(flags_of(&store, a.uid) & SEEN, 0);

    // Another connection (as another process would) holds the write lock:
    // declined at once, not after the busy timeout, and nothing changed.
    let other = rusqlite::Connection::open(root_of(&dir).join("mailkeep.index.sqlite")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let declined = store
        .store_flags_now(
            Viewer::Owner,
            "INBOX",
            uv,
            &one,
            StoreMode::Remove,
            &["\\Seen"],
            None,
        )
        .unwrap();
    assert!(declined.is_none());
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
    other.execute_batch("ROLLBACK").unwrap();
    assert_ne!(flags_of(&store, a.uid) & SEEN, 0, "declined, yet changed");
}

#[test]
fn declined_while_the_folder_changed_outside_or_the_writer_is_closed() {
    let (dir, store) = temp_store();
    let a = common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
    let uv = store.status("INBOX").unwrap().uidvalidity;
    let one = [UidRange::new(a.uid, a.uid)];
    let now = |store: &mailkeep_store::Store| {
        store
            .store_flags_now(
                Viewer::Owner,
                "INBOX",
                uv,
                &one,
                StoreMode::Add,
                &["\\Seen"],
                None,
            )
            .unwrap()
    };
    // Another program dropped a message in: the folder is not as the
    // index saw it, and the change is left to the ordinary way.
    std::fs::write(
        root_of(&dir).join("new").join("outside.1"),
        b"Subject: b\r\n\r\ntwo\r\n",
    )
    .unwrap();
    assert!(now(&store).is_none());
    assert_eq!(flags_of(&store, a.uid) & SEEN, 0, "declined, yet changed");
    // (The ordinary read above synced the folder.)
    assert!(now(&store).is_some());
    // An idle owner's write connection was closed: not opened here.
    store.release_idle();
    assert!(now(&store).is_none());
    store
        .store_flags("INBOX", uv, &one, StoreMode::Remove, &["\\Seen"], None)
        .unwrap();
    assert!(now(&store).is_some());
}

#[test]
fn every_so_often_a_change_is_left_to_the_ordinary_way() {
    let (_dir, store) = temp_store();
    let a = common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
    let uv = store.status("INBOX").unwrap().uidvalidity;
    let one = [UidRange::new(a.uid, a.uid)];
    let mut declined = 0;
    for n in 0..1200u32 {
        let mode = if n % 2 == 0 {
            StoreMode::Add
        } else {
            StoreMode::Remove
        };
        let now = store
            .store_flags_now(Viewer::Owner, "INBOX", uv, &one, mode, &["\\Flagged"], None)
            .unwrap();
        if now.is_none() {
            declined += 1;
            store
                .store_flags("INBOX", uv, &one, mode, &["\\Flagged"], None)
                .unwrap();
        }
    }
    assert_eq!(
        declined,
        1200 / 129,
        "one in 129 is left to the ordinary way"
    );
}

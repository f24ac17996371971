//! A flag change made at once (`Store::store_flags_now`, what a storage
//! process's async thread uses for a STORE of a few messages): made when
//! nothing would make the caller wait, and declined, with nothing changed,
//! when another connection holds the index's write lock (the write
//! connection's settings afterwards: the unit tests of `flags_now`).

#[allow(dead_code)]
mod common;

use common::{root_of, temp_store};
use mailkeep_store::{FlagsStored, SEEN, Store, StoreMode, UidRange, Viewer};

/// A store with one message in INBOX, synced (so its folder is settled).
struct One {
    dir: tempfile::TempDir,
    store: Store,
    uid: u32,
    uidvalidity: u32,
}

impl One {
    fn new() -> One {
        let (dir, store) = temp_store();
        let a = common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
        let uidvalidity = store.status("INBOX").unwrap().uidvalidity;
        One {
            dir,
            store,
            uid: a.uid,
            uidvalidity,
        }
    }

    /// `store_flags_now` of `flag` by `mode` on the message.
    fn now(&self, mode: StoreMode, flag: &str) -> Option<FlagsStored> {
        let one = [UidRange::new(self.uid, self.uid)];
        self.store
            .store_flags_now(
                Viewer::Owner,
                "INBOX",
                self.uidvalidity,
                &one,
                mode,
                &[flag],
                None,
            )
            .unwrap()
    }

    /// `store_flags` (the ordinary way) of `flag` by `mode` on the message.
    fn ordinary(&self, mode: StoreMode, flag: &str) {
        let one = [UidRange::new(self.uid, self.uid)];
        self.store
            .store_flags("INBOX", self.uidvalidity, &one, mode, &[flag], None)
            .unwrap();
    }

    /// The message's system flags.
    fn flags(&self) -> u8 {
        self.store
            .fetch(
                "INBOX",
                self.uidvalidity,
                &[UidRange::new(self.uid, self.uid)],
            )
            .unwrap()
            .into_iter()
            .find(|m| m.uid == self.uid)
            .map(|m| m.flags.system)
            .unwrap()
    }
}

#[test]
fn a_flag_change_is_made_at_once_unless_another_connection_holds_the_write_lock() {
    let one = One::new();
    let stored = one.now(StoreMode::Add, "\\Seen").expect("made at once");
    assert_eq!(stored.updated.len(), 1);
    assert_ne!(one.flags() & SEEN, 0);

    // Another connection (as another process would) holds the write lock:
    // declined, and nothing changed. (That it waits for no lock meanwhile:
    // the unit tests of `flags_now`.)
    let other =
        rusqlite::Connection::open(root_of(&one.dir).join("mailkeep.index.sqlite")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(one.now(StoreMode::Remove, "\\Seen").is_none());
    other.execute_batch("ROLLBACK").unwrap();
    assert_ne!(one.flags() & SEEN, 0, "declined, yet changed");
}

#[test]
fn declined_while_the_folder_changed_outside_or_the_writer_is_closed() {
    let one = One::new();
    // Another program dropped a message in: the folder is not as the
    // index saw it, and the change is left to the ordinary way.
    std::fs::write(
        root_of(&one.dir).join("new").join("outside.1"),
        b"Subject: b\r\n\r\ntwo\r\n",
    )
    .unwrap();
    assert!(one.now(StoreMode::Add, "\\Seen").is_none());
    assert_eq!(one.flags() & SEEN, 0, "declined, yet changed");
    // (The ordinary read above synced the folder.)
    assert!(one.now(StoreMode::Add, "\\Seen").is_some());
    // An idle owner's write connection was closed: not opened here.
    one.store.release_idle();
    assert!(one.now(StoreMode::Remove, "\\Seen").is_none());
    one.ordinary(StoreMode::Remove, "\\Seen");
    assert!(one.now(StoreMode::Add, "\\Seen").is_some());
}

#[test]
fn every_so_often_a_change_is_left_to_the_ordinary_way() {
    let one = One::new();
    let mut declined = 0;
    for n in 0..1200u32 {
        let mode = if n % 2 == 0 {
            StoreMode::Add
        } else {
            StoreMode::Remove
        };
        if one.now(mode, "\\Flagged").is_none() {
            declined += 1;
            one.ordinary(mode, "\\Flagged");
        }
    }
    assert_eq!(
        declined,
        1200 / 129,
        "one in 129 is left to the ordinary way"
    );
}

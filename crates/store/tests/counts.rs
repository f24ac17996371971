//! The counts STATUS and SELECT read (messages, unseen, deleted, size) are
//! kept by triggers; after any mix of own writes and outside changes they
//! equal what counting the messages gives, and an index made before the
//! counts existed gets them at its next open.

#[allow(dead_code)]
mod common;

use common::{Rng, clock_seed, root_of, temp_store};
use mailkeep_store::{Store, StoreMode, UidRange};

const MAILBOXES: [&str; 3] = ["INBOX", "Archive", "Trash"];

/// Asserts each mailbox's status counts equal its messages' sums.
fn assert_counts(store: &Store, step: &str) {
    for mailbox in MAILBOXES {
        let status = store.status(mailbox).unwrap();
        let messages = store.fetch(mailbox, 0, &[UidRange::all()]).unwrap();
        let unseen = messages.iter().filter(|m| !m.flags.seen()).count();
        let deleted = messages
            .iter()
            .filter(|m| m.flags.system & mailkeep_store::DELETED != 0)
            .count();
        let size: u64 = messages.iter().map(|m| m.size).sum();
        let deleted_size: u64 = messages
            .iter()
            .filter(|m| m.flags.system & mailkeep_store::DELETED != 0)
            .map(|m| m.size)
            .sum();
        assert_eq!(
            (
                status.messages as usize,
                status.unseen as usize,
                status.deleted as usize,
                status.size,
                status.deleted_size
            ),
            (messages.len(), unseen, deleted, size, deleted_size),
            "{mailbox} after {step}"
        );
    }
}

/// A mailbox's Maildir++ folder.
fn folder(root: &std::path::Path, mailbox: &str) -> std::path::PathBuf {
    if mailbox == "INBOX" {
        root.to_path_buf()
    } else {
        root.join(format!(".{mailbox}"))
    }
}

#[test]
fn counts_follow_own_writes_and_outside_changes() {
    let seed = clock_seed();
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let (dir, store) = temp_store();
    store.create("Archive").unwrap();
    store.create("Trash").unwrap();
    let flag_sets: [&[&str]; 4] = [&[], &["\\Seen"], &["\\Deleted"], &["\\Seen", "\\Deleted"]];
    for step in 0..300 {
        let mailbox = MAILBOXES[rng.below(3) as usize];
        let other = MAILBOXES[rng.below(3) as usize];
        let uv = store.status(mailbox).unwrap().uidvalidity;
        let some = [UidRange::new(
            1 + rng.below(20) as u32,
            1 + rng.below(40) as u32,
        )];
        let what = match rng.below(8) {
            0 | 1 => {
                let flags = flag_sets[rng.below(4) as usize];
                let body = format!(
                    "Subject: {step}\r\n\r\n{}\r\n",
                    "x".repeat(rng.below(200) as usize)
                );
                common::append(&store, mailbox, body.as_bytes(), flags);
                "append"
            }
            2 => {
                let mode =
                    [StoreMode::Add, StoreMode::Remove, StoreMode::Replace][rng.below(3) as usize];
                let flags = flag_sets[rng.below(4) as usize];
                store
                    .store_flags(mailbox, uv, &some, mode, flags, None)
                    .unwrap();
                "store"
            }
            3 => {
                store.expunge(mailbox, uv, Some(&some)).unwrap();
                "expunge"
            }
            4 if mailbox != other => {
                store.copy_messages(mailbox, uv, &some, other).unwrap();
                "copy"
            }
            5 if mailbox != other => {
                store.move_messages(mailbox, uv, &some, other).unwrap();
                "move"
            }
            6 => {
                // Another program drops a message in (LF line ends, so
                // its counted size is the CRLF one).
                let dir = folder(&root_of(&dir), mailbox);
                let name = format!("outside.{step}.{seed}:2,S");
                std::fs::write(dir.join("cur").join(name), b"Subject: out\n\nbody\n").unwrap();
                "a file dropped in"
            }
            _ => {
                // Another program removes a message file or marks it seen.
                let dir = folder(&root_of(&dir), mailbox).join("cur");
                let mut files: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                if let Some(file) = files.get(rng.below(8) as usize) {
                    if rng.below(2) == 0 {
                        std::fs::remove_file(file).unwrap();
                    } else {
                        let name = file.file_name().unwrap().to_str().unwrap();
                        if !name.ends_with('S') && name.contains(":2,") {
                            std::fs::rename(file, dir.join(format!("{name}S"))).unwrap();
                        }
                    }
                }
                "an outside removal or rename"
            }
        };
        assert_counts(&store, &format!("step {step}: {what}"));
    }
}

#[test]
fn an_index_without_counts_gets_them_at_its_next_open() {
    let (dir, store) = temp_store();
    store.create("Archive").unwrap();
    store.create("Trash").unwrap();
    common::append(&store, "Archive", b"Subject: c\r\n\r\nthree\r\n", &[]);
    common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &["\\Seen"]);
    common::append(
        &store,
        "INBOX",
        b"Subject: b\r\n\r\ntwo\r\n",
        &["\\Deleted"],
    );
    let before = store.status("INBOX").unwrap();
    drop(store);
    let index = root_of(&dir).join(mailkeep_store::INDEX_FILE);
    let conn = rusqlite::Connection::open(&index).unwrap();
    conn.execute_batch("DROP TABLE mailbox_counts").unwrap();
    drop(conn);
    let store = Store::open(&root_of(&dir)).unwrap();
    let after = store.status("INBOX").unwrap();
    assert_eq!(
        (after.messages, after.unseen, after.deleted, after.size),
        (2, 1, 1, before.size)
    );
    assert_counts(&store, "reopening");
}

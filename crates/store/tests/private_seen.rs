//! `\Seen` private per guest on shared mailboxes: a guest's `\Seen` is the
//! guest's own (set, cleared and replaced without touching the shared
//! flag), the owner's is invisible to guests, searches and counts follow
//! the viewer, a guest's change still moves MODSEQ, and the records go
//! with their messages and mailboxes.

#[allow(dead_code)]
mod common;

use std::sync::atomic::AtomicBool;

use common::{append, root_of, temp_store};
use mailkeep_store::{Flags, SearchKey, Store, StoreMode, UidRange, Viewer};

const BOB: Viewer<'static> = Viewer::Guest("bob");
const CAROL: Viewer<'static> = Viewer::Guest("carol");

/// The UIDs `viewer` sees as `\Seen` in `mailbox`, by FETCH.
fn seen_by(store: &Store, mailbox: &str, viewer: Viewer<'_>) -> Vec<u32> {
    store
        .fetch_as(mailbox, 0, &[UidRange::all()], viewer)
        .unwrap()
        .into_iter()
        .filter(|m| m.flags.seen())
        .map(|m| m.uid)
        .collect()
}

/// The UIDs `viewer` sees as `\Seen` in `mailbox`, by SELECT.
fn selected_seen(store: &Store, mailbox: &str, viewer: Viewer<'_>) -> Vec<u32> {
    store
        .select_as(mailbox, viewer)
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| m.flags.seen())
        .map(|m| m.uid)
        .collect()
}

fn store_as(
    store: &Store,
    viewer: Viewer<'_>,
    uid: u32,
    mode: StoreMode,
    flags: &[&str],
) -> mailkeep_store::FlagsStored {
    store
        .store_flags_as(
            viewer,
            "Shared",
            0,
            &[UidRange::single(uid)],
            mode,
            flags,
            None,
        )
        .unwrap()
}

fn search_as(store: &Store, key: SearchKey, viewer: Viewer<'_>) -> Vec<u32> {
    store
        .search_as("Shared", 0, &key, &AtomicBool::new(false), viewer)
        .unwrap()
        .uids
}

/// A store with mailbox `Shared` holding three unseen messages (UIDs 1-3).
fn shared_store() -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store();
    store.create("Shared").unwrap();
    for i in 0..3 {
        append(
            &store,
            "Shared",
            format!("Subject: {i}\r\n\r\nbody\r\n").as_bytes(),
            &[],
        );
    }
    (dir, store)
}

/// The Maildir flag letters of a file name (after `:2,`).
fn letters(file: &str) -> &str {
    file.rsplit_once(":2,").map_or("", |(_, info)| info)
}

/// How many private `\Seen` records the index holds.
fn private_rows(dir: &tempfile::TempDir) -> i64 {
    let conn = rusqlite::Connection::open(root_of(dir).join(mailkeep_store::INDEX_FILE)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM private_seen", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_guests_seen_is_visible_to_that_guest_only() {
    let (dir, store) = shared_store();
    let before = store.status("Shared").unwrap().highestmodseq;
    let stored = store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen"]);
    assert_eq!(stored.updated.len(), 1, "the guest's view changed");
    assert!(
        stored.updated[0].flags.seen(),
        "reported as the guest sees it"
    );
    assert!(
        stored.updated[0].modseq > before,
        "the message got a new MODSEQ"
    );
    assert_eq!(
        store.status("Shared").unwrap().highestmodseq,
        stored.updated[0].modseq,
        "and the mailbox's HIGHESTMODSEQ moved with it"
    );

    assert_eq!(seen_by(&store, "Shared", BOB), [1]);
    assert_eq!(selected_seen(&store, "Shared", BOB), [1]);
    assert!(seen_by(&store, "Shared", Viewer::Owner).is_empty());
    assert!(selected_seen(&store, "Shared", Viewer::Owner).is_empty());
    assert!(
        store
            .select("Shared")
            .unwrap()
            .messages
            .iter()
            .all(|m| !m.flags.seen())
    );
    assert!(seen_by(&store, "Shared", CAROL).is_empty());
    // The shared flag is untouched, in the index and in the file name.
    let (_, meta) = store.open_message("Shared", 1).unwrap();
    assert!(!meta.flags.seen());
    assert_eq!(letters(&meta.file), "", "{:?}", meta.file);
    assert_eq!(private_rows(&dir), 1);

    // Storing it again changes nothing.
    assert!(
        store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen"])
            .updated
            .is_empty()
    );
}

#[test]
fn the_owners_seen_is_invisible_to_guests() {
    let (_dir, store) = shared_store();
    store_as(&store, Viewer::Owner, 2, StoreMode::Add, &["\\Seen"]);
    assert_eq!(seen_by(&store, "Shared", Viewer::Owner), [2]);
    assert!(seen_by(&store, "Shared", BOB).is_empty());
    assert!(selected_seen(&store, "Shared", BOB).is_empty());
    // A guest's removal of \Seen does not clear the owner's.
    assert!(
        store_as(&store, BOB, 2, StoreMode::Remove, &["\\Seen"])
            .updated
            .is_empty()
    );
    assert_eq!(seen_by(&store, "Shared", Viewer::Owner), [2]);
}

#[test]
fn a_guest_clears_and_replaces_only_their_own_seen_and_shares_the_rest() {
    let (_dir, store) = shared_store();
    store
        .store_flags(
            "Shared",
            0,
            &[UidRange::single(1)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    // Seen and Flagged in one call: Flagged is shared, Seen is not.
    let stored = store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen", "\\Flagged"]);
    assert_eq!(stored.updated[0].flags.names(), ["\\Flagged", "\\Seen"]);
    let carol = store
        .fetch_as("Shared", 0, &[UidRange::single(1)], CAROL)
        .unwrap();
    assert_eq!(
        carol[0].flags.names(),
        ["\\Flagged"],
        "carol: shared Flagged, her own Seen"
    );

    // Removing \Seen clears bob's record only.
    let stored = store_as(&store, BOB, 1, StoreMode::Remove, &["\\Seen"]);
    assert_eq!(stored.updated[0].flags.names(), ["\\Flagged"]);
    assert!(seen_by(&store, "Shared", BOB).is_empty());
    assert_eq!(seen_by(&store, "Shared", Viewer::Owner), [1]);

    // Replacing with \Seen and a keyword: bob's Seen on, the shared flags
    // become the keyword, and the owner's shared Seen stays.
    let stored = store_as(&store, BOB, 1, StoreMode::Replace, &["\\Seen", "$Work"]);
    assert_eq!(stored.updated[0].flags.names(), ["\\Seen", "$Work"]);
    let owner = store.fetch("Shared", 0, &[UidRange::single(1)]).unwrap();
    assert_eq!(owner[0].flags.names(), ["\\Seen", "$Work"]);
    let carol = store
        .fetch_as("Shared", 0, &[UidRange::single(1)], CAROL)
        .unwrap();
    assert_eq!(carol[0].flags.names(), ["$Work"]);

    // Replacing without \Seen clears bob's Seen, still not the owner's.
    let stored = store_as(&store, BOB, 1, StoreMode::Replace, &["$Work"]);
    assert_eq!(stored.updated[0].flags.names(), ["$Work"]);
    assert!(seen_by(&store, "Shared", BOB).is_empty());
    assert_eq!(seen_by(&store, "Shared", Viewer::Owner), [1]);
}

#[test]
fn search_and_counts_follow_the_viewers_seen() {
    let (_dir, store) = shared_store();
    store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen"]);
    store_as(&store, BOB, 3, StoreMode::Add, &["\\Seen"]);
    store_as(&store, Viewer::Owner, 2, StoreMode::Add, &["\\Seen"]);

    assert_eq!(search_as(&store, SearchKey::Seen, BOB), [1, 3]);
    assert_eq!(search_as(&store, SearchKey::Unseen, BOB), [2]);
    assert_eq!(search_as(&store, SearchKey::Seen, Viewer::Owner), [2]);
    assert_eq!(search_as(&store, SearchKey::Unseen, CAROL), [1, 2, 3]);
    let sorted = store
        .sort_as(
            "Shared",
            0,
            &[],
            &SearchKey::Unseen,
            &AtomicBool::new(false),
            BOB,
        )
        .unwrap();
    assert_eq!(sorted, [2]);

    assert_eq!(store.status("Shared").unwrap().unseen, 2);
    assert_eq!(store.status_as("Shared", BOB).unwrap().unseen, 1);
    assert_eq!(store.status_as("Shared", CAROL).unwrap().unseen, 3);
    assert_eq!(store.select_as("Shared", BOB).unwrap().status.unseen, 1);
    assert_eq!(store.select("Shared").unwrap().status.unseen, 2);
}

#[test]
fn a_guests_seen_change_is_among_the_changes_since() {
    let (_dir, store) = shared_store();
    let since = store.status("Shared").unwrap().highestmodseq;
    store_as(&store, BOB, 2, StoreMode::Add, &["\\Seen"]);

    let bob = store.changes_since_as("Shared", 0, since, BOB).unwrap();
    assert_eq!(bob.changed.len(), 1);
    assert_eq!((bob.changed[0].uid, bob.changed[0].flags.seen()), (2, true));
    assert_eq!(bob.status.unseen, 2);

    // The owner sees the new MODSEQ, with the flags as they were.
    let owner = store.changes_since("Shared", 0, since).unwrap();
    assert_eq!(owner.changed.len(), 1);
    assert_eq!(
        (owner.changed[0].uid, owner.changed[0].flags.seen()),
        (2, false)
    );
    assert_eq!(owner.status.unseen, 3);
}

#[test]
fn a_guests_append_with_seen_is_seen_by_that_guest_only() {
    let (dir, store) = shared_store();
    let body = b"Subject: new\r\n\r\nhi\r\n";
    let flags = Flags::parse(&["\\Seen", "\\Flagged"]).unwrap();
    let mut w = store
        .begin_append("Shared", flags, None, body.len() as u64)
        .unwrap();
    w.seen_privately_by("bob");
    w.write(body).unwrap();
    let uid = w.commit().unwrap().uid;

    assert_eq!(seen_by(&store, "Shared", BOB), [uid]);
    assert!(seen_by(&store, "Shared", Viewer::Owner).is_empty());
    let owner = store.fetch("Shared", 0, &[UidRange::single(uid)]).unwrap();
    assert_eq!(
        owner[0].flags.names(),
        ["\\Flagged"],
        "the other flags are shared"
    );
    assert_eq!(letters(&owner[0].file), "F", "{:?}", owner[0].file);
    assert_eq!(private_rows(&dir), 1);
}

#[test]
fn the_records_go_with_their_messages_and_mailboxes() {
    let (dir, store) = shared_store();
    for uid in 1..=3 {
        store_as(&store, BOB, uid, StoreMode::Add, &["\\Seen"]);
    }
    store_as(&store, CAROL, 1, StoreMode::Add, &["\\Seen"]);
    assert_eq!(private_rows(&dir), 4);

    // Expunging message 1 drops bob's and carol's records of it.
    store
        .store_flags(
            "Shared",
            0,
            &[UidRange::single(1)],
            StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    store.expunge("Shared", 0, None).unwrap();
    assert_eq!(private_rows(&dir), 2);
    assert_eq!(seen_by(&store, "Shared", BOB), [2, 3]);

    // A deleted mailbox takes the rest; a new one of the same name starts
    // unseen for everyone.
    store.delete("Shared").unwrap();
    assert_eq!(private_rows(&dir), 0);
    store.create("Shared").unwrap();
    append(&store, "Shared", b"Subject: again\r\n\r\nx\r\n", &[]);
    assert!(seen_by(&store, "Shared", BOB).is_empty());
    assert_eq!(store.status_as("Shared", BOB).unwrap().unseen, 1);
}

/// `mailkeep admin reindex` rebuilds the message rows from the files: the
/// guests' private `\Seen` stays on the messages that keep their UIDs,
/// and a message whose file went meanwhile takes its records with it.
#[test]
fn a_reindex_keeps_the_guests_seen() {
    let (dir, store) = shared_store();
    store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen"]);
    store_as(&store, BOB, 3, StoreMode::Add, &["\\Seen"]);
    store_as(&store, CAROL, 2, StoreMode::Add, &["\\Seen"]);
    // Message 3's file is removed by another program.
    let cur = mailkeep_store::mailbox_dir(&root_of(&dir), "Shared").join("cur");
    let third = store.fetch("Shared", 0, &[UidRange::single(3)]).unwrap()[0]
        .file
        .clone();
    std::fs::remove_file(cur.join(third)).unwrap();
    let report = store.reindex().unwrap();
    assert_eq!(report.expunged, 1, "{report}");
    assert_eq!(seen_by(&store, "Shared", BOB), [1]);
    assert_eq!(seen_by(&store, "Shared", CAROL), [2]);
    assert!(seen_by(&store, "Shared", Viewer::Owner).is_empty());
    assert_eq!(private_rows(&dir), 2);
}

/// RENAME keeps the mailbox and so the records; RENAME INBOX moves the
/// messages into a new mailbox, and every guest's records go with them
/// (INBOX, empty, has none left).
#[test]
fn rename_and_rename_inbox_keep_the_guests_seen() {
    let (dir, store) = shared_store();
    store_as(&store, BOB, 2, StoreMode::Add, &["\\Seen"]);
    store.rename("Shared", "Team").unwrap();
    assert_eq!(seen_by(&store, "Team", BOB), [2]);

    for i in 0..2 {
        append(
            &store,
            "INBOX",
            format!("Subject: in {i}\r\n\r\nx\r\n").as_bytes(),
            &[],
        );
    }
    store
        .store_flags_as(
            CAROL,
            "INBOX",
            0,
            &[UidRange::single(2)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    assert_eq!(private_rows(&dir), 2);
    store.rename("INBOX", "Old").unwrap();
    assert_eq!(seen_by(&store, "Old", CAROL), [2]);
    assert!(seen_by(&store, "Old", BOB).is_empty());
    assert_eq!(store.status_as("Old", CAROL).unwrap().unseen, 1);
    assert_eq!(store.status("INBOX").unwrap().messages, 0);
    assert_eq!(private_rows(&dir), 2, "bob's in Team, carol's in Old");
}

/// A guest's COPY gives the copies the guest's own `\Seen` (never the
/// others'); a MOVE takes every guest's along; the shared flags of the
/// copies stay as the sources' (unseen for the owner).
#[test]
fn copy_and_move_carry_the_private_seen() {
    let (_dir, store) = shared_store();
    store.create("Archive").unwrap();
    store.create("Later").unwrap();
    store_as(&store, BOB, 1, StoreMode::Add, &["\\Seen"]);
    store_as(&store, CAROL, 2, StoreMode::Add, &["\\Seen"]);
    let all = [UidRange::all()];
    let copied = store
        .copy_messages_as("Shared", 0, &all, "Archive", BOB)
        .unwrap();
    assert_eq!(copied.new_uids, [1, 2, 3]);
    assert_eq!(seen_by(&store, "Archive", BOB), [1]);
    assert!(
        seen_by(&store, "Archive", CAROL).is_empty(),
        "carol's stays"
    );
    assert!(seen_by(&store, "Archive", Viewer::Owner).is_empty());
    // The owner's copy carries nobody's.
    store.copy_messages("Shared", 0, &all, "Later").unwrap();
    assert!(seen_by(&store, "Later", BOB).is_empty());

    let moved = store.move_messages("Shared", 0, &all, "Later").unwrap();
    assert_eq!(moved.new_uids, [4, 5, 6]);
    assert_eq!(seen_by(&store, "Later", BOB), [4]);
    assert_eq!(seen_by(&store, "Later", CAROL), [5]);
    assert_eq!(store.status_as("Later", CAROL).unwrap().unseen, 5);
    assert_eq!(store.status("Shared").unwrap().messages, 0);
}

//! Each mailbox's ACL stamp: it moves with every change of that
//! mailbox's ACL, whichever store (process) writes it, comes with the
//! counters watchers compare, follows a RENAME, and an index made before
//! the stamps existed gets them at its next open.

#[allow(dead_code)]
mod common;

use common::{root_of, temp_store};
use mailkeep_store::{AclChange, Rights, Store};

fn r(text: &str) -> Rights {
    Rights::parse(text).unwrap()
}

/// Every mailbox's ACL stamp as the counters carry it, by name.
fn stamps(store: &Store) -> Vec<(String, u64)> {
    store
        .mailbox_counters()
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.acl_stamp))
        .collect()
}

fn stamp_of(store: &Store, mailbox: &str) -> u64 {
    let from_counters = store
        .mailbox_counters_transient()
        .unwrap()
        .into_iter()
        .find(|m| m.name == mailbox)
        .unwrap()
        .acl_stamp;
    assert_eq!(store.acl_stamp(mailbox).unwrap(), from_counters);
    from_counters
}

#[test]
fn a_change_of_a_mailboxs_acl_moves_its_stamp_only() {
    let (dir, store) = temp_store();
    store.create("Work").unwrap();
    assert_eq!(stamps(&store), [("INBOX".into(), 0), ("Work".into(), 0)]);

    // Written through another store of the same index, as another
    // process (or `mailkeep admin acl`) writes it.
    let elsewhere = Store::open(&root_of(&dir)).unwrap();
    elsewhere
        .set_acl("Work", "bob", r("lr"), AclChange::Replace)
        .unwrap();
    let granted = stamp_of(&store, "Work");
    assert_ne!(granted, 0);
    assert_eq!(stamp_of(&store, "INBOX"), 0, "another mailbox's ACL");

    // The same rights again, and removing an entry nobody has: no change.
    elsewhere
        .set_acl("Work", "bob", r("lr"), AclChange::Replace)
        .unwrap();
    elsewhere.delete_acl("Work", "carol").unwrap();
    assert_eq!(stamp_of(&store, "Work"), granted);

    elsewhere
        .set_acl("Work", "bob", r("r"), AclChange::Remove)
        .unwrap();
    let reduced = stamp_of(&store, "Work");
    assert_ne!(reduced, granted);
    elsewhere.delete_acl("Work", "bob").unwrap();
    let revoked = stamp_of(&store, "Work");
    assert_ne!(revoked, reduced);
    // A negative entry is a change too.
    elsewhere
        .set_acl("Work", "-anyone", r("w"), AclChange::Replace)
        .unwrap();
    assert_ne!(stamp_of(&store, "Work"), revoked);
    assert_eq!(stamp_of(&store, "INBOX"), 0);
}

#[test]
fn the_stamp_follows_a_rename_and_goes_with_a_delete() {
    let (_dir, store) = temp_store();
    store.create("Work").unwrap();
    store
        .set_acl("Work", "bob", r("lr"), AclChange::Replace)
        .unwrap();
    let stamp = stamp_of(&store, "Work");
    store.rename("Work", "Job").unwrap();
    assert_eq!(stamp_of(&store, "Job"), stamp);

    // Deleting a mailbox with entries (they go by cascade) works, and
    // one created again under the name starts afresh.
    store.delete("Job").unwrap();
    store.create("Job").unwrap();
    assert_eq!(stamp_of(&store, "Job"), 0);
}

#[test]
fn an_index_made_before_the_stamps_gets_them_at_its_next_open() {
    let (dir, store) = temp_store();
    store.create("Work").unwrap();
    store
        .set_acl("Work", "bob", r("lr"), AclChange::Replace)
        .unwrap();
    drop(store);
    let index = root_of(&dir).join(mailkeep_store::INDEX_FILE);
    let conn = rusqlite::Connection::open(&index).unwrap();
    conn.execute_batch(
        "DROP TRIGGER acl_stamp_insert; DROP TRIGGER acl_stamp_update;
         DROP TRIGGER acl_stamp_delete; DROP TABLE acl_stamps;",
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&root_of(&dir)).unwrap();
    assert_eq!(
        stamp_of(&store, "Work"),
        0,
        "no stamp before the first change"
    );
    assert_eq!(store.acl("Work").unwrap().len(), 1, "the ACL is kept");
    store.delete_acl("Work", "bob").unwrap();
    assert_ne!(stamp_of(&store, "Work"), 0);
}

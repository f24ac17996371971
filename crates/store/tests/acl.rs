//! Access control lists (RFC 4314) in the store: SETACL's replace, add
//! and remove, DELETEACL, negative rights, `anyone` and `authenticated`,
//! a user's rights and visible mailboxes, the list of grantees, and
//! entries that follow a RENAME and go with a DELETE.

#[allow(dead_code)]
mod common;

use common::{append, temp_store};
use mailkeep_store::{AclChange, AclEntry, Rights, Store, StoreError};

fn r(text: &str) -> Rights {
    Rights::parse(text).unwrap()
}

fn set(store: &Store, mailbox: &str, identifier: &str, rights: &str, change: AclChange) -> String {
    store
        .set_acl(mailbox, identifier, r(rights), change)
        .unwrap()
        .to_string()
}

/// The ACL as (identifier, rights) text pairs.
fn acl(store: &Store, mailbox: &str) -> Vec<(String, String)> {
    store
        .acl(mailbox)
        .unwrap()
        .into_iter()
        .map(|AclEntry { identifier, rights }| (identifier, rights.to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn rights_of(store: &Store, mailbox: &str, user: &str) -> Option<String> {
    store
        .rights_of(mailbox, user)
        .unwrap()
        .map(|r| r.to_string())
}

fn visible(store: &Store, user: &str) -> Vec<(String, String)> {
    store
        .mailboxes_visible_to(user)
        .unwrap()
        .into_iter()
        .map(|(name, rights)| (name, rights.to_string()))
        .collect()
}

#[test]
fn a_new_mailbox_has_an_empty_acl_and_grants_nothing() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    assert!(store.acl("Work").unwrap().is_empty());
    assert!(store.acl("INBOX").unwrap().is_empty());
    assert_eq!(rights_of(&store, "Work", "bob").as_deref(), Some(""));
    assert!(visible(&store, "bob").is_empty());
    assert!(store.grantees().unwrap().is_empty());
}

#[test]
fn replace_add_and_remove_change_one_identifiers_rights() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    assert_eq!(set(&store, "Work", "bob", "rl", AclChange::Replace), "lr");
    assert_eq!(set(&store, "Work", "bob", "sw", AclChange::Add), "lrsw");
    assert_eq!(set(&store, "Work", "bob", "rx", AclChange::Remove), "lsw");
    assert_eq!(set(&store, "Work", "bob", "i", AclChange::Replace), "i");
    assert_eq!(set(&store, "Work", "alice", "c", AclChange::Add), "k");
    assert_eq!(acl(&store, "Work"), pairs(&[("alice", "k"), ("bob", "i")]));
    // Removing from an identifier without an entry leaves none.
    assert_eq!(set(&store, "Work", "carol", "l", AclChange::Remove), "");
    assert_eq!(acl(&store, "Work"), pairs(&[("alice", "k"), ("bob", "i")]));
}

#[test]
fn an_entry_left_without_rights_is_removed() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "Work", "alice", "l", AclChange::Replace);
    assert_eq!(set(&store, "Work", "bob", "lr", AclChange::Remove), "");
    assert_eq!(acl(&store, "Work"), pairs(&[("alice", "l")]));
    assert_eq!(set(&store, "Work", "alice", "", AclChange::Replace), "");
    assert!(store.acl("Work").unwrap().is_empty());
    assert!(store.grantees().unwrap().is_empty());
}

#[test]
fn delete_acl_removes_an_entry_and_an_absent_one_is_fine() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "Work", "-anyone", "w", AclChange::Replace);
    store.delete_acl("Work", "bob").unwrap();
    assert_eq!(acl(&store, "Work"), pairs(&[("-anyone", "w")]));
    store.delete_acl("Work", "bob").unwrap();
    store.delete_acl("Work", "-anyone").unwrap();
    assert!(store.acl("Work").unwrap().is_empty());
}

#[test]
fn identifiers_compare_exactly_and_entries_sort_by_identifier() {
    let (_d, store) = temp_store();
    set(&store, "INBOX", "bob", "l", AclChange::Replace);
    set(&store, "INBOX", "Bob", "r", AclChange::Replace);
    set(&store, "INBOX", "anyone", "p", AclChange::Replace);
    set(&store, "INBOX", "-bob", "s", AclChange::Replace);
    assert_eq!(
        acl(&store, "inbox"),
        pairs(&[("-bob", "s"), ("Bob", "r"), ("anyone", "p"), ("bob", "l")])
    );
    assert_eq!(rights_of(&store, "INBOX", "bob").as_deref(), Some("lp"));
    assert_eq!(rights_of(&store, "INBOX", "Bob").as_deref(), Some("rp"));
    assert_eq!(rights_of(&store, "INBOX", "BOB").as_deref(), Some("p"));
}

#[test]
fn bad_arguments_and_missing_mailboxes_are_refused() {
    let (_d, store) = temp_store();
    for bad in ["", "-"] {
        assert!(
            matches!(
                store.set_acl("INBOX", bad, Rights::LOOKUP, AclChange::Add),
                Err(StoreError::InvalidArgument(_))
            ),
            "{bad:?}"
        );
        assert!(matches!(
            store.delete_acl("INBOX", bad),
            Err(StoreError::InvalidArgument(_))
        ));
    }
    assert!(matches!(
        store.set_acl("Nope", "bob", Rights::LOOKUP, AclChange::Add),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_acl("Nope", "bob"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.acl("Nope"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.acl("a..b"),
        Err(StoreError::InvalidName { .. })
    ));
    assert!(store.acl("INBOX").unwrap().is_empty());
}

#[test]
fn rights_of_a_missing_or_invalid_mailbox_are_none() {
    let (_d, store) = temp_store();
    set(&store, "INBOX", "anyone", "lr", AclChange::Replace);
    assert_eq!(rights_of(&store, "Nope", "bob"), None);
    assert_eq!(rights_of(&store, "a..b", "bob"), None);
    assert_eq!(rights_of(&store, "", "bob"), None);
    // INBOX in any case is INBOX.
    assert_eq!(rights_of(&store, "iNbOx", "bob").as_deref(), Some("lr"));
}

#[test]
fn anyone_and_authenticated_add_to_the_users_own_rights() {
    let (_d, store) = temp_store();
    store.create("Shared").unwrap();
    set(&store, "Shared", "anyone", "l", AclChange::Replace);
    set(&store, "Shared", "authenticated", "r", AclChange::Replace);
    set(&store, "Shared", "bob", "i", AclChange::Replace);
    set(&store, "Shared", "alice", "w", AclChange::Replace);
    assert_eq!(rights_of(&store, "Shared", "bob").as_deref(), Some("lri"));
    assert_eq!(rights_of(&store, "Shared", "alice").as_deref(), Some("lrw"));
    assert_eq!(rights_of(&store, "Shared", "carol").as_deref(), Some("lr"));
}

#[test]
fn negative_rights_take_away_what_any_positive_entry_grants() {
    let (_d, store) = temp_store();
    store.create("Shared").unwrap();
    set(&store, "Shared", "anyone", "lrs", AclChange::Replace);
    set(&store, "Shared", "bob", "lrswi", AclChange::Replace);
    set(&store, "Shared", "-bob", "w", AclChange::Replace);
    set(&store, "Shared", "-authenticated", "s", AclChange::Replace);
    set(&store, "Shared", "-anyone", "i", AclChange::Replace);
    // bob: lrswi | lrs, minus w | s | i.
    assert_eq!(rights_of(&store, "Shared", "bob").as_deref(), Some("lr"));
    // carol: lrs minus s | i; -bob is not hers.
    assert_eq!(rights_of(&store, "Shared", "carol").as_deref(), Some("lr"));
    // A negative entry that takes away l hides the mailbox from bob only.
    set(&store, "Shared", "-bob", "l", AclChange::Add);
    assert_eq!(rights_of(&store, "Shared", "bob").as_deref(), Some("r"));
    assert!(visible(&store, "bob").is_empty());
    assert_eq!(visible(&store, "carol"), pairs(&[("Shared", "lr")]));
}

#[test]
fn visible_mailboxes_are_those_with_l_inbox_first() {
    let (_d, store) = temp_store();
    for name in ["Archive", "Work", "Work.Old", "Private"] {
        store.create(name).unwrap();
    }
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "Work.Old", "authenticated", "l", AclChange::Replace);
    set(&store, "Archive", "anyone", "lrs", AclChange::Replace);
    set(&store, "INBOX", "bob", "lri", AclChange::Replace);
    // r without l: not visible to LIST.
    set(&store, "Private", "bob", "r", AclChange::Replace);
    assert_eq!(
        visible(&store, "bob"),
        pairs(&[
            ("INBOX", "lri"),
            ("Archive", "lrs"),
            ("Work", "lr"),
            ("Work.Old", "l"),
        ])
    );
    assert_eq!(
        visible(&store, "carol"),
        pairs(&[("Archive", "lrs"), ("Work.Old", "l")])
    );
    // The listing agrees with rights_of for every mailbox.
    for (name, rights) in visible(&store, "bob") {
        assert_eq!(rights_of(&store, &name, "bob"), Some(rights));
    }
    assert_eq!(rights_of(&store, "Private", "bob").as_deref(), Some("r"));
}

#[test]
fn grantees_are_the_identifiers_with_positive_rights() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "INBOX", "bob", "l", AclChange::Replace);
    set(&store, "INBOX", "alice", "p", AclChange::Replace);
    set(&store, "Work", "-carol", "l", AclChange::Replace);
    set(&store, "Work", "anyone", "l", AclChange::Replace);
    assert_eq!(store.grantees().unwrap(), ["alice", "anyone", "bob"]);
    store.delete_acl("INBOX", "alice").unwrap();
    store.delete_acl("Work", "bob").unwrap();
    // bob still has INBOX.
    assert_eq!(store.grantees().unwrap(), ["anyone", "bob"]);
}

#[test]
fn rename_keeps_the_acl_of_the_mailbox_and_its_children() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    store.create("Work.Old").unwrap();
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "Work.Old", "-anyone", "w", AclChange::Replace);
    store.rename("Work", "Job").unwrap();
    assert_eq!(acl(&store, "Job"), pairs(&[("bob", "lr")]));
    assert_eq!(acl(&store, "Job.Old"), pairs(&[("-anyone", "w")]));
    assert_eq!(rights_of(&store, "Work", "bob"), None);
    assert_eq!(rights_of(&store, "Job", "bob").as_deref(), Some("lr"));
    assert_eq!(visible(&store, "bob"), pairs(&[("Job", "lr")]));
    // A mailbox made again under the old name starts with no entries.
    store.create("Work").unwrap();
    assert!(store.acl("Work").unwrap().is_empty());
    assert_eq!(rights_of(&store, "Work", "bob").as_deref(), Some(""));
}

#[test]
fn rename_of_inbox_leaves_inbox_its_acl_and_the_new_mailbox_none() {
    let (_d, store) = temp_store();
    append(&store, "INBOX", b"Subject: x\r\n\r\nbody\r\n", &[]);
    set(&store, "INBOX", "bob", "lrp", AclChange::Replace);
    store.rename("INBOX", "Old").unwrap();
    assert_eq!(store.status("Old").unwrap().messages, 1);
    assert_eq!(store.status("INBOX").unwrap().messages, 0);
    assert_eq!(acl(&store, "INBOX"), pairs(&[("bob", "lrp")]));
    assert!(store.acl("Old").unwrap().is_empty());
    assert_eq!(rights_of(&store, "Old", "bob").as_deref(), Some(""));
    assert_eq!(visible(&store, "bob"), pairs(&[("INBOX", "lrp")]));
}

#[test]
fn delete_removes_the_acl_and_a_new_mailbox_of_the_name_has_none() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    set(&store, "Work", "bob", "lr", AclChange::Replace);
    set(&store, "Work", "anyone", "l", AclChange::Replace);
    store.delete("Work").unwrap();
    assert_eq!(rights_of(&store, "Work", "bob"), None);
    assert!(visible(&store, "bob").is_empty());
    assert!(store.grantees().unwrap().is_empty());
    store.create("Work").unwrap();
    assert!(store.acl("Work").unwrap().is_empty());
    assert_eq!(rights_of(&store, "Work", "bob").as_deref(), Some(""));
}

#[test]
fn the_acl_survives_reopening_the_store() {
    let (dir, store) = temp_store();
    set(&store, "INBOX", "bob", "lrs", AclChange::Replace);
    drop(store);
    let store = Store::open(&common::root_of(&dir)).unwrap();
    assert_eq!(acl(&store, "INBOX"), pairs(&[("bob", "lrs")]));
    assert_eq!(rights_of(&store, "INBOX", "bob").as_deref(), Some("lrs"));
}

#[test]
fn a_change_through_one_handle_is_seen_by_another_store_on_the_same_index() {
    let (dir, store) = temp_store();
    let other = Store::open(&common::root_of(&dir)).unwrap();
    // Readers of `other` are open before the change.
    assert_eq!(rights_of(&other, "INBOX", "bob").as_deref(), Some(""));
    set(&store, "INBOX", "bob", "l", AclChange::Add);
    assert_eq!(rights_of(&other, "INBOX", "bob").as_deref(), Some("l"));
}

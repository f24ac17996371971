//! The mailboxes every owner gets (Dovecot's `auto = subscribe`): created
//! and subscribed with their special-use attributes, created again after a
//! delete, nothing written when all is in place, and the user's own
//! special-use choices left alone.

#[allow(dead_code)]
mod common;

use common::temp_store;
use mailkeep_store::{AutoMailbox, Store, StoreError};

fn defaults() -> Vec<AutoMailbox> {
    [
        ("Drafts", "\\Drafts"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
        ("Junk", "\\Junk"),
    ]
    .into_iter()
    .map(|(name, attribute)| AutoMailbox {
        name: name.into(),
        attribute: attribute.into(),
    })
    .collect()
}

fn attributes(store: &Store, name: &str) -> Vec<String> {
    store.special_use(name).unwrap()
}

#[test]
fn drafts_sent_trash_and_junk_are_created_subscribed_and_marked() {
    let (_d, store) = temp_store();
    let created = store.ensure_auto_mailboxes(&defaults()).unwrap();
    assert_eq!(created, ["Drafts", "Sent", "Trash", "Junk"]);
    for (name, attribute) in [
        ("Drafts", "\\Drafts"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
        ("Junk", "\\Junk"),
    ] {
        assert_eq!(attributes(&store, name), [attribute]);
        assert!(store.root().join(format!(".{name}/cur")).is_dir());
    }
    assert_eq!(
        store.subscriptions().unwrap(),
        ["Drafts", "Junk", "Sent", "Trash"]
    );

    // All in place: nothing is created or changed.
    let before = store.status("Trash").unwrap();
    assert!(store.ensure_auto_mailboxes(&defaults()).unwrap().is_empty());
    assert_eq!(store.status("Trash").unwrap(), before);

    // Deleted and unsubscribed by the user: back at the next open, as
    // Dovecot's auto = subscribe does.
    store.delete("Trash").unwrap();
    store.unsubscribe("Junk").unwrap();
    assert_eq!(store.ensure_auto_mailboxes(&defaults()).unwrap(), ["Trash"]);
    assert_ne!(
        store.status("Trash").unwrap().uidvalidity,
        before.uidvalidity
    );
    assert!(store.subscriptions().unwrap().contains(&"Junk".to_string()));
}

#[test]
fn existing_folders_are_kept_and_the_users_special_use_stands() {
    let (_d, store) = temp_store();
    // A migrated "Sent" without attributes gets \Sent; "Junk" marked
    // \Archive by the user keeps that; \Trash already on another mailbox
    // is not put on "Trash" too.
    store.create("Sent").unwrap();
    let sent = store.status("Sent").unwrap();
    store
        .create_with_special_use("Junk", &["\\Archive"])
        .unwrap();
    store.create_with_special_use("Bin", &["\\Trash"]).unwrap();
    let created = store.ensure_auto_mailboxes(&defaults()).unwrap();
    assert_eq!(created, ["Drafts", "Trash"]);
    assert_eq!(store.status("Sent").unwrap().mailbox_id, sent.mailbox_id);
    assert_eq!(attributes(&store, "Sent"), ["\\Sent"]);
    assert_eq!(attributes(&store, "Junk"), ["\\Archive"]);
    assert!(attributes(&store, "Trash").is_empty());
    assert_eq!(attributes(&store, "Bin"), ["\\Trash"]);
}

#[test]
fn a_bad_auto_mailbox_is_refused_before_anything_is_made() {
    let (_d, store) = temp_store();
    let mut wanted = defaults();
    wanted.push(AutoMailbox {
        name: "Odd".into(),
        attribute: "\\Bogus".into(),
    });
    assert!(matches!(
        store.ensure_auto_mailboxes(&wanted),
        Err(StoreError::UseAttr { .. })
    ));
    assert_eq!(store.list().unwrap().len(), 1, "only INBOX");
}

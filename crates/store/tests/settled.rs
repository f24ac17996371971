//! Settled reads answer only when no scan is needed: right after an
//! outside change they decline (the ordinary read then syncs), and they
//! decline message lists of big mailboxes.

#[allow(dead_code)]
mod common;

use common::{root_of, temp_store};
use mailkeep_store::UidRange;

#[test]
fn a_settled_read_declines_after_an_outside_change_until_a_sync() {
    let (dir, store) = temp_store();
    common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
    // The ordinary read syncs and leaves a reader in the pool.
    let before = store.status("INBOX").unwrap();
    let settled = store.status_if_settled("INBOX").unwrap();
    assert_eq!(settled.map(|s| s.messages), Some(before.messages));
    let uv = before.uidvalidity;
    let fetched = store
        .fetch_if_settled("INBOX", uv, &[UidRange::all()])
        .unwrap();
    assert_eq!(fetched.map(|m| m.len()), Some(1));
    let changes = store.changes_if_settled("INBOX", uv, 0).unwrap();
    assert_eq!(changes.map(|c| c.changed.len()), Some(1));
    let selected = store.select_if_settled("INBOX").unwrap();
    assert_eq!(selected, Some(store.select("INBOX").unwrap()));

    // Another program drops a message in: the settled reads decline...
    std::fs::write(
        root_of(&dir).join("new").join("outside.1"),
        b"Subject: b\r\n\r\ntwo\r\n",
    )
    .unwrap();
    assert!(store.status_if_settled("INBOX").unwrap().is_none());
    assert!(
        store
            .fetch_if_settled("INBOX", uv, &[UidRange::all()])
            .unwrap()
            .is_none()
    );
    assert!(store.changes_if_settled("INBOX", uv, 0).unwrap().is_none());
    assert!(store.select_if_settled("INBOX").unwrap().is_none());
    // ...the ordinary read picks it up, and then they answer again.
    assert_eq!(store.status("INBOX").unwrap().messages, 2);
    assert_eq!(
        store
            .status_if_settled("INBOX")
            .unwrap()
            .map(|s| s.messages),
        Some(2)
    );
}

#[test]
fn settled_reads_keep_their_errors() {
    let (_dir, store) = temp_store();
    let uv = store.status("INBOX").unwrap().uidvalidity;
    assert!(matches!(
        store.status_if_settled("Nope"),
        Err(mailkeep_store::StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.fetch_if_settled("INBOX", uv + 1, &[UidRange::all()]),
        Err(mailkeep_store::StoreError::UidValidityChanged { .. })
    ));
}

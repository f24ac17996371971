//! The POP3 maildrop: sizes as served, UIDLs kept from a Dovecot
//! uidlist's `P` fields, QUIT's removal of exactly the listed messages,
//! and the per-owner session lock; and a fetched row's file opened
//! without a second lookup.

#[allow(dead_code)]
mod common;

use std::fs;

use common::{append, root_of, temp_store};
use std::io::Read;

use mailkeep_store::{INBOX, MaildropFile, Store, StoreError, StoreMode, UidRange};

#[test]
fn maildrop_lists_every_message_with_its_served_size() {
    let (_dir, store) = temp_store();
    let a = append(&store, INBOX, b"Subject: a\r\n\r\nbody\r\n", &[]);
    // Bare LFs are served as CRLF: the size counts them so.
    let b = append(&store, INBOX, b"Subject: b\n\nline\n", &["\\Seen"]);
    let drop = store.maildrop(INBOX).unwrap();
    assert_eq!(drop.uidvalidity, a.uidvalidity);
    let got: Vec<(u32, u64, Option<String>)> = drop
        .messages
        .iter()
        .map(|m| (m.uid, m.size, m.uidl.clone()))
        .collect();
    assert_eq!(got, vec![(a.uid, 20, None), (b.uid, 20, None)]);
}

/// A settled maildrop is listed as the ordinary read lists it; one whose
/// folder has mail no read has seen yet is not listed that way (the
/// ordinary read picks the mail up first).
#[test]
fn a_settled_maildrop_is_listed_at_once_and_an_unsettled_one_is_not() {
    let (dir, store) = temp_store();
    append(&store, INBOX, b"Subject: a\r\n\r\nbody\r\n", &[]);
    let listed = store.maildrop(INBOX).unwrap();
    assert_eq!(store.maildrop_if_settled(INBOX).unwrap(), Some(listed));
    // Another program delivers into new/.
    let new = root_of(&dir).join("new");
    fs::write(new.join("1700000000.M1P1.host"), "Subject: b\r\n\r\nx\r\n").unwrap();
    assert_eq!(store.maildrop_if_settled(INBOX).unwrap(), None);
    assert_eq!(store.maildrop(INBOX).unwrap().messages.len(), 2);
}

/// Three small messages appended to INBOX; their UIDs.
fn append_three(store: &Store) -> Vec<u32> {
    (0..3)
        .map(|i| {
            append(
                store,
                INBOX,
                format!("Subject: {i}\r\n\r\nx\r\n").as_bytes(),
                &[],
            )
            .uid
        })
        .collect()
}

/// The text of a listed message's file, opened as RETR opens it.
fn read(store: &Store, file: &MaildropFile) -> String {
    let mut text = String::new();
    store
        .open_maildrop_file(INBOX, file)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn maildrop_files_come_in_the_order_asked_from_one_listing() {
    let (_dir, store) = temp_store();
    let uids = append_three(&store);
    let uidvalidity = store.maildrop(INBOX).unwrap().uidvalidity;
    // An unknown UID is left out; the order is the caller's.
    let asked = [uids[2], 999, uids[0]];
    let files = store.maildrop_files(INBOX, uidvalidity, &asked).unwrap();
    let got: Vec<(u32, u64)> = files.iter().map(|f| (f.uid, f.size)).collect();
    assert_eq!(got, vec![(uids[2], 17), (uids[0], 17)]);
    assert_eq!(read(&store, &files[0]), "Subject: 2\r\n\r\nx\r\n");
    assert!(
        store
            .maildrop_files(INBOX, uidvalidity, &[])
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.maildrop_files(INBOX, uidvalidity + 1, &uids),
        Err(StoreError::UidValidityChanged { .. })
    ));
}

#[test]
fn a_listed_file_renamed_since_is_found_and_an_expunged_one_is_reported() {
    let (_dir, store) = temp_store();
    let a = append(&store, INBOX, b"Subject: a\r\n\r\nbody a\r\n", &[]);
    let b = append(&store, INBOX, b"Subject: b\r\n\r\nbody b\r\n", &[]);
    let files = store
        .maildrop_files(INBOX, a.uidvalidity, &[a.uid, b.uid])
        .unwrap();
    // A flag change renames a's file; b is removed.
    store
        .store_flags(
            INBOX,
            a.uidvalidity,
            &[UidRange::single(a.uid)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    assert!(!files[0].path.exists(), "the flag change renamed the file");
    store.remove_listed(INBOX, b.uidvalidity, &[b.uid]).unwrap();
    assert_eq!(read(&store, &files[0]), "Subject: a\r\n\r\nbody a\r\n");
    assert!(matches!(
        store.open_maildrop_file(INBOX, &files[1]),
        Err(StoreError::Expunged { .. })
    ));
}

#[test]
fn remove_listed_removes_exactly_those_messages_whatever_their_flags() {
    let (dir, store) = temp_store();
    let uids = append_three(&store);
    let uidvalidity = store.maildrop(INBOX).unwrap().uidvalidity;
    let gone = store
        .remove_listed(INBOX, uidvalidity, &[uids[0], uids[2], 999])
        .unwrap();
    assert_eq!(gone.uids, vec![uids[0], uids[2]]);
    let left: Vec<u32> = store
        .maildrop(INBOX)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, vec![uids[1]]);
    let files = fs::read_dir(root_of(&dir).join("cur")).unwrap().count();
    assert_eq!(files, 1, "the removed messages' files are gone");
    // A store opened afresh (another process) agrees.
    let again = Store::open(&root_of(&dir)).unwrap();
    assert_eq!(again.maildrop(INBOX).unwrap().messages.len(), 1);
}

#[test]
fn remove_listed_with_a_stale_uidvalidity_removes_nothing() {
    let (_dir, store) = temp_store();
    let a = append(&store, INBOX, b"Subject: a\r\n\r\nx\r\n", &[]);
    let err = store
        .remove_listed(INBOX, a.uidvalidity.wrapping_add(1), &[a.uid])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UidValidityChanged { .. }),
        "{err:?}"
    );
    assert_eq!(store.maildrop(INBOX).unwrap().messages.len(), 1);
}

#[test]
fn the_session_lock_is_exclusive_until_dropped_across_handles() {
    let (dir, store) = temp_store();
    let other = Store::open(&root_of(&dir)).unwrap();
    let held = store.lock_maildrop().unwrap().expect("first lock");
    assert!(other.lock_maildrop().unwrap().is_none(), "held elsewhere");
    assert!(
        store.lock_maildrop().unwrap().is_none(),
        "held by this handle too"
    );
    drop(held);
    assert!(other.lock_maildrop().unwrap().is_some(), "released");
}

#[test]
fn uidls_of_a_dovecot_uidlist_are_kept_at_import() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    let names = ["1700000000.M1P1.host", "1700000001.M2P1.host"];
    for name in names {
        fs::write(
            root.join("cur").join(format!("{name}:2,S")),
            "Subject: x\r\n\r\nx\r\n",
        )
        .unwrap();
    }
    fs::write(
        root.join("dovecot-uidlist"),
        format!(
            "3 V1500000000 N9 G00\n7 Pfrom-old-server-1 :{}:2,S\n8 W17 :{}:2,S\n",
            names[0], names[1]
        ),
    )
    .unwrap();
    let store = Store::open(&root).unwrap();
    let drop = store.maildrop(INBOX).unwrap();
    assert_eq!(drop.uidvalidity, 1_500_000_000);
    let got: Vec<(u32, Option<&str>)> = drop
        .messages
        .iter()
        .map(|m| (m.uid, m.uidl.as_deref()))
        .collect();
    assert_eq!(got, vec![(7, Some("from-old-server-1")), (8, None)]);
}

#[test]
fn a_fetched_message_opens_from_its_row_even_after_a_rename_and_not_after_an_expunge() {
    let (_dir, store) = temp_store();
    let a = append(&store, INBOX, b"Subject: a\r\n\r\nbody a\r\n", &[]);
    let b = append(&store, INBOX, b"Subject: b\r\n\r\nbody b\r\n", &[]);
    let rows = store
        .fetch(INBOX, a.uidvalidity, &[UidRange::new(a.uid, b.uid)])
        .unwrap();
    assert_eq!(rows.len(), 2);
    let text = |mut f: fs::File| {
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    };
    // Straight from the row, before anything changed.
    let (file, meta) = store.open_listed(INBOX, &rows[1]).unwrap();
    assert_eq!(text(file), "Subject: b\r\n\r\nbody b\r\n");
    assert_eq!(meta, rows[1]);
    // A flag change renames a's file: found afresh, with the fresh row.
    store
        .store_flags(
            INBOX,
            a.uidvalidity,
            &[UidRange::single(a.uid)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    let (file, fresh) = store.open_listed(INBOX, &rows[0]).unwrap();
    assert_eq!(text(file), "Subject: a\r\n\r\nbody a\r\n");
    assert!(fresh.flags.names().iter().any(|f| f == "\\Seen"));
    // b is expunged: its row opens nothing.
    store.remove_listed(INBOX, b.uidvalidity, &[b.uid]).unwrap();
    assert!(matches!(
        store.open_listed(INBOX, &rows[1]),
        Err(StoreError::Expunged { .. })
    ));
}

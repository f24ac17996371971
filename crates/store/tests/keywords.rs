//! Keywords are case-insensitive (RFC 9051 §2.3.2): one keyword whatever
//! the case a client uses, kept in the spelling first seen in the mailbox.

#[allow(dead_code)]
mod common;

use mailkeep_store::{Store, StoreMode, UidRange};

fn append(store: &Store, flags: &[&str]) -> u32 {
    common::append(store, "INBOX", b"Subject: k\r\n\r\nk\r\n", flags).uid
}

fn keywords_of(store: &Store, uid: u32) -> Vec<String> {
    let selected = store.select("INBOX").unwrap();
    let m = selected.messages.iter().find(|m| m.uid == uid).unwrap();
    m.flags.keywords.iter().cloned().collect()
}

#[test]
fn keywords_match_whatever_their_case() {
    let (_dir, store) = common::temp_store();
    let first = append(&store, &["$Junk"]);
    let second = append(&store, &["$JUNK", "Important"]);
    assert_eq!(keywords_of(&store, second), ["$Junk", "Important"]);

    let selected = store.select("INBOX").unwrap();
    assert_eq!(
        selected.keywords,
        ["$Junk", "Important"],
        "one keyword per name"
    );
    let before = selected.messages[0].modseq;

    // Adding the same keyword in another case changes nothing.
    let all = [UidRange::new(1, u32::MAX)];
    let uv = selected.status.uidvalidity;
    let stored = store
        .store_flags(
            "INBOX",
            uv,
            &[UidRange::single(first)],
            StoreMode::Add,
            &["$junk"],
            None,
        )
        .unwrap();
    assert!(stored.updated.is_empty(), "no change expected: {stored:?}");
    assert_eq!(store.select("INBOX").unwrap().messages[0].modseq, before);

    // Removing it in yet another case removes it from both messages.
    store
        .store_flags(
            "INBOX",
            uv,
            &all,
            StoreMode::Remove,
            &["$jUnK", "important"],
            None,
        )
        .unwrap();
    assert!(keywords_of(&store, first).is_empty());
    assert!(keywords_of(&store, second).is_empty());

    // Copies into another mailbox take that mailbox's spelling.
    store.create("Other").unwrap();
    common::append(&store, "Other", b"x\r\n", &["$junk"]);
    store
        .store_flags(
            "INBOX",
            uv,
            &[UidRange::single(first)],
            StoreMode::Add,
            &["$Junk"],
            None,
        )
        .unwrap();
    store
        .copy_messages("INBOX", uv, &[UidRange::single(first)], "Other")
        .unwrap();
    assert_eq!(store.select("Other").unwrap().keywords, ["$junk"]);
}

//! Keywords are case-insensitive (RFC 9051 §2.3.2): one keyword whatever
//! the case a client uses, kept in the spelling first seen in the mailbox.

#[allow(dead_code)]
mod common;

use mailkeep_store::{MAX_KEYWORDS, Store, StoreError, StoreMode, UidRange};

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

/// A mailbox defines at most `MAX_KEYWORDS` keywords: past it a new one
/// is refused (`NO [LIMIT]` over IMAP) by STORE and APPEND alike, while
/// the keywords it has go on being set, and another mailbox has its own.
/// Without the bound a client could make every SELECT list thousands.
#[test]
fn a_mailbox_defines_a_bounded_number_of_keywords() {
    let (_dir, store) = common::temp_store();
    let uid = append(&store, &[]);
    let uv = store.status("INBOX").unwrap().uidvalidity;
    let max = usize::try_from(MAX_KEYWORDS).unwrap();
    let names: Vec<String> = (0..max).map(|i| format!("k{i}")).collect();
    for chunk in names.chunks(100) {
        store
            .store_flags(
                "INBOX",
                uv,
                &[UidRange::single(uid)],
                StoreMode::Add,
                chunk,
                None,
            )
            .unwrap();
    }
    assert_eq!(store.select("INBOX").unwrap().keywords.len(), max);
    let over = store.store_flags(
        "INBOX",
        uv,
        &[UidRange::single(uid)],
        StoreMode::Add,
        &["k0", "one-more"],
        None,
    );
    assert!(matches!(over, Err(StoreError::Limit { .. })), "{over:?}");
    let body = b"Subject: x\r\n\r\nx\r\n";
    let flags = mailkeep_store::Flags::parse(&["one-more"]).unwrap();
    let refused = store
        .begin_append("INBOX", flags, None, body.len() as u64)
        .and_then(|mut w| {
            w.write(body)?;
            w.commit()
        });
    assert!(
        matches!(refused, Err(StoreError::Limit { .. })),
        "{refused:?}"
    );
    // What is defined can still be set, on another message too.
    let other = append(&store, &["k5", "K7"]);
    assert_eq!(keywords_of(&store, other), ["k5", "k7"]);
    assert_eq!(store.select("INBOX").unwrap().keywords.len(), max);
    store.create("Other").unwrap();
    common::append(&store, "Other", b"Subject: y\r\n\r\ny\r\n", &["one-more"]);
}
